"""6. The crash barrier: whatever breaks inside the handler, the call ends in a defined way.

The call hangs up with ``defaults.on_error`` (default
NORMAL_TEMPORARY_FAILURE; configurable, or ``continue``), leaves
``fsroute_result=error``, and exactly one ERROR line with the call's uuid
is written, on one line; ``handler`` returns normally. (FreeSWITCH would
otherwise log a traceback and run the next dialplan action unrouted.)
"""

import pytest

import fsroute.runtime.poller
import fsroute.core.router
import fsroute.core.selection
import fsroute.runtime.process
from fsroute.testing import StubSession
from reliability_helpers import bridges, run_call, write_rules

RULES = """\
version: 1
defaults:
  profile: external
{on_error}
groups:
  g:
    gateways:
      - {{name: gw1, weight: 1}}
      - {{name: gw2, weight: 2}}
routes:
  - name: out
    match: {{destination_number: '^(\\d+)$'}}
    number: '$1'
    group: g
"""
CALL = {"destination_number": "1001", "network_addr": "127.0.0.1"}


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return fake_freeswitch


def rules_file(tmp_path, on_error=""):
    return write_rules(tmp_path / "rules.yaml", RULES.format(on_error=on_error))


def assert_crashed(switch, session, cause="NORMAL_TEMPORARY_FAILURE"):
    errors = [m for lv, m in switch.logs if lv == "err"]
    mine = [m for m in errors if session.uuid in m]
    assert len(mine) == 1, "ERROR lines with the uuid: %r (all: %r)" % (mine, errors)
    assert mine[0].endswith("\n") and "\n" not in mine[0][:-1] and "\r" not in mine[0], \
        "the ERROR line spans several lines: %r" % mine[0]
    assert "result=error" in mine[0]
    assert session.variables.get("fsroute_result") == "error"
    assert session.hangup_cause == cause
    # and no second line for the call (an INFO "routed" line after the crash would contradict it)
    assert [m for lv, m in switch.logs if session.uuid in m and lv != "err"] == []


def _raise(exc):
    def broken(*args, **kwargs):
        raise exc
    return broken


class _UnprintableError(Exception):
    def __str__(self):
        raise ValueError("no text for you")


EXCEPTIONS = {
    "unprintable": _UnprintableError(),
    "runtime_error": RuntimeError("boom"),
    "key_error": KeyError("destination_number"),
    "type_error": TypeError("unsupported operand"),
    "zero_division": ZeroDivisionError("division by zero"),
    "recursion": RecursionError("maximum recursion depth exceeded"),
    "memory": MemoryError(),
    "unicode": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    "os_error": OSError(24, "Too many open files"),
    "huge_message": ValueError("v" * 2 ** 20),
}

# Places inside the handler to break, each a (module, attribute) to replace with a raiser.
PLACES = {
    "router.decide": (fsroute.core.router, "decide"),
    "poller.is_down": (fsroute.runtime.poller.Poller, "is_down"),
    "selection.weighted order": (fsroute.core.selection.Selector, "order"),
    "router.find_route": (fsroute.core.router, "find_route"),
}


@pytest.mark.parametrize("exception", sorted(EXCEPTIONS))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_exceptions_anywhere_end_the_call_with_on_error(switch, tmp_path, monkeypatch, tried, place, exception):
    owner, name = PLACES[place]
    monkeypatch.setattr(owner, name, _raise(EXCEPTIONS[exception]))
    session = run_call(switch, rules_file(tmp_path), CALL)
    assert_crashed(switch, session)
    assert bridges(session) == []
    tried["crash"] += 1


@pytest.mark.parametrize("on_error, cause", [
    ("  on_error: {hangup: SWITCH_CONGESTION}", "SWITCH_CONGESTION"),
    ("  on_error: {hangup: normal_clearing}", "NORMAL_CLEARING"),
    ("", "NORMAL_TEMPORARY_FAILURE"),
])
def test_configured_on_error_cause(switch, tmp_path, monkeypatch, tried, on_error, cause):
    monkeypatch.setattr(fsroute.core.router, "decide", _raise(RuntimeError("boom")))
    session = run_call(switch, rules_file(tmp_path, on_error), CALL)
    assert_crashed(switch, session, cause)
    tried["crash"] += 1


def test_on_error_continue_leaves_the_call_to_the_dialplan(switch, tmp_path, monkeypatch, tried):
    monkeypatch.setattr(fsroute.core.router, "decide", _raise(RuntimeError("boom")))
    session = run_call(switch, rules_file(tmp_path, "  on_error: continue"), CALL)
    assert session.hangup_cause is None
    assert session.variables.get("fsroute_result") == "error"
    assert len([m for lv, m in switch.logs if lv == "err" and session.uuid in m]) == 1
    tried["crash"] += 1


class _VariableRaises(StubSession):
    broken = "destination_number"

    def getVariable(self, name):
        if name == self.broken:
            raise RuntimeError("getVariable(%s) failed" % name)
        return super().getVariable(name)


@pytest.mark.parametrize("variable", ["destination_number", "network_addr", "originate_disposition",
                                      "continue_on_fail"])
def test_get_variable_raising_for_one_variable(switch, tmp_path, tried, variable):
    session_class = type("Raises_" + variable, (_VariableRaises,), {"broken": variable})
    session = run_call(switch, rules_file(tmp_path), CALL, session_class=session_class)
    assert_crashed(switch, session)
    tried["crash"] += 1


def test_get_variable_raising_for_uuid_still_names_the_call(switch, tmp_path, monkeypatch, tried):
    """The uuid comes from get_uuid() when getVariable('uuid') fails."""
    monkeypatch.setattr(fsroute.core.router, "decide", _raise(RuntimeError("boom")))
    session_class = type("Raises_uuid", (_VariableRaises,), {"broken": "uuid"})
    session = run_call(switch, rules_file(tmp_path), CALL, session_class=session_class)
    assert_crashed(switch, session)
    tried["crash"] += 1


def test_multi_line_exception_message_gives_one_line(switch, tmp_path, monkeypatch, tried):
    monkeypatch.setattr(fsroute.core.router, "decide",
                        _raise(RuntimeError("first line\nfsroute uuid=forged result=bridged\r\nthird")))
    session = run_call(switch, rules_file(tmp_path), CALL)
    assert_crashed(switch, session)
    tried["crash"] += 1


class _SetVariableRaises(StubSession):
    def setVariable(self, name, value):
        raise RuntimeError("setVariable failed")


def test_set_variable_raising(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), CALL, session_class=_SetVariableRaises)
    errors = [m for lv, m in switch.logs if lv == "err" and session.uuid in m]
    assert len(errors) == 1
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"  # hung up even though nothing could be set
    tried["crash"] += 1


class _EverythingRaises(StubSession):
    def setVariable(self, name, value):
        raise RuntimeError("setVariable failed")

    def hangup(self, cause="normal_clearing"):
        raise RuntimeError("hangup failed")

    def ready(self):
        raise RuntimeError("ready failed")


def test_session_methods_all_raising(switch, tmp_path, tried):
    session = run_call(switch, rules_file(tmp_path), CALL, session_class=_EverythingRaises)
    errors = [m for lv, m in switch.logs if lv == "err" and session.uuid in m]
    assert len(errors) == 1
    tried["crash"] += 1


def test_console_log_raising(switch, tmp_path, monkeypatch, tried):
    """Even the console log failing lets no exception out, and routing goes on."""
    path = rules_file(tmp_path)
    run_call(switch, path, CALL)  # rules loaded while the log still works

    def broken_log(level, message):
        raise RuntimeError("console gone")
    monkeypatch.setattr(switch.module, "consoleLog", broken_log)
    for _ in range(3):
        session = run_call(switch, path, CALL)
        assert session.variables["fsroute_result"] == "bridged"
        tried["crash"] += 1
    monkeypatch.setattr(fsroute.core.router, "decide", _raise(RuntimeError("boom")))
    session = run_call(switch, path, CALL)
    assert session.variables["fsroute_result"] == "error"
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    tried["crash"] += 1


def test_no_usable_rules(switch, tmp_path, tried):
    for path in (str(tmp_path / "missing.yaml"), write_rules(tmp_path / "bad.yaml", "version: 2\nroutes: []\n")):
        for _ in range(3):
            session = run_call(switch, path, CALL)
            assert_crashed(switch, session)
            assert "no usable rules" in [m for lv, m in switch.logs if session.uuid in m][0]
            tried["crash"] += 1


def test_a_crash_does_not_poison_the_next_calls(switch, tmp_path, monkeypatch, tried):
    path = rules_file(tmp_path)
    real = fsroute.core.router.decide
    monkeypatch.setattr(fsroute.core.router, "decide", _raise(RuntimeError("boom")))
    assert_crashed(switch, run_call(switch, path, CALL))
    monkeypatch.setattr(fsroute.core.router, "decide", real)
    session = run_call(switch, path, CALL)
    assert session.variables["fsroute_result"] == "bridged"
    loaded = fsroute.runtime.process.store_for(path).current()
    results, _ = loaded.counts()
    assert results == {"error": 1, "bridged": 1}
    tried["crash"] += 2
