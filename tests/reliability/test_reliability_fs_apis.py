"""4. FreeSWITCH APIs failing: a defined outcome and one log line, never a traceback.

``sofia profile <p> gwlist down`` raising, answering ``Invalid Profile``,
``-ERR``, garbage or nothing at all, or hanging past ``status_timeout``:
that profile's gateways are taken as up (FreeSWITCH refuses a really-down
one and failover carries on) and one WARNING is written per TTL, not per
call. ``session.execute`` raising, ``getVariable`` answering None for
everything and the caller leaving mid-failover each end the call in a
defined way. No call ever bridges to a gateway the rules do not name.
"""

import threading
import time

import pytest

from fsroute.runtime import process
from fsroute.runtime.process import store_for
from fsroute.testing import StubSession
from reliability_helpers import assert_safe_bridges, bridges, error_lines, run_call, write_rules

RULES = """\
version: 1
defaults:
  profile: external
  status_ttl: {ttl}
  status_timeout: {timeout}
  max_attempts: 3
gateways:
  gw3: {{profile: internal}}
groups:
  g:
    strategy: weighted_round_robin
    gateways:
      - {{name: gw1, weight: 1}}
      - {{name: gw2, weight: 2}}
      - {{name: gw3, weight: 1}}
routes:
  - name: out
    match: {{destination_number: '^(\\d+)$'}}
    number: '$1'
    group: g
"""
GATEWAYS = {"gw1", "gw2", "gw3"}
GWLIST = "sofia profile external gwlist down"


class _UnprintableError(Exception):
    def __str__(self):
        raise ValueError("no text for you")


def _raises(exc):
    def answer(command):
        raise exc
    return answer


# Answers that are not a list of gateway names: "unknown", every gateway of the profile up.
UNKNOWN_ANSWERS = {
    "raises_runtime_error": RuntimeError("sofia is busy"),
    "raises_oserror": OSError(5, "I/O error"),
    "raises_multiline_message": RuntimeError("first line\nsecond line\r\nthird"),
    "raises_huge_message": RuntimeError("x" * 2 ** 20),
    "raises_unprintable": _UnprintableError(),
    "raises_from_callable": _raises(KeyError("gwlist")),
    "raises_memory_error": MemoryError(),
    "invalid_profile": "Invalid Profile [external]",
    "invalid_profile_newline": "Invalid Profile [external]\n",
    "err_no_reply": "-ERR no reply",
    "err_no_reply_newline": "-ERR no reply\n",
    "err_command_not_found": "-ERR sofia Command not found!\n",
    "usage_text": "USAGE:\n--------------------------------------------------------------------------------\n"
                  "sofia global siptrace <on|off>\n",
    "html": "<html><body>500</body></html>",
    "binary_garbage": "\x00\xff\xfe garbage \x1b[31m",
    "comma_list": "gw1,gw2",
    "pipe_list": "gw1|gw2 ",
    "dollar": "${gw1} ",
    "none_answer": lambda command: None,
    "bytes_answer": lambda command: b"gw1 ",
    "int_answer": lambda command: 42,
    "huge_garbage": "%" * 2 ** 20,
}

# Real answers: the named gateways are down, the rest up.
KNOWN_ANSWERS = {
    "nothing_down": ("", set()),
    "gw1_down": ("gw1 ", {"gw1"}),
    "gw2_gw1_down": ("gw2 gw1 ", {"gw1", "gw2"}),
    "unknown_names_down": ("gw9 sip.example.com ", set()),
    "extra_whitespace": ("  gw2\n", {"gw2"}),
}


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    fake_freeswitch.set_gateways("internal", up=["gw3"])
    return fake_freeswitch


def rules_file(tmp_path, ttl=60, timeout=0.05):
    return write_rules(tmp_path / "rules.yaml", RULES.format(ttl=ttl, timeout=timeout))


def calls(switch, path, count, tried, **variables):
    sessions = []
    for i in range(count):
        values = {"destination_number": "1%03d" % i, "network_addr": "127.0.0.1"}
        values.update(variables)
        session = run_call(switch, path, values)
        assert_safe_bridges(session, GATEWAYS)
        sessions.append(session)
        tried["fs_apis"] += 1
    return sessions


def one_line_each(lines):
    for line in lines:
        assert "\n" not in line and "\r" not in line, "log line spans several lines: %r" % line[:200]


def call_lines(switch, session):
    return [m for m in switch.log_lines() if ("uuid=%s " % session.uuid) in m]


@pytest.mark.parametrize("name", sorted(UNKNOWN_ANSWERS))
def test_unusable_gwlist_answers_mean_all_up_and_one_warning(switch, tmp_path, tried, name):
    switch.answers[GWLIST] = UNKNOWN_ANSWERS[name]
    sessions = calls(switch, rules_file(tmp_path), 30, tried)
    for session in sessions:
        assert session.variables["fsroute_result"] == "bridged"
        assert len(call_lines(switch, session)) == 1
    used = {b.split("/")[2] for s in sessions for b in bridges(s)}
    assert used == GATEWAYS  # gw1 and gw2 taken as up, gw3 read from its own profile
    warnings = switch.log_lines("warning")
    assert len(warnings) == 1, warnings
    assert "external" in warnings[0]
    assert "did not answer" not in warnings[0]  # the reading ended; nobody had to time out on it
    one_line_each(warnings)
    assert len(warnings[0]) < 400
    assert error_lines(switch) == []


@pytest.mark.parametrize("name", sorted(KNOWN_ANSWERS))
def test_real_gwlist_answers_are_obeyed(switch, tmp_path, tried, name):
    answer, down = KNOWN_ANSWERS[name]
    switch.answers[GWLIST] = answer
    sessions = calls(switch, rules_file(tmp_path), 30, tried)
    used = {b.split("/")[2] for s in sessions for b in bridges(s)}
    assert used == GATEWAYS - down
    assert switch.log_lines("warning") == []
    assert error_lines(switch) == []


def test_every_gateway_down_bridges_nowhere(switch, tmp_path, tried):
    switch.answers[GWLIST] = "gw1 gw2 "
    switch.answers["sofia profile internal gwlist down"] = "gw3 "
    for session in calls(switch, rules_file(tmp_path), 10, tried):
        assert session.variables["fsroute_result"] == "all_down"
        assert bridges(session) == []
        assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"


def test_warning_once_until_it_mends_not_per_call_or_reading(switch, tmp_path, tried, clock):
    ttl = 1
    switch.answers[GWLIST] = RuntimeError("sofia is busy")
    path = rules_file(tmp_path, ttl=ttl)
    store_for(path, clock)
    calls(switch, path, 50, tried)
    assert len(switch.log_lines("warning")) == 1
    assert switch.api_calls.count(GWLIST) == 1  # the generation's first reading; calls read nothing
    for _ in range(3):
        process.poller().poll()
    calls(switch, path, 50, tried)
    assert len(switch.log_lines("warning")) == 1
    assert switch.api_calls.count(GWLIST) == 4


def test_hanging_gwlist_is_bounded_by_status_timeout(switch, tmp_path, tried, clock):
    release = threading.Event()
    entered = []

    def hang(command):
        entered.append(command)
        release.wait(30)  # far longer than status_timeout
        return ""

    switch.answers[GWLIST] = hang
    timeout = 0.2
    path = rules_file(tmp_path, ttl=0.5, timeout=timeout)
    store_for(path, clock)
    try:
        started = time.monotonic()
        first = calls(switch, path, 1, tried)[0]
        waited = time.monotonic() - started
        assert timeout * 0.9 <= waited < timeout + 2.0, waited
        assert first.variables["fsroute_result"] == "bridged"
        warnings = switch.log_lines("warning")
        assert len(warnings) == 1 and "did not answer" in warnings[0], warnings

        # Within the TTL nobody waits again, and no more warnings.
        started = time.monotonic()
        for session in calls(switch, path, 30, tried):
            assert session.variables["fsroute_result"] == "bridged"
        assert time.monotonic() - started < timeout, "calls waited for the hung gwlist again"

        # Later, with the command still hung, calls do not wait for it either.
        clock.advance(0.6)
        started = time.monotonic()
        calls(switch, path, 5, tried)
        assert time.monotonic() - started < timeout, "calls waited for the hung gwlist again"
        assert len(switch.log_lines("warning")) == 1
        assert len(entered) == 1  # the hung command was not started again and again
        assert error_lines(switch) == []
    finally:
        release.set()


class _ExecuteRaises(StubSession):
    def execute(self, app, data=None):
        raise RuntimeError("mod_dptools went away")


def test_session_execute_raising(switch, tmp_path, tried):
    path = rules_file(tmp_path)
    for _ in range(5):
        session = run_call(switch, path, {"destination_number": "1001", "network_addr": "127.0.0.1"},
                           session_class=_ExecuteRaises)
        assert session.variables["fsroute_result"] == "error"
        assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
        assert session.variables.get("continue_on_fail") is None  # restored (was unset)
        lines = call_lines(switch, session)
        assert len(lines) == 1 and session.uuid in error_lines(switch)[-1], lines
        tried["fs_apis"] += 1


class _NoVariables(StubSession):
    def getVariable(self, name):
        return None


def test_get_variable_answering_none_for_everything(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), {}, session_class=_NoVariables)
    assert session.variables["fsroute_result"] == "no_route"
    assert session.hangup_cause == "NO_ROUTE_DESTINATION"
    assert bridges(session) == []
    assert len(call_lines(switch, session)) == 1  # the uuid still comes from get_uuid()
    tried["fs_apis"] += 1


def test_get_variable_none_with_an_ingress_acl(switch, tmp_path, tried):
    path = write_rules(tmp_path / "acl.yaml", RULES.format(ttl=60, timeout=0.05).replace(
        "routes:", "acls:\n  peers: {default: deny, nodes: [{allow: 127.0.0.0/8}]}\ningress_acl: peers\nroutes:"))
    session = run_call(switch, path, {}, session_class=_NoVariables)
    assert session.variables["fsroute_result"] == "denied"
    assert session.hangup_cause == "CALL_REJECTED"
    assert bridges(session) == []
    assert error_lines(switch) == []
    tried["fs_apis"] += 1


def test_caller_cancels_while_the_first_gateway_rings(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), {"destination_number": "1001", "network_addr": "127.0.0.1"},
                       hangup_on_bridge="gw2")  # the round robin's first pick
    assert bridges(session) == ["sofia/gateway/gw2/1001"]
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "ORIGINATOR_CANCEL"
    lines = call_lines(switch, session)
    assert len(lines) == 1 and "caller hung up" in lines[0], lines
    assert error_lines(switch) == []
    tried["fs_apis"] += 1


class _LeavesAfterFirstBridge(StubSession):
    """The first gateway fails with a failover cause just as the caller hangs up."""

    def execute(self, app, data=None):
        super().execute(app, data)
        if app == "bridge":
            self.hangup("NORMAL_CLEARING")


def test_caller_gone_after_a_failover_cause_stops_failover(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), {"destination_number": "1001", "network_addr": "127.0.0.1"},
                       session_class=_LeavesAfterFirstBridge,
                       bridge_outcomes={g: "NORMAL_TEMPORARY_FAILURE" for g in GATEWAYS})
    assert len(bridges(session)) == 1, bridges(session)
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "NORMAL_CLEARING"  # the caller's own, not one of ours
    assert len(call_lines(switch, session)) == 1
    tried["fs_apis"] += 1


class _GoneBeforeRouting(StubSession):
    def ready(self):
        return False


def test_caller_gone_before_the_first_bridge(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), {"destination_number": "1001", "network_addr": "127.0.0.1"},
                       session_class=_GoneBeforeRouting)
    assert bridges(session) == []
    assert session.variables["fsroute_result"] == "failed"
    assert len(call_lines(switch, session)) == 1
    assert error_lines(switch) == []
    tried["fs_apis"] += 1


def test_failover_carries_on_while_the_caller_stays(switch, tmp_path, tried):
    """The control for the tests above: without the caller leaving, all three gateways are tried."""
    session = run_call(switch, rules_file(tmp_path), {"destination_number": "1001", "network_addr": "127.0.0.1"},
                       bridge_outcomes={g: "NORMAL_TEMPORARY_FAILURE" for g in GATEWAYS})
    assert len(bridges(session)) == 3
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    tried["fs_apis"] += 1
