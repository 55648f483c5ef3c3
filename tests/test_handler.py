"""The dialplan application end to end, on StubSessions under the fake switch."""

import re
import time
from collections import Counter

import pytest

from fsroute import route
from fsroute.runtime import process, store
from fsroute.testing import StubSession

from rulesdata import BASE_RULES, EXAMPLE

DIAL_RE = re.compile(r"sofia/gateway/([A-Za-z0-9_.-]+)/[0-9A-Za-z+*#._-]{1,64}\Z")


@pytest.fixture
def rules_path(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return write_rules(BASE_RULES)


def bridges(session):
    return [data for app, data in session.executed if app == "bridge"]


def test_the_classic_route_bridges_through_gw1(call, rules_path, fake_freeswitch):
    session = call(rules_path, "91001")
    assert bridges(session) == ["sofia/gateway/gw1/1001"]
    assert session.hangup_cause is None
    for name, value in [("fsroute_result", "bridged"), ("fsroute_route", "out through gw1"),
                        ("fsroute_gateway", "gw1"), ("fsroute_attempts", "1"), ("fsroute_number", "1001")]:
        assert session.variables[name] == value
    assert re.fullmatch(r"[0-9a-f]{12}", session.variables["fsroute_rules_sha"])
    lines = [m for m in fake_freeswitch.log_lines("info") if m.startswith("fsroute uuid=")]
    assert len(lines) == 1
    assert lines[0].startswith("fsroute uuid=%s result=bridged route=\"out through gw1\" number=1001 "
                               "tried=gw1:SUCCESS" % session.uuid)


def test_the_example_file_routes_the_same(call, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    assert bridges(call(str(EXAMPLE), "91001")) == ["sofia/gateway/gw1/1001"]


def test_wrr_splits_exactly_and_skips_a_down_gateway(call, rules_path, fake_freeswitch):
    firsts = Counter(bridges(call(rules_path, "5551234"))[0] for _ in range(3000))
    assert firsts == {"sofia/gateway/gw1/5551234": 1000, "sofia/gateway/gw2/5551234": 2000}


def test_a_down_gateway_is_never_dialled(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    path = write_rules(BASE_RULES)
    sessions = [call(path, "5551234") for _ in range(300)]
    assert all(bridges(s) == ["sofia/gateway/gw1/5551234"] for s in sessions)
    assert all(s.variables["fsroute_result"] == "bridged" for s in sessions)


def test_all_down_never_dials_anything(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", down=["gw1", "gw2"])
    path = write_rules(BASE_RULES)
    for dest in ("5551234", "91001"):
        session = call(path, dest)
        assert bridges(session) == []
        assert session.variables["fsroute_result"] == "all_down"
        assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


def test_failover_to_the_next_gateway(call, rules_path):
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE"})
    assert bridges(session) == ["sofia/gateway/gw2/5551234", "sofia/gateway/gw1/5551234"]
    assert session.variables["fsroute_result"] == "bridged"
    assert session.variables["fsroute_attempts"] == "2"
    assert session.variables["fsroute_gateway"] == "gw1"


def test_a_cause_outside_failover_on_stops_and_hangs_up_with_it(call, rules_path):
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "USER_BUSY"})
    assert bridges(session) == ["sofia/gateway/gw2/5551234"]
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "USER_BUSY"


def test_every_gateway_failing_ends_with_the_last_cause(call, rules_path):
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE",
                                                           "gw1": "NORMAL_TEMPORARY_FAILURE"})
    assert len(bridges(session)) == 2
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


def test_a_caller_hanging_up_as_the_gateway_answers_is_bridged(rules_path, fake_freeswitch):
    # Under load the real switch reports a call whose caller hung up at the 200 OK, before the legs were
    # bridged, as ORIGINATOR_CANCEL (2 of 600 in the CI soak): the caller was connected, so it is bridged.
    from fsroute.emulator.session import CALLER_LEFT_AT_ANSWER
    session = StubSession({"destination_number": "5551234", "network_addr": "172.16.221.33"},
                          fake=fake_freeswitch, bridge_outcomes={"gw2": CALLER_LEFT_AT_ANSWER})
    route.handler(session, rules_path)
    assert bridges(session) == ["sofia/gateway/gw2/5551234"]  # no failover: the caller is gone
    assert session.variables["fsroute_result"] == "bridged"
    assert session.variables["fsroute_gateway"] == "gw2"


def test_a_caller_answered_before_fsroute_who_hangs_up_in_the_bridge_is_not_bridged(rules_path, fake_freeswitch):
    session = StubSession({"destination_number": "5551234", "network_addr": "172.16.221.33",
                           "answered_time": str(time.time_ns() // 1000 - 5000000)},  # an IVR answered 5 s ago
                          fake=fake_freeswitch, hangup_on_bridge="gw2")
    route.handler(session, rules_path)
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "ORIGINATOR_CANCEL"


def test_the_caller_hanging_up_stops_failover(rules_path, fake_freeswitch):
    session = StubSession({"destination_number": "5551234", "network_addr": "172.16.221.33"},
                          fake=fake_freeswitch, hangup_on_bridge="gw2")
    route.handler(session, rules_path)
    assert bridges(session) == ["sofia/gateway/gw2/5551234"]
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "ORIGINATOR_CANCEL"


def test_a_stale_up_reading_fails_over_on_gateway_down(call, rules_path, fake_freeswitch):
    call(rules_path, "5551234")  # reading cached: both up; next pick is gw1
    call(rules_path, "5551234")  # gw1; next is gw2
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    session = call(rules_path, "5551234")
    assert bridges(session) == ["sofia/gateway/gw2/5551234", "sofia/gateway/gw1/5551234"]
    assert session.variables["fsroute_result"] == "bridged"


def test_max_attempts_bounds_the_tries(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["a", "b", "c"])
    path = write_rules("""\
        version: 1
        defaults: {max_attempts: 2}
        groups: {g: {strategy: priority, gateways: [a, b, c]}}
        routes: [{name: r, group: g}]
        """)
    session = call(path, "100", bridge_outcomes={"a": "GATEWAY_DOWN", "b": "GATEWAY_DOWN"})
    assert bridges(session) == ["sofia/gateway/a/100", "sofia/gateway/b/100"]
    assert session.hangup_cause == "GATEWAY_DOWN"


@pytest.mark.parametrize("src, result, cause", [
    ("172.16.221.99", "denied", "CALL_REJECTED"),
    ("192.0.2.1", "denied", "CALL_REJECTED"),
    (None, "denied", "CALL_REJECTED"),
])
def test_ingress_acl(call, rules_path, src, result, cause):
    session = call(rules_path, "91001", src=src)
    assert bridges(session) == []
    assert session.variables["fsroute_result"] == result
    assert session.hangup_cause == cause


def test_sip_network_ip_is_the_fallback_source(call, rules_path):
    session = call(rules_path, "91001", src=None, sip_network_ip="172.16.221.33")
    assert session.variables["fsroute_result"] == "bridged"


def test_no_route_and_invalid_number(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = write_rules("""\
        version: 1
        routes:
          - {name: digits, match: {destination_number: '^(\\d+)$'}, number: '$1', gateway: gw1}
          - {name: anything, match: {destination_number: '^x(.*)$'}, number: '$1', gateway: gw1}
        """)
    session = call(path, "abc")
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("no_route", "NO_ROUTE_DESTINATION")
    session = call(path, "x1|sofia/gateway/evil/1")
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("invalid_number", "INVALID_NUMBER_FORMAT")
    assert session.variables["fsroute_route"] == "anything"
    assert bridges(session) == []


@pytest.mark.parametrize("variable, value", [
    ("caller_id_number", "12\r\nX-Evil: 1"), ("caller_id_number", "12\n34"), ("caller_id_number", "12\x0034"),
    ("caller_id_number", "12\x7f34"), ("caller_id_name", "Bob\r\nX-Evil: 1"), ("caller_id_name", "Bob\x85"),
])
def test_a_caller_id_with_control_characters_is_never_bridged(call, rules_path, fake_freeswitch, variable, value):
    # sofia writes the caller ID raw into the outbound INVITE's From and Remote-Party-ID: a newline in it
    # would put lines of the caller's choosing into what the carrier receives (docs/reliability.md)
    session = call(rules_path, "91001", **{variable: value})
    assert bridges(session) == []
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("invalid_number", "INVALID_NUMBER_FORMAT")
    line = [m for m in fake_freeswitch.log_lines("info") if m.startswith("fsroute uuid=%s " % session.uuid)][0]
    assert "control characters in %s" % variable in line and "\n" not in line and "\r" not in line


@pytest.mark.parametrize("variable, value", [
    ("caller_id_number", "+4930 1234"), ("caller_id_name", "Jos\u00e9 M\u00fcller"),
    ("caller_id_name", "\u0645\u062d\u0645\u062f"),
    # not printable to Python, yet no control character: a no-break space, a Persian zero-width non-joiner
    ("caller_id_name", "Bob\u00a0Smith"), ("caller_id_name", "\u0645\u062d\u0645\u062f\u200c\u0631\u0636\u0627"),
])
def test_a_caller_id_without_control_characters_bridges(call, rules_path, variable, value):
    session = call(rules_path, "91001", **{variable: value})
    assert bridges(session) == ["sofia/gateway/gw1/1001"]


def test_a_route_that_does_not_bridge_keeps_its_action_whatever_the_caller_id(call, write_rules, fake_freeswitch):
    # the carrier's INVITE is what the check guards; a route that hangs up or hands the call back sends none
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = write_rules("""\
        version: 1
        routes:
          - {name: barred, match: {destination_number: '^900'}, hangup: CALL_REJECTED}
          - {name: local, match: {destination_number: '^1'}, continue: true}
          - {name: out, match: {destination_number: '^(\\d+)$'}, number: '$1', gateway: gw1}
        """)
    hostile = {"caller_id_name": "Bob\r\nX-Evil: 1"}
    assert call(path, "9001", **hostile).variables["fsroute_result"] == "blocked"
    assert call(path, "1234", **hostile).variables["fsroute_result"] == "continued"
    assert call(path, "5551234", **hostile).variables["fsroute_result"] == "invalid_number"


def test_a_route_acl_skips_the_route_and_denies_when_nothing_else_matches(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules("""\
        version: 1
        acls:
          office: {default: deny, nodes: [{allow: 127.0.0.0/8}]}
        routes:
          - {name: office only, acl: office, match: {destination_number: '^00'}, gateway: gw1}
          - {name: local, match: {destination_number: '^0[1-9]'}, gateway: gw2}
        """)
    assert bridges(call(path, "0044", src="127.0.0.5")) == ["sofia/gateway/gw1/0044"]
    session = call(path, "0044", src="172.16.221.33")
    assert session.variables["fsroute_result"] == "denied"
    assert bridges(call(path, "0123", src="172.16.221.33")) == ["sofia/gateway/gw2/0123"]


def test_other_variables_must_match_too(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules("""\
        version: 1
        routes:
          - {name: vip, match: {destination_number: '^(\\d+)$', caller_id_number: '^1'}, number: '$1', gateway: gw1}
          - {name: rest, match: {destination_number: '^(\\d+)$'}, number: '$1', gateway: gw2}
        """)
    assert bridges(call(path, "555", caller_id_number="1234")) == ["sofia/gateway/gw1/555"]
    assert bridges(call(path, "555", caller_id_number="2234")) == ["sofia/gateway/gw2/555"]


def test_continue_leaves_the_call_to_the_dialplan(call, write_rules, fake_freeswitch):
    path = write_rules("version: 1\ndefaults: {on_no_route: continue}\nroutes: []\n")
    session = call(path, "555")
    assert session.variables["fsroute_result"] == "no_route"
    assert session.hangup_cause is None and session.ready()


def test_continue_on_fail_is_set_for_the_bridges_and_restored(call, rules_path, fake_freeswitch):
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE"},
                   continue_on_fail="USER_BUSY")
    assert session.variables["fsroute_result"] == "bridged"
    assert session.variables["continue_on_fail"] == "USER_BUSY"
    session = call(rules_path, "5551234")
    assert "continue_on_fail" not in session.variables


def test_rules_file_location_order(fake_freeswitch, write_rules, monkeypatch, tmp_path):
    from fsroute.runtime.call import rules_path
    session = StubSession({"fsroute_rules": "/from/channel.yaml"})
    monkeypatch.setenv("FSROUTE_RULES", "/from/env.yaml")
    fake_freeswitch.globals.update(fsroute_rules="/from/global.yaml", conf_dir="/etc/fs")
    assert rules_path(session, " /from/args.yaml ") == "/from/args.yaml"
    assert rules_path(session, "") == "/from/channel.yaml"
    assert rules_path(StubSession({}), None) == "/from/global.yaml"
    del fake_freeswitch.globals["fsroute_rules"]
    assert rules_path(StubSession({}), "") == "/from/env.yaml"
    monkeypatch.delenv("FSROUTE_RULES")
    assert rules_path(StubSession({}), "") == "/etc/fs/fsroute.yaml"


def test_conf_dir_rules_file_is_used_without_args(fake_freeswitch, write_rules):
    path = write_rules(BASE_RULES, name="fsroute.yaml")
    fake_freeswitch.globals["conf_dir"] = path.rsplit("/", 1)[0]
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    session = StubSession({"destination_number": "91001", "network_addr": "172.16.221.33"})
    route.handler(session, "")
    assert bridges(session) == ["sofia/gateway/gw1/1001"]


def test_unreadable_gwlist_takes_gateways_as_up_and_warns_once(call, write_rules, fake_freeswitch):
    path = write_rules(BASE_RULES.replace("profile: external", "profile: nosuch"))
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    sessions = [call(path, "5551234") for _ in range(6)]
    assert all(s.variables["fsroute_result"] == "bridged" for s in sessions)
    warnings = fake_freeswitch.log_lines("warning")
    assert len(warnings) == 1 and "Invalid Profile [nosuch]" in warnings[0]


def test_broken_rules_with_nothing_loaded_end_the_call_cleanly(call, write_rules, fake_freeswitch):
    path = write_rules("version: 1\nroutes: [\n")
    for _ in range(3):
        session = call(path, "91001")
        assert session.variables["fsroute_result"] == "error"
        assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    problems = [m for m in fake_freeswitch.log_lines("err") if "invalid YAML" in m and "uuid=" not in m]
    assert len(problems) == 1 and ":3:1:" in problems[0]  # the file is reported once, not per call


def test_every_dial_string_is_well_formed(call, rules_path, fake_freeswitch):
    for dest in ("91001", "5551234", "0", "91019"):
        for data in bridges(call(rules_path, dest)):
            assert DIAL_RE.match(data) and DIAL_RE.match(data).group(1) in ("gw1", "gw2")


def test_failover_skips_a_gateway_that_went_down_during_the_first_attempt(write_rules, fake_freeswitch, clock):
    fake_freeswitch.set_gateways("external", up=["a", "b", "c"])
    path = write_rules("""\
        version: 1
        defaults: {status_ttl: 1}
        groups: {g: {strategy: priority, gateways: [a, b, c]}}
        routes: [{name: r, group: g}]
        """)
    process.store_for(path, clock)

    class Ringing(StubSession):
        def execute(self, app, data=None):
            if data == "sofia/gateway/a/100":  # while a rings for 30 s, b's OPTIONS ping fails
                fake_freeswitch.set_gateways("external", up=["a", "c"], down=["b"])
                process.poller().poll()
            super().execute(app, data)

    session = Ringing({"destination_number": "100"}, {"a": "NORMAL_TEMPORARY_FAILURE"}, fake=fake_freeswitch)
    route.handler(session, path)
    assert bridges(session) == ["sofia/gateway/a/100", "sofia/gateway/c/100"]
    assert session.variables["fsroute_result"] == "bridged"


def test_a_bridged_call_with_hangup_after_bridge_stays_bridged(call, rules_path):
    session = call(rules_path, "91001", hangup_after_bridge="true")
    assert session.variables["fsroute_result"] == "bridged"
    assert session.hangup_cause == "NORMAL_CLEARING"  # the switch hung up after the bridge, not fsroute
