"""Cost-ranked, margin-protected least-cost routing in a real FreeSWITCH, and its CDRs replayed.

The calls' CDRs, as the bundled switch's mod_cdr_csv writes them, go through ``fsroute replay``
with the same rules: every call replays to the route and first carrier it took.
"""

import os

from fsroute.tools import cdrs, replay
from fsroute.tools.cli import main

from .harness import config

MARGIN_RULES = """\
version: 1
defaults: {status_ttl: 0.5, reload_check: 0.5}
carriers:
  carrier_a: {deck: margin_a.csv, gateway: gw1}
  carrier_b: {deck: margin_b.csv, gateway: gw2}
  carrier_c: {deck: margin_c.csv, gateway: gw3}
sell_decks:
  retail: margin_sell.csv
routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr:
      carriers: [carrier_a, carrier_b, carrier_c]
      sell: {default: retail}
      min_margin: {amount: 0.001}
      on_no_margin: {hangup: CALL_REJECTED}
"""
DECKS = {
    # the lowest rate, but a connect fee and whole minutes: 0.05 + 0.03 for a 180 s call
    "margin_a.csv": "prefix,rate,connect_fee,increments\n49,0.010,0.05,60/60\n",
    "margin_b.csv": "prefix,rate\n49,0.020\n44,0.004\n",       # 0.06 for 49; 0.012 for 44
    "margin_c.csv": "prefix,rate\n49,0.025\n4930,0.001\n",     # 0.075 for 49; 0.003 for 4930
    "margin_sell.csv": "prefix,rate\n49,0.05\n44,0.003\n",     # 44 sells at 0.009: every carrier loses
}


def use_rules_with_decks(fs, rules, decks):
    """Write ``decks`` ({file name: text}) beside the switch's rules file, then put ``rules`` in force."""
    directory = os.path.dirname(fs.switch.rules_path)
    for name, text in decks.items():
        with open(os.path.join(directory, name), "w") as deck:
            deck.write(text)
    fs.use_rules(rules)


def test_calls_go_to_the_cheapest_call_keep_the_margin_and_replay_to_the_same_carriers(fs, tmp_path, capsys):
    use_rules_with_decks(fs, MARGIN_RULES, DECKS)
    calls = [fs.call(number) for number in ("0049111", "004930111", "0044111")]
    assert [c.code for c in calls] == [200, 200, 603]
    assert fs.invites() == {"gw1": 0, "gw2": 1, "gw3": 1, "gw4": 0}
    rows = [fs.cdr(c) for c in calls]
    assert [(r["fsroute_result"], r["fsroute_lcr_carrier"], r["fsroute_lcr_rate"], r["fsroute_lcr_cost"],
             r["fsroute_lcr_sell_rate"], r["fsroute_lcr_margin"]) for r in rows] == [
        ("bridged", "carrier_b", "0.02", "0.06", "0.05", "0.09"),
        ("bridged", "carrier_c", "0.001", "0.003", "0.05", "0.147"),
        ("no_margin", "", "", "", "", "")]

    # the switch's own Master.csv, this test's rows, replayed with the template it was written with
    ours = {c.call_id for c in calls}
    master = tmp_path / "Master.csv"
    with open(fs.switch.cdr_path, newline="") as source:
        lines = [line for line in source if any('"%s"' % call_id in line for call_id in ours)]
    master.write_text("".join(lines))
    template = config.cdr_template()
    replayed = list(cdrs.read(str(master), template))
    assert len(replayed) == 3
    replayer = replay.Replayer(fs.switch.rules_path)
    for cdr in replayed:
        took = replay.recorded(cdr)
        again = replayer.route(cdr)
        assert (again.result, again.route, again.carrier) == (took.result, took.route, took.carrier)
    assert main(["replay", str(master), "--rules", fs.switch.rules_path, "--template", template, "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "rules: %s against what the calls recorded" % fs.switch.rules_path
    assert out[2] == "route or first carrier changes: 0 calls"
    assert out[3] == "new rules would not route: 1 calls (no_margin 1), 0 of them answered"


ACCOUNT_RULES = MARGIN_RULES.replace("  retail: margin_sell.csv\n", """\
  retail: margin_sell.csv
  wholesale: margin_wholesale.csv
  loss: margin_loss.csv
accounts:
  key: sip_h_X-Account
  accounts:
    acme: {sell_deck: wholesale}
    cheapo: {sell_deck: loss}
""")
ACCOUNT_DECKS = dict(DECKS, **{
    "margin_wholesale.csv": "prefix,rate\n49,0.021\n",   # 0.063 for 180 s: 0.003 over carrier_b's 0.06
    "margin_loss.csv": "prefix,rate\n49,0.010\n",        # 0.03: below every carrier's cost
})


def test_an_accounts_sell_deck_prices_its_calls_and_can_leave_them_without_margin(fs):
    use_rules_with_decks(fs, ACCOUNT_RULES, ACCOUNT_DECKS)
    calls = [fs.call("0049111", headers=[("X-Account", account)]) for account in ("acme", "other", "cheapo")]
    assert [c.code for c in calls] == [200, 200, 603]
    rows = [fs.cdr(c) for c in calls]
    assert [(r["fsroute_result"], r["fsroute_lcr_carrier"], r["fsroute_lcr_cost"], r["fsroute_lcr_sell_rate"],
             r["fsroute_lcr_margin"]) for r in rows] == [
        ("bridged", "carrier_b", "0.06", "0.021", "0.003"),   # acme's own deck
        ("bridged", "carrier_b", "0.06", "0.05", "0.09"),     # no row: the route's default
        ("no_margin", "", "", "", "")]                         # cheapo's deck sells below every carrier


def test_a_carrier_leaving_exactly_the_minimum_percent_is_used(fs):
    # 4.9 % of 0.10 is 0.0049: it was compared in floats (4.9 * 100000 = 490000.00000000006) and the
    # call refused no_margin
    rules = MARGIN_RULES.replace("carriers: [carrier_a, carrier_b, carrier_c]", "carriers: [carrier_a]\n"
                                 "      expected_seconds: 60").replace("{amount: 0.001}", "{percent: 4.9}")
    use_rules_with_decks(fs, rules, dict(DECKS, **{"margin_a.csv": "prefix,rate\n49,0.0951\n",
                                                   "margin_sell.csv": "prefix,rate\n49,0.10\n"}))
    call = fs.call("0049111")
    assert call.code == 200
    row = fs.cdr(call)
    assert (row["fsroute_result"], row["fsroute_lcr_cost"], row["fsroute_lcr_margin"]) == ("bridged", "0.0951", "0.0049")
