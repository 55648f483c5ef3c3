"""Per-account sell decks (issue 25 with issue 24's accounts): an account's row, or every account's default,
names the sell deck of a call that does not name one itself; the precedence, the grammar, the table."""

import os

import pytest

from fsroute.core import loader, router
from fsroute.core.accounts import limits_of, parse_table
from fsroute.core.model import Capacity, RulesError
from fsroute.core.tariff import Tariff
from fsroute.runtime.process import store_for
from test_margin import JAN

RULES = """\
version: 1
defaults: {status_ttl: 60}
carriers:
  c: {deck: c.csv, gateway: gw1}
sell_decks:
  retail: retail.csv
  wholesale: wholesale.csv
  vip: vip.csv
accounts:
  key: accountcode
  max_calls: 2
  sell_deck: retail
  table: accounts.csv
  accounts:
    acme: {sell_deck: wholesale}
routes:
  - name: intl
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr: {carriers: [c], sell: {variable: customer_deck}, min_margin: {percent: 1}}
  - name: premium
    match: {destination_number: '^09(\\d+)$'}
    number: '$1'
    lcr: {carriers: [c], sell: {default: vip}}
"""
TABLE = "account,max_calls,max_cps,sell_deck\nacme,7,,vip\ntabled,3,,vip\nplain,,,\n"
DECKS = {"c.csv": "prefix,rate\n49,0.010\n", "retail.csv": "prefix,rate\n49,0.050\n",
         "wholesale.csv": "prefix,rate\n49,0.020\n", "vip.csv": "prefix,rate\n49,0.080\n"}


@pytest.fixture
def rules_path(tmp_path, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    for name, text in dict(DECKS, **{"accounts.csv": TABLE}).items():
        (tmp_path / name).write_text(text)
        os.utime(str(tmp_path / name), (1, 1))  # old enough: not being written
    (tmp_path / "rules.yaml").write_text(RULES)
    return str(tmp_path / "rules.yaml")


def sold_from(call, path, dest, **variables):
    session = call(path, dest, fsroute_now="2026-01-01T00:00:00Z", **variables)
    assert session.variables["fsroute_result"] == "bridged"
    return session.variables["fsroute_lcr_sell_deck"]


def test_the_calls_variable_then_its_accounts_row_then_the_routes_default_then_every_accounts(call, rules_path):
    # a route without a default: the variable, else the account's inline row, its table row, every account's
    assert sold_from(call, rules_path, "00491000", accountcode="acme", customer_deck="retail") == "retail"
    assert sold_from(call, rules_path, "00491000", accountcode="acme") == "wholesale"  # inline over its table row
    assert sold_from(call, rules_path, "00491000", accountcode="tabled") == "vip"
    assert sold_from(call, rules_path, "00491000", accountcode="plain") == "retail"
    assert sold_from(call, rules_path, "00491000") == "retail"  # the unknown account
    # a route with its own default: an account's own row still wins; every account's default does not
    assert sold_from(call, rules_path, "09491000", accountcode="acme") == "wholesale"
    assert sold_from(call, rules_path, "09491000", accountcode="plain") == "vip"


def test_explain_says_where_the_sell_deck_came_from(rules_path):
    from fsroute.tools.simulate import simulate

    def sold_at(dest, account):
        lines = simulate(rules_path, dest, explain=True, at="2026-01-01T00:00:00Z", account=account)["explanation"]
        return [line for line in lines if line.startswith("sold at:")]
    assert sold_at("00491000", "acme") == [
        "sold at: sell deck wholesale (account acme's), prefix 49: 0.02/min x 180 s billed (1/1) = 0.06; margin "
        "c 0.03 (50.0%)"]
    assert sold_at("00491000", "plain")[0].startswith("sold at: sell deck retail (every account's), prefix 49:")
    assert sold_at("09491000", "plain")[0].startswith("sold at: sell deck vip (the route's default), prefix 49:")


def test_a_call_whose_account_names_no_sell_deck_and_no_default_has_no_sell_price(call, write_rules, rules_path):
    path = write_rules(RULES.replace("  sell_deck: retail\n", ""), name="r2.yaml")
    assert call(path, "00491000", accountcode="plain", fsroute_now="2026-01-01T00:00:00Z").variables[
        "fsroute_result"] == "no_margin"
    generation = store_for(path).current()
    decision = router.decide(generation.rules, {"destination_number": "00491000", "accountcode": "plain"}.get,
                             generation.is_up, generation.selector.copy(), JAN, generation.dry_run(),
                             deck_of=generation.deck_of)
    assert (decision.outcome, decision.detail) == (
        "no_margin", "no sell deck (${customer_deck} unset, account plain names none, no default)")


def test_a_row_naming_only_its_sell_deck_leaves_its_limits_to_the_table(rules_path):
    generation = store_for(rules_path).current()
    accounts = generation.rules.accounts
    assert (accounts.sell_deck, dict(accounts.sell_decks), dict(accounts.overrides)) == (
        "retail", {"acme": "wholesale"}, {})
    assert limits_of(accounts, generation.account_table.limits, "acme") == Capacity(7, None)
    assert dict(generation.account_table.sell_decks) == {"acme": "vip", "tabled": "vip"}


def test_the_grammar_and_the_table_check_the_sell_deck_names(write_rules, rules_path):
    bad = RULES.replace("  sell_deck: retail\n", "  sell_deck: nosuch\n").replace(
        "acme: {sell_deck: wholesale}", "acme: {sell_deck: wholesal, max_calls: 3}")
    with pytest.raises(RulesError) as refused:
        loader.load(write_rules(bad, name="r2.yaml"))
    assert [p.message for p in refused.value.problems] == [
        "accounts sell_deck: no sell deck named 'nosuch' under sell_decks",
        "account 'acme' sell_deck: no sell deck named 'wholesal' under sell_decks (did you mean 'wholesale'?)"]
    with pytest.raises(RulesError) as refused:
        parse_table("account,max_calls,max_cps,sell_deck\nok,1,,retail\nacme,1,,gold\n", "a.csv", Capacity(),
                    ("retail",))
    assert [str(p) for p in refused.value.problems] == [
        "a.csv:3:1: account acme: no sell deck named 'gold' under sell_decks"]
    assert parse_table("account,max_calls,max_cps\nacme,1,\n", "a.csv", Capacity()) == ({"acme": Capacity(1)}, {})


def test_check_does_not_warn_of_min_margin_when_every_account_has_a_sell_deck(rules_path, write_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["check", "--strict", rules_path]) == 0
    path = write_rules(RULES.replace("  sell_deck: retail\n", ""), name="r2.yaml")
    assert main(["check", "--strict", path]) == 1
    assert "every call that does not set ${customer_deck} and whose account's row names no sell deck ends as " \
           "no_margin" in capsys.readouterr().err


def test_replay_sells_each_call_at_its_accounts_sell_deck(rules_path):
    from fsroute.tools.cdrs import Cdr
    from fsroute.tools.replay import Replayer

    replayer = Replayer(rules_path)
    sold = [replayer.route(Cdr({"destination_number": "00491000", "accountcode": account}, JAN, 60)).sell
            for account in ("acme", "tabled", "plain")]
    assert sold == [Tariff(20000, 0, (1, 1)), Tariff(80000, 0, (1, 1)), Tariff(50000, 0, (1, 1))]


def test_fsroute_lcr_shows_an_accounts_sell_deck(rules_path, capsys):
    from fsroute.tools.cli import main

    def sold_at(*extra):
        assert main(["lcr", rules_path, "00491000", "--at", "2026-01-01T00:00:00Z"] + list(extra)) == 0
        return capsys.readouterr().out.splitlines()[2]
    assert sold_at("--account", "tabled") == "sold at: sell deck vip (account tabled's), prefix 49: 0.08/min x 180 s " \
        "billed (1/1) = 0.24"
    assert sold_at("--account", "plain").startswith("sold at: sell deck retail (every account's), prefix 49:")
    assert sold_at("--account", "acme", "--sell", "vip").startswith("sold at: sell deck vip (--sell), prefix 49:")
