"""Cost-ranked least-cost routing and margin protection: expected call cost, sell decks, min_margin, no_margin."""

import datetime

import pytest

from fsroute.core import lcr, loader
from fsroute.core.model import Action, Defaults, Outcome, RulesError, action_for
from fsroute.runtime import process

JAN = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp())

RULES = """\
version: 1
defaults: {status_ttl: 60}
carriers:
  cheap_rate: {deck: cheap_rate.csv, gateway: gw_fee}
  flat: {deck: flat.csv, gateway: gw_flat}
  late: {deck: late.csv, gateway: gw_late}
sell_decks:
  retail: sell_retail.csv
  wholesale: sell_wholesale.csv
routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr:
      carriers: [cheap_rate, flat, late]
      sell: {default: retail}
      min_margin: {amount: 0.02}
      on_no_margin: {hangup: CALL_REJECTED}
  - name: short calls
    match: {destination_number: '^01(\\d+)$'}
    number: '$1'
    lcr:
      carriers: [cheap_rate, flat, late]
      expected_seconds: 10
"""
# cheap_rate has the lowest rate but a connect fee and 60/60 billing; flat bills by the second.
CHEAP_RATE = "prefix,rate,connect_fee,increments\n49,0.010,0.050,60/60\n44,0.010,,\n"
FLAT = "prefix,rate\n49,0.020\n44,0.010\n"
LATE = "prefix,rate,increments\n49,0.019,60/6\n"
SELL_RETAIL = "prefix,rate\n49,0.050\n44,0.012\n"
SELL_WHOLESALE = "prefix,rate\n49,0.021\n"


@pytest.fixture
def margin_rules(tmp_path, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw_fee", "gw_flat", "gw_late"])
    for name, text in (("cheap_rate.csv", CHEAP_RATE), ("flat.csv", FLAT), ("late.csv", LATE),
                       ("sell_retail.csv", SELL_RETAIL), ("sell_wholesale.csv", SELL_WHOLESALE)):
        (tmp_path / name).write_text(text)
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return str(path)


def ranked(generation, route, number):
    spec = generation.rules.routes[route].lcr
    quotes = lcr.rank(spec.carriers, generation.deck_of, number, JAN, lcr.call_length(spec).seconds).quotes
    return [(q.carrier.name, q.cost) for q in quotes]


def gateways(session):
    return [data.split("/")[2] for app, data in session.executed if app == "bridge"]


# -- cost, not rate ----------------------------------------------------------------

def test_carriers_are_ranked_by_the_cost_of_the_expected_call_not_by_rate(margin_rules):
    generation = process.store_for(margin_rules).current()
    # 180 s (the default): flat 0.06; late bills 60 + 120 in 6 s steps at 0.019 = 0.057; cheap_rate 0.05 + 0.03
    assert ranked(generation, 0, "4930") == [("late", 57000), ("flat", 60000), ("cheap_rate", 80000)]
    # 10 s: flat 0.003334 (rounded up), late bills 60 s = 0.019, cheap_rate 0.05 + 0.01
    assert ranked(generation, 1, "4930") == [("flat", 3334), ("late", 19000), ("cheap_rate", 60000)]


def test_equal_costs_keep_the_order_of_carriers(margin_rules):
    generation = process.store_for(margin_rules).current()
    assert ranked(generation, 1, "4420") == [("cheap_rate", 1667), ("flat", 1667)]


def test_a_call_goes_to_the_cheapest_call_and_leaves_cost_sell_rate_and_margin(call, margin_rules):
    session = call(margin_rules, "004930", fsroute_now="2026-01-01T00:00:00Z")
    assert gateways(session) == ["gw_late"]
    variables = session.variables
    # retail sells 180 s at 0.05/min = 0.15; late costs 0.057
    assert (variables["fsroute_lcr_carrier"], variables["fsroute_lcr_rate"], variables["fsroute_lcr_cost"],
            variables["fsroute_lcr_seconds"], variables["fsroute_lcr_sell_deck"], variables["fsroute_lcr_sell_rate"],
            variables["fsroute_lcr_margin"]) == ("late", "0.019", "0.057", "180", "retail", "0.05", "0.093")


def test_the_route_event_carries_each_attempts_cost_and_margin(call, margin_rules, fake_freeswitch):
    from fsroute.runtime.events import ROUTE

    call(margin_rules, "004930", fsroute_now="2026-01-01T00:00:00Z", bridge_outcomes={"gw_late": "NORMAL_TEMPORARY_FAILURE"})
    [event] = fake_freeswitch.fired(ROUTE)
    expected = {"fsroute-attempt-1-lcr-carrier": "late", "fsroute-attempt-1-lcr-cost": "0.057",
                "fsroute-attempt-1-lcr-seconds": "180", "fsroute-attempt-1-lcr-sell-deck": "retail",
                "fsroute-attempt-1-lcr-sell-rate": "0.05", "fsroute-attempt-1-lcr-margin": "0.093",
                "fsroute-attempt-2-lcr-carrier": "flat", "fsroute-attempt-2-lcr-cost": "0.06",
                "fsroute-attempt-2-lcr-margin": "0.09"}
    assert {k: event.get(k) for k in expected} == expected


def test_explain_says_how_each_cost_was_computed(margin_rules, fake_freeswitch):
    from fsroute.tools.simulate import simulate

    report = simulate(margin_rules, "004930", explain=True, at="2026-01-01T00:00:00Z")
    assert report["explanation"][-2:] == [
        "its carriers for 4930, cheapest 180 s call first: late (prefix 49: 0.019/min x 180 s billed (60/6) = "
        "0.057), flat (prefix 49: 0.02/min x 180 s billed (1/1) = 0.06), cheap_rate (prefix 49: 0.05 + 0.01/min x "
        "180 s billed (60/60) = 0.08)",
        "sold at: sell deck retail (the route's default), prefix 49: 0.05/min x 180 s billed (1/1) = 0.15; margin "
        "late 0.093 (62.0%), flat 0.09 (60.0%), cheap_rate 0.07 (46.7%)"]


def test_fsroute_lcr_shows_cost_computation_and_margin(margin_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["lcr", margin_rules, "004930", "--at", "2026-01-01T00:00:00Z", "--sell", "wholesale"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("each carrier priced as a 180 s call (the default): connect_fee + rate x billed seconds / 60, "
                        "the seconds billed in the row's increments (initial/next; none: 1/1)")
    assert lines[2] == "sold at: sell deck wholesale (--sell), prefix 49: 0.021/min x 180 s billed (1/1) = 0.063"
    assert [line.split()[1] for line in lines[4:]] == ["late", "flat", "cheap_rate"]
    assert lines[4].split()[4:7] == ["60/6", "0", "0.057"]
    assert lines[4].endswith("(margin 0.006 (9.5%); below min_margin 0.02: not used)")
    assert lines[6].split()[4:7] == ["60/60", "0.05", "0.08"]
    assert lines[6].endswith("(margin -0.017 (-27.0%); below min_margin 0.02: not used)")


# -- margin --------------------------------------------------------------------------

def test_carriers_that_break_min_margin_are_dropped(call, margin_rules, write_rules):
    text = open(margin_rules).read().replace("min_margin: {amount: 0.02}", "min_margin: {amount: 0.0605}")
    path = write_rules(text)
    session = call(path, "004930", fsroute_now="2026-01-01T00:00:00Z", bridge_outcomes={"gw_late": "USER_BUSY"})
    # retail 0.15: late (0.093) and flat (0.09) keep 0.0605, cheap_rate (0.07) too; all three are tried
    assert gateways(session) == ["gw_late"]
    text = text.replace("amount: 0.0605", "amount: 0.071")
    path = write_rules(text, "rules2.yaml")
    session = call(path, "004930", fsroute_now="2026-01-01T00:00:00Z", bridge_outcomes={"gw_late": "NORMAL_TEMPORARY_FAILURE"})
    assert gateways(session) == ["gw_late", "gw_flat"]  # cheap_rate's 0.07 is below 0.071: dropped


def test_a_percent_minimum_is_of_the_sell_price(call, margin_rules, write_rules):
    text = open(margin_rules).read().replace("min_margin: {amount: 0.02}", "min_margin: {percent: 61}")
    path = write_rules(text)
    session = call(path, "004930", fsroute_now="2026-01-01T00:00:00Z",
                   bridge_outcomes={"gw_late": "NORMAL_TEMPORARY_FAILURE"})
    assert gateways(session) == ["gw_late"]  # flat keeps 60.0%: below 61
    assert session.variables["fsroute_result"] == "failed"


def test_only_losing_carriers_left_is_no_margin_with_its_action(call, margin_rules):
    # wholesale sells at 0.021/min: 0.063 for 180 s; the best carrier keeps 0.006, below 0.02
    session = call(margin_rules, "004930", fsroute_now="2026-01-01T00:00:00Z", fsroute_sell_deck="wholesale")
    assert gateways(session) == []
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("no_margin", "CALL_REJECTED")


def test_no_sell_price_means_no_margin_can_be_shown(call, margin_rules, fake_freeswitch):
    from fsroute.core import router
    from fsroute.core.selection import Selector

    session = call(margin_rules, "004420", fsroute_now="2026-01-01T00:00:00Z", fsroute_sell_deck="wholesale")
    assert session.variables["fsroute_result"] == "no_margin"
    generation = process.store_for(margin_rules).current()

    def decide(**variables):
        variables["destination_number"] = variables.pop("number")
        return router.decide(generation.rules, variables.get, lambda gw: True, Selector(None, ()), JAN,
                             deck_of=generation.deck_of, explain=True)

    decision = decide(number="004420", fsroute_sell_deck="wholesale")
    assert (decision.outcome, decision.detail) == ("no_margin", "sell deck wholesale has no prefix of 4420 in force")
    assert decision.reasons[-4] == (
        "its carriers for 4420, cheapest 180 s call first: cheap_rate (prefix 44: 0.01/min x 180 s billed (1/1) = "
        "0.03), flat (prefix 44: 0.01/min x 180 s billed (1/1) = 0.03)")
    assert decision.reasons[-1] == (
        "sold at: unknown, sell deck wholesale has no prefix of 4420 in force; no carrier's margin can be shown")
    assert decide(number="004930", fsroute_sell_deck="nosuch").detail == "sell deck 'nosuch' is not one of sell_decks"
    decision = decide(number="004420")  # retail sells 44 at 0.012: 0.036, 0.006 over each carrier's 0.03
    assert (decision.outcome, decision.detail) == (
        "no_margin", "every carrier breaks min_margin 0.02 (best: cheap_rate 0.006 (16.7%))")
    assert decision.reasons[-1] == "below min_margin 0.02: cheap_rate, flat"


def test_without_min_margin_the_margin_is_only_reported(call, margin_rules, write_rules):
    text = open(margin_rules).read().replace("      min_margin: {amount: 0.02}\n      on_no_margin: {hangup: CALL_REJECTED}\n", "")
    path = write_rules(text)
    session = call(path, "004930", fsroute_now="2026-01-01T00:00:00Z", fsroute_sell_deck="wholesale")
    assert gateways(session) == ["gw_late"]
    assert session.variables["fsroute_lcr_margin"] == "0.006"
    session = call(path, "004420", fsroute_now="2026-01-01T00:00:00Z", fsroute_sell_deck="wholesale")
    assert session.variables["fsroute_result"] == "bridged"
    assert "fsroute_lcr_sell_deck" not in session.variables and "fsroute_lcr_margin" not in session.variables
    assert session.variables["fsroute_lcr_cost"] == "0.03"  # set "" is unset: no sell price, no margin


def test_no_margin_takes_on_no_margin_else_what_no_carrier_takes():
    from fsroute.core.model import Lcr, Margin, Route

    def route(margin, on_no_carrier=None):
        return Route("r", 1, None, (), None, None, None, None, lcr=Lcr((), None, on_no_carrier, None, margin))

    defaults = Defaults(on_no_carrier=Action("USER_BUSY"))
    assert action_for(Outcome.NO_MARGIN, defaults, route=route(Margin(min_amount=1))) == Action("USER_BUSY")
    assert action_for(Outcome.NO_MARGIN, defaults, route=route(Margin(min_amount=1), Action(None))) == Action(None)
    own = Margin(min_amount=1, on_no_margin=Action("CALL_REJECTED"))
    assert action_for(Outcome.NO_MARGIN, defaults, route=route(own, Action(None))) == Action("CALL_REJECTED")


def test_sell_decks_are_part_of_the_generation(margin_rules, tmp_path, call):
    rules = loader.load(margin_rules)
    assert rules.deck_paths() == sorted(str(tmp_path / n) for n in (
        "cheap_rate.csv", "flat.csv", "late.csv", "sell_retail.csv", "sell_wholesale.csv"))
    generation = process.store_for(margin_rules).current()
    assert generation.deck_of(rules.sell_decks["retail"]) is not None


def test_the_grammar_checks_the_pricing_keys(write_rules):
    path = write_rules("""\
        version: 1
        carriers:
          c: {deck: c.csv, gateway: gw}
        sell_decks:
          retail: r.csv
        routes:
          - name: a
            lcr: {carriers: [c], expected_seconds: 0, sell: {default: retial, variable: 'no good'}}
          - name: b
            lcr: {carriers: [c], min_margin: {amount: -1, percent: 100}}
          - name: c
            lcr: {carriers: [c], sell: {}, min_margin: {}, on_no_margin: {hangup: NOT_A_CAUSE}}
          - name: d
            lcr: {carriers: [c], sell: {}, on_no_margin: continue}
        """)
    with pytest.raises(RulesError) as info:
        loader.load(path)
    assert [str(p).split(":", 1)[1] for p in info.value.problems] == [
        "8:44: route 'a' lcr expected_seconds must be a whole number from 1 to 86400",
        "8:63: route 'a' lcr sell default: no sell deck named 'retial' under sell_decks",
        "8:81: route 'a' lcr sell variable 'no good' is not valid (a channel variable name)",
        "10:26: route 'b' lcr: min_margin needs 'sell' (the sell deck calls are sold at)",
        "10:47: route 'b' lcr min_margin amount must be money from 0 up, like 0.005 (per expected call)",
        "10:60: route 'b' lcr min_margin percent must be a number from 0 to below 100 (of the sell price)",
        "12:48: route 'c' lcr min_margin must give amount, percent or both",
        "12:75: route 'c' lcr.on_no_margin.hangup: 'NOT_A_CAUSE' is not a FreeSWITCH hangup cause",
        "14:36: route 'd' lcr: on_no_margin needs min_margin (without one no call lacks margin)",
    ]


def test_ctl_test_says_why_a_call_has_no_margin(margin_rules, fake_freeswitch):
    from fsroute import ctl

    ctl.preload(margin_rules)
    lines = ctl.test(margin_rules, "004420", at="2026-01-01T00:00:00Z").splitlines()
    assert lines[1] == "outcome: no_margin (every carrier breaks min_margin 0.02 (best: cheap_rate 0.006 (16.7%)))"
    assert lines[5] == "why:"
    assert lines[-2:] == [
        "  sold at: sell deck retail (the route's default), prefix 44: 0.012/min x 180 s billed (1/1) = 0.036; "
        "margin cheap_rate 0.006 (16.7%), flat 0.006 (16.7%)",
        "  below min_margin 0.02: cheap_rate, flat"]


def test_check_warns_of_a_minimum_margin_without_a_default_sell_deck(margin_rules, write_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["check", margin_rules]) == 0
    assert capsys.readouterr().err == ""
    path = write_rules(open(margin_rules).read().replace("sell: {default: retail}", "sell: {variable: customer_deck}"))
    assert main(["check", "--strict", path]) == 1
    assert capsys.readouterr().err == (
        "%s:11: warning: route 'international' has min_margin but no sell default: every call that does not set "
        "${customer_deck} ends as no_margin\n" % path)


def test_a_margin_of_exactly_the_minimum_percent_keeps_it():
    # 4.9 * 100000 is 490000.00000000006 in floats: a margin of exactly 4.9 % was taken for less
    from fsroute.core.margin import keeps
    from fsroute.core.model import Margin

    for tenths in range(1, 1000):
        spec = Margin(min_percent=float("%d.%d" % divmod(tenths, 10)))
        revenue = 100000  # 0.10 in micro-units
        at_minimum = revenue - tenths * 100
        assert keeps(spec, revenue, at_minimum), spec.min_percent
        assert not keeps(spec, revenue, at_minimum + 1), spec.min_percent
