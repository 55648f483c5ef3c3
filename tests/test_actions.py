"""Route actions other than a bridge: hangup (blocked), transfer (transferred), continue (continued)."""

import pytest

from fsroute.core.loader import parse
from fsroute.core.model import RulesError

ACTIONS = """\
    version: 1
    routes:
      - name: premium
        match: {destination_number: '^1900\\d{7}$'}
        hangup: CALL_REJECTED
      - name: to ivr
        match: {destination_number: '^8(\\d{3})$'}
        transfer: '$1 XML ivr'
      - name: plain transfer
        match: {destination_number: '^6000$'}
        transfer: operator
      - name: leave it
        match: {destination_number: '^7'}
        continue: true
      - name: out
        match: {destination_number: '^(\\d+)$'}
        gateway: gw1
"""


@pytest.fixture
def rules_path(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    return write_rules(ACTIONS)


def log_line(fake, session):
    lines = [m for m in fake.log_lines("info") if m.startswith("fsroute uuid=%s " % session.uuid)]
    assert len(lines) == 1
    return lines[0]


def test_a_hangup_route_blocks_with_its_cause_and_never_bridges(call, rules_path, fake_freeswitch):
    session = call(rules_path, "19001234567")
    assert session.hangup_cause == "CALL_REJECTED"
    assert [app for app, _ in session.executed] == []
    assert session.variables["fsroute_result"] == "blocked"
    assert session.variables["fsroute_route"] == "premium"
    assert log_line(fake_freeswitch, session).startswith(
        "fsroute uuid=%s result=blocked route=premium number=- tried=- hangup=CALL_REJECTED " % session.uuid)


def test_a_transfer_route_transfers_with_its_captures(call, rules_path, fake_freeswitch):
    session = call(rules_path, "8123")
    assert session.executed == [("transfer", "123 XML ivr")]
    assert session.hangup_cause is None
    assert session.variables["fsroute_result"] == "transferred"
    assert session.variables["fsroute_number"] == "123"
    assert "result=transferred route=\"to ivr\" number=123 " in log_line(fake_freeswitch, session)
    assert call(rules_path, "6000").executed == [("transfer", "operator")]


def test_a_transfer_extension_fills_in_the_calls_variables(call, write_rules):
    # it loaded with ${var} (the number's template) but was filled without the call's variables: ''
    path = write_rules("version: 1\nroutes:\n  - name: voicemail\n    match: {destination_number: '^\\*98(\\d+)$'}"
                       "\n    transfer: '${vm_prefix}$1 XML voicemail'\n")
    session = call(path, "*981001", vm_prefix="77")
    assert session.executed == [("transfer", "771001 XML voicemail")]
    assert session.variables["fsroute_number"] == "771001"


def test_a_continue_route_leaves_the_call_to_the_dialplan(call, rules_path, fake_freeswitch):
    session = call(rules_path, "7000")
    assert session.executed == [] and session.hangup_cause is None
    assert session.variables["fsroute_result"] == "continued"
    assert "result=continued route=\"leave it\"" in log_line(fake_freeswitch, session)


def test_every_action_is_counted_by_result_and_route(call, rules_path):
    from fsroute.runtime.process import store_for

    for dest in ("19001234567", "8123", "7000", "5551234"):
        call(rules_path, dest)
    results, routes = store_for(rules_path).current().counts()
    assert results == {"blocked": 1, "transferred": 1, "continued": 1, "bridged": 1}
    assert routes == {"premium": 1, "to ivr": 1, "leave it": 1, "out": 1}


def problems(text):
    with pytest.raises(RulesError) as info:
        parse(text, "r.yaml")
    return [str(p) for p in info.value.problems]


def test_a_route_has_exactly_one_action():
    assert problems("version: 1\nroutes:\n  - {name: a, hangup: CALL_REJECTED, gateway: gw1}\n") == [
        "r.yaml:3:5: route 'a' must name exactly one of 'gateway', 'group', 'lcr', 'hangup', 'transfer' or "
        "'continue' (it names gateway and hangup)"]


def test_a_route_action_and_lcr_exclude_each_other():
    text = ("version: 1\ncarriers:\n  c: {deck: c.csv, gateway: gw1}\nroutes:\n"
            "  - {name: a, hangup: CALL_REJECTED, lcr: {carriers: [c]}}\n")
    assert problems(text) == [
        "r.yaml:5:5: route 'a' must name exactly one of 'gateway', 'group', 'lcr', 'hangup', 'transfer' or "
        "'continue' (it names lcr and hangup)"]


@pytest.mark.parametrize("body, message", [
    ("hangup: NOT_A_CAUSE", "r.yaml:3:23: route 'a' hangup: 'NOT_A_CAUSE' is not a FreeSWITCH hangup cause"),
    ("continue: false", "r.yaml:3:25: route 'a' continue must be true (leave the call to the next dialplan action)"),
    ("transfer: '1 XML ctx extra'", "r.yaml:3:25: route 'a' transfer must be 'EXTENSION [DIALPLAN [CONTEXT]]' "
                                    "(the dialplan and context: letters, digits, '_', '.', '-')"),
    ("transfer: '1 X,ML'", "r.yaml:3:25: route 'a' transfer must be 'EXTENSION [DIALPLAN [CONTEXT]]' "
                           "(the dialplan and context: letters, digits, '_', '.', '-')"),
    ("transfer: '1{a=b}'", "r.yaml:3:25: route 'a' transfer extension '1{a=b}' may hold only "
                           "0-9 A-Z a-z + * # . _ - and $N captures"),
    ("transfer: '$2'", "r.yaml:3:25: route 'a' transfer extension uses $2 but the destination_number regex "
                       "has 1 group"),
])
def test_bad_actions_are_reported_where_they_stand(body, message):
    text = "version: 1\nroutes:\n  - {name: a, %s, match: {destination_number: '^(1)'}}\n" % body
    assert problems(text) == [message]


def test_a_transfer_extension_that_ends_up_empty_is_an_invalid_number(write_rules, call, fake_freeswitch):
    path = write_rules("""\
        version: 1
        routes:
          - {name: t, match: {destination_number: '^9(\\d*)$'}, transfer: '$1 XML default'}
    """)
    session = call(path, "9")
    assert session.variables["fsroute_result"] == "invalid_number"
    assert session.hangup_cause == "INVALID_NUMBER_FORMAT"
    assert session.executed == []


def test_files_without_actions_load_as_before():
    rules = parse("version: 1\nroutes:\n  - {name: a, gateway: gw1}\n")
    route = rules.routes[0]
    assert (route.hangup, route.transfer, route.continues) == (None, None, False)


def test_the_actions_docs_example_loads_and_routes_as_it_says(tmp_path):
    import re
    from pathlib import Path

    from fsroute.tools.simulate import simulate

    doc = (Path(__file__).resolve().parent.parent / "docs" / "actions.md").read_text()
    path = tmp_path / "doc.yaml"
    path.write_text(re.findall(r"```yaml\n(.*?)```", doc, re.S)[0])
    report = simulate(str(path), "004930123", caller="0301234", variables={"caller_id_name": "Bob"},
                      fail={"carrier_a": "NORMAL_TEMPORARY_FAILURE"})
    assert [a["dialstring"] for a in report["attempts"]] == [
        "[sip_h_X-Account=acct-7,leg_timeout=20,leg_progress_timeout=5,absolute_codec_string=PCMA\\,PCMU]"
        "sofia/gateway/carrier_a/1234#4930123",
        "[absolute_codec_string=PCMA\\,PCMU,origination_caller_id_number=+49301234,"
        "origination_caller_id_name=ACME Bob]sofia/gateway/carrier_b/+4930123"]
    assert simulate(str(path), "19001234567")["hangup_cause"] == "CALL_REJECTED"
    assert simulate(str(path), "*981234")["transfer"] == "1234 XML voicemail"
    assert simulate(str(path), "2000")["result"] == "continued"
