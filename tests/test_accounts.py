"""Accounts: the key (account_of), the accounts: section and table, max_calls / max_cps on stub calls."""

import os

import pytest

from fsroute import route
from fsroute.core import loader
from fsroute.core.accounts import account_of, limits_of, parse_table
from fsroute.core.model import Accounts, Capacity, RulesError
from fsroute.runtime.process import store_for
from meanwhile import when_set
from test_gateway_health import Clock

ACCOUNT_RULES = """\
version: 1
accounts:
  key: accountcode
  max_calls: 2
  max_cps: '3/10'
  accounts:
    big: {max_calls: 5}
routes:
  - name: out
    match: {destination_number: '^(\\d+)$'}
    gateway: gw1
"""


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return fake_freeswitch


def test_the_key_is_a_variable_an_acl_node_or_the_source_and_unknown_without_one():
    rules = loader.parse("""\
version: 1
acls:
  peers: {default: deny, nodes: [{allow: 10.0.0.0/8}, {allow: 10.1.0.0/16}, {deny: 10.2.0.0/16}]}
accounts: {key: {acl: peers}, unknown: nobody}
routes: [{name: r, gateway: gw1}]
""")
    of = lambda source: account_of(rules.accounts, {"network_addr": source}.get, rules.acls)  # noqa: E731
    assert of("10.1.2.3") == "10.1.0.0/16"  # the node that decides: the longest prefix
    assert of("10.9.9.9") == "10.0.0.0/8"
    assert of("10.2.0.1") == "nobody" and of("192.0.2.1") == "nobody" and of(None) == "nobody"
    by_header = Accounts(variable="sip_h_X-Account")
    assert account_of(by_header, {"sip_h_X-Account": "acme"}.get, {}) == "acme"
    assert account_of(by_header, {"sip_h_X-Account": "a b"}.get, {}) == "unknown"  # would inject limit args
    assert account_of(by_header, {}.get, {}) == "unknown"
    assert account_of(Accounts(), {"sip_network_ip": "192.0.2.7"}.get, {}) == "192.0.2.7"


def test_accounts_section_defaults_overrides_and_problems(tmp_path):
    rules = loader.parse(ACCOUNT_RULES)
    accounts = rules.accounts
    assert (accounts.variable, accounts.unknown) == ("accountcode", "unknown")
    assert limits_of(accounts, {}, "small") == Capacity(2, (3, 10))
    assert limits_of(accounts, {}, "big") == Capacity(5, (3, 10))  # max_cps from the defaults
    assert limits_of(accounts, {"t": Capacity(9, None)}, "t") == Capacity(9, None)
    assert loader.parse("version: 1\nroutes: [{name: r, gateway: gw1}]\n").accounts is None
    with pytest.raises(RulesError) as caught:
        loader.parse("""\
version: 1
defaults: {on_over_limit: continue}
accounts:
  key: 'accountcode x'
  max_cps: 0
  acounts: {}
routes: [{name: r, gateway: gw1}]
""", "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:3:1: defaults.on_over_limit must hang up ({hangup: CAUSE}): FreeSWITCH's limit application "
        "ends the call it refuses",
        "r.yaml:4:8: accounts key 'accountcode x' is not valid (a channel variable such as accountcode or "
        "sip_h_X-Account, 'source', or {acl: NAME})",
        "r.yaml:5:12: accounts max_cps must be calls per second (a whole number) or 'CALLS/SECONDS'",
        "r.yaml:6:3: accounts: unknown key 'acounts' (did you mean 'accounts'?)",
    ]


def test_the_table_fills_in_from_the_defaults_and_reports_bad_rows():
    base = Capacity(2, (1, 1))
    assert parse_table("account,max_calls,max_cps\nacme,10,5/2\nlow,,\n\n", "a.csv", base) == ({
        "acme": Capacity(10, (5, 2)), "low": Capacity(2, (1, 1))}, {})
    with pytest.raises(RulesError) as caught:
        parse_table("account,max_calls,max_cps\na b,1,1\nok,0,1\nok2,1,x\nok3,1\nok,1,1\n", "a.csv", base)
    assert [str(p) for p in caught.value.problems] == [
        "a.csv:2:1: account 'a b': letters, digits and _ . @ + : / - only (at most 64)",
        "a.csv:3:1: account ok: max_calls '0' must be a whole number from 1 to 1000000",
        "a.csv:4:1: account ok2: max_cps 'x' must be CALLS or CALLS/SECONDS",
        "a.csv:5:1: expected 3 columns (account,max_calls,max_cps), found 2",
    ]
    with pytest.raises(RulesError):
        parse_table("name,calls\n", "a.csv", base)


def test_over_max_calls_the_switch_refuses_with_on_over_limit_until_a_call_ends(switch, write_rules,
                                                                              stub_session):
    path = write_rules(ACCOUNT_RULES.replace("  max_cps: '3/10'\n", ""))
    held = [stub_session({"destination_number": "5551000", "accountcode": "acme"}, stay_up=True) for _ in range(3)]
    for session in held:
        route.handler(session, path)
    assert [s.variables.get("fsroute_result") for s in held] == ["bridged", "bridged", "over_limit"]
    refused = held[2]
    assert refused.hangup_cause == "NORMAL_CIRCUIT_CONGESTION" and refused.bridges == []
    assert refused.variables["fsroute_account"] == "acme"
    assert ("limit", "hash fsroute fsroute.acct.acme 2 !NORMAL_CIRCUIT_CONGESTION") in refused.executed
    other = stub_session({"destination_number": "5551000", "accountcode": "other"}, stay_up=True)
    route.handler(other, path)  # another account has its own count
    assert other.variables["fsroute_result"] == "bridged"
    held[0].hangup()  # released at hangup by the backend, whatever fsroute does
    again = stub_session({"destination_number": "5551000", "accountcode": "acme"})
    route.handler(again, path)
    assert again.variables["fsroute_result"] == "bridged"
    assert switch.limits.counts[("hash", "fsroute_fsroute.acct.acme")] == 2


def test_over_max_cps_refused_at_the_right_call_and_admitted_in_the_next_window(switch, write_rules, call):
    path = write_rules(ACCOUNT_RULES.replace("  max_calls: 2\n", ""))
    switch.limits.clock = clock = Clock()
    results = [call(path, "5551000", accountcode="acme").variables["fsroute_result"] for _ in range(4)]
    assert results == ["bridged"] * 3 + ["over_limit"]
    assert call(path, "5551000", accountcode="other").variables["fsroute_result"] == "bridged"
    clock.now += 10
    assert call(path, "5551000", accountcode="acme").variables["fsroute_result"] == "bridged"


def test_a_refused_call_is_logged_with_its_account_and_a_call_not_dialled_is_not_counted(switch, write_rules,
                                                                                       call):
    path = write_rules(ACCOUNT_RULES.replace("'^(\\d+)$'", "'^(5\\d+)$'"))
    for _ in range(5):
        assert call(path, "9999", accountcode="acme").variables["fsroute_result"] == "no_route"
    assert not any(key[1].startswith("fsroute_fsroute.acct") for key in switch.limits.counts)
    switch.limits.clock = Clock()
    for _ in range(3):
        call(path, "5551000", accountcode="acme")
    refused = call(path, "5551000", accountcode="acme")
    assert refused.variables["fsroute_result"] == "over_limit"
    line = [m for level, m in switch.logs if "over_limit" in m][-1]
    assert "account acme: over its max_cps" in line


@pytest.mark.parametrize("rules", [ACCOUNT_RULES, ACCOUNT_RULES.replace("  max_cps: '3/10'\n", "")])
def test_a_caller_who_hangs_up_before_admission_is_not_over_limit(switch, write_rules, rules):
    # the limits found a channel its caller had hung up: no limit refused the call, and the record
    # says the caller left (it said over_limit, over its max_cps or max_calls)
    path = write_rules(rules)
    leaves_now = when_set("fsroute_account", lambda session: session.hangup("ORIGINATOR_CANCEL"))
    session = leaves_now({"destination_number": "5551000", "accountcode": "acme"}, fake=switch)
    route.handler(session, path)
    assert session.bridges == []
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("failed", "ORIGINATOR_CANCEL")
    line = [m for _, m in switch.logs if "fsroute uuid=%s" % session.uuid in m][-1]
    assert "caller hung up" in line and "over its" not in line


def test_hiredis_failure_refuses_the_call_as_a_backend_error(switch, write_rules, call):
    path = write_rules(ACCOUNT_RULES.replace("version: 1\n", "version: 1\ndefaults:\n  limits: {backend: hiredis}\n"))
    switch.limits.redis_up = False
    refused = call(path, "5551000", accountcode="acme")
    assert (refused.variables["fsroute_result"], refused.hangup_cause) == ("over_limit", "NORMAL_CIRCUIT_CONGESTION")
    assert "account acme: its limit backend failed" in [m for _, m in switch.logs if "over_limit" in m][-1]
    switch.limits.ignore_connect_fail = True  # the hiredis profile fails open
    assert call(path, "5551000", accountcode="acme").variables["fsroute_result"] == "bridged"


def test_the_table_is_read_with_the_generation_and_a_change_reloads(switch, write_rules, tmp_path, call):
    table = tmp_path / "accounts.csv"
    table.write_text("account,max_calls,max_cps\nacme,1,\n")
    path = write_rules(ACCOUNT_RULES.replace("  accounts:\n", "  table: accounts.csv\n  accounts:\n"))
    store = store_for(path)
    assert store.current().account_table[0] == {"acme": Capacity(1, (3, 10))}
    table.write_text("account,max_calls,max_cps\nacme,4,\nbeta,1,1\n")
    os.utime(str(table), (1, 1))  # old enough: not being written
    generation = store.reload()
    assert generation.account_table[0]["acme"] == Capacity(4, (3, 10))
    table.write_text("account,max_calls,max_cps\nacme,zero,\n")
    os.utime(str(table), (2, 2))
    with pytest.raises(RulesError):
        store.reload()
    assert store.current() is generation  # the last good table stays in force
