"""The fake switch and the stub session behave like FreeSWITCH where fsroute relies on it."""

import ast
import re
import sys
from pathlib import Path

import pytest

from fsroute.testing import FakeFreeSWITCH, StubSession


def test_install_and_restore():
    before = sys.modules.get("freeswitch")
    with FakeFreeSWITCH() as fake:
        import freeswitch
        assert freeswitch is fake.module
        freeswitch.consoleLog("info", "hello\n")
        freeswitch.setGlobalVariable("x", "1")
        assert freeswitch.getGlobalVariable("x") == "1"
        assert fake.logs == [("info", "hello\n")]
    assert sys.modules.get("freeswitch") is before


def test_nested_fakes_restore_the_outer_one():
    with FakeFreeSWITCH() as outer:
        with FakeFreeSWITCH():
            pass
        assert sys.modules["freeswitch"] is outer.module
        assert FakeFreeSWITCH.current is outer


def test_gwlist_answers_like_sofia():
    fake = FakeFreeSWITCH()
    fake.set_gateways("external", up=["gw1"], down=["gw2", "gw3"])
    api = fake.module.API()
    assert api.executeString("sofia profile external gwlist down") == "gw2 gw3 "
    assert api.executeString("sofia profile external gwlist up") == "gw1 "
    assert api.executeString("sofia profile nope gwlist down") == "Invalid Profile [nope]"
    fake.set_gateways("external", up=["gw1"])
    assert api.executeString("sofia profile external gwlist down") == ""


def test_scripted_answers():
    fake = FakeFreeSWITCH()
    fake.answers["status"] = "UP 0 years"
    fake.answers["boom"] = RuntimeError("api failed")
    fake.answers["echo x"] = lambda command: command.upper()
    api = fake.module.API()
    assert api.executeString("status") == "UP 0 years"
    assert api.execute("echo", "x") == "ECHO X"
    with pytest.raises(RuntimeError):
        api.executeString("boom")


# mod_python3's freeswitch.py as SWIG generated it for FreeSWITCH 1.11 (the build in shared/freeswitch).
REAL_MODULE = Path(__file__).parent / "data" / "freeswitch_swig.py.txt"


def real_names():
    """{top-level name: set of method names (empty for a function)} of the real module, read with ast."""
    tree = ast.parse(REAL_MODULE.read_text())
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def methods(name):
        node = classes[name]
        own = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        for base in node.bases:  # Session(CoreSession)
            if isinstance(base, ast.Name) and base.id in classes:
                own |= methods(base.id)
        return own

    names = {node.name: set() for node in tree.body if isinstance(node, ast.FunctionDef)}
    names.update((name, methods(name)) for name in classes)
    return names


def public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_module_offers_only_what_the_real_one_has():
    real = real_names()
    module = FakeFreeSWITCH().module
    assert public(module) <= set(real), public(module) - set(real)
    for name in public(module):
        if isinstance(getattr(module, name), type):
            assert public(getattr(module, name)) <= real[name], (name, public(getattr(module, name)) - real[name])


def test_the_stub_session_offers_only_what_a_real_session_has():
    # Test-side helpers (what it recorded) are attributes, not methods the real Session lacks.
    real = real_names()["Session"]
    offered = {n for n in public(StubSession) if callable(getattr(StubSession, n))}
    assert offered <= real, offered - real


# mod_python3's freeswitch.py: the methods of class Event.
REAL_EVENT_METHODS = {"chat_execute", "chat_send", "serialize", "setPriority", "getHeader", "getBody",
                      "getType", "addBody", "addHeader", "delHeader", "fire", "merge"}


def test_event_offers_only_what_the_real_one_has_and_records_fired_events():
    fake = FakeFreeSWITCH()
    Event = fake.module.Event
    assert {n for n in dir(Event) if not n.startswith("_")} <= REAL_EVENT_METHODS
    with pytest.raises(TypeError):
        Event()  # the type is required
    event = Event("CUSTOM", "fsroute::route")
    with pytest.raises(TypeError):
        event.addHeader("fsroute-attempts", 2)  # SWIG takes char* only
    event.addHeader("fsroute-result", "bridged")
    assert (event.getType(), event.getHeader("fsroute-result")) == ("CUSTOM", "bridged")
    assert fake.events == [] and event.fire() is True
    assert fake.fired("fsroute::route") == [{"Event-Name": "CUSTOM", "Event-Subclass": "fsroute::route",
                                             "fsroute-result": "bridged"}]


def test_failed_bridge_hangs_up_without_continue_on_fail():
    # mod_dptools audio_bridge_function hangs the caller up on a failed
    # originate unless continue_on_fail allows the cause.
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession({}, {"gw1": "SERVICE_UNAVAILABLE"})
        session.execute("bridge", "sofia/gateway/gw1/100")
        assert session.hangup_cause == "SERVICE_UNAVAILABLE" and not session.ready()
        assert session.variables["originate_disposition"] == "SERVICE_UNAVAILABLE"
        assert session.variables["DIALSTATUS"] == "SERVICE_UNAVAILABLE"


@pytest.mark.parametrize("variables, cause, stays_up", [
    ({"continue_on_fail": "true"}, "SERVICE_UNAVAILABLE", True),
    ({"continue_on_fail": "t"}, "USER_BUSY", True),
    ({"continue_on_fail": "1"}, "USER_BUSY", True),
    ({"continue_on_fail": "false"}, "USER_BUSY", False),
    ({"continue_on_fail": "user_busy,NO_ROUTE_DESTINATION"}, "USER_BUSY", True),
    ({"continue_on_fail": "USER_BUSY"}, "SERVICE_UNAVAILABLE", False),
    ({"failure_causes": "USER_BUSY"}, "SERVICE_UNAVAILABLE", True),
    ({"failure_causes": "USER_BUSY"}, "USER_BUSY", False),
    ({"continue_on_fail": "true"}, "ATTENDED_TRANSFER", False),
    ({}, "NO_ANSWER", True),
    ({}, "USER_BUSY", False),
])
def test_continue_on_fail(variables, cause, stays_up):
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession(variables, {"gw1": cause})
        session.execute("bridge", "sofia/gateway/gw1/100")
        assert session.ready() is stays_up


def test_global_continue_on_fail_and_hangup_after_bridge_count_as_the_switch_reads_them():
    # the switch reads both with switch_channel_get_variable, which falls back to the globals (vars.xml);
    # the stub read the channel's only, so a global continue_on_fail=true hung the caller up
    with FakeFreeSWITCH({"continue_on_fail": "true", "hangup_after_bridge": "true"}) as fake:
        fake.set_gateways("external", up=["gw1", "gw2"])
        session = StubSession({}, {"gw1": "NORMAL_TEMPORARY_FAILURE"})
        session.execute("bridge", "sofia/gateway/gw1/100")
        assert session.ready()
        session.execute("bridge", "sofia/gateway/gw2/100")
        assert session.hangup_cause == "NORMAL_CLEARING"  # answered, then hung up after the bridge


def test_bridge_outcomes_and_gateway_states():
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"], down=["gw2"])
        session = StubSession({"continue_on_fail": "true"})
        session.execute("bridge", "sofia/gateway/gw2/100")
        assert session.variables["originate_disposition"] == "GATEWAY_DOWN"
        session.execute("bridge", "sofia/gateway/nosuch/100")
        assert session.variables["originate_disposition"] == "INVALID_GATEWAY"
        session.execute("bridge", "sofia/gateway/gw1/100")
        assert session.variables["originate_disposition"] == "SUCCESS"
        assert session.variables["DIALSTATUS"] == "SUCCESS"
        assert session.bridges == [("sofia/gateway/gw2/100", "GATEWAY_DOWN"),
                                   ("sofia/gateway/nosuch/100", "INVALID_GATEWAY"),
                                   ("sofia/gateway/gw1/100", "SUCCESS")]


def test_set_variable_semantics():
    session = StubSession({"a": "1"})
    session.setVariable("a", "")
    assert session.getVariable("a") is None
    session.setVariable("b", "x${y}")  # CoreSession::setVariable stores it unexpanded
    assert session.getVariable("b") == "x${y}"
    with pytest.raises(TypeError):  # SWIG takes char* only
        session.setVariable("c", 3)
    assert session.getVariable("uuid") == session.uuid == session.get_uuid()


def test_hangup_and_hook():
    unhooked = StubSession({})
    unhooked.hangup("USER_BUSY")
    # CoreSession::hangupCause reads what its hangup hook saw: without one, NONE (as in the real switch)
    assert unhooked.hangup_cause == "USER_BUSY" and unhooked.hangupCause() == "NONE"
    seen = []
    session = StubSession({})
    session.setHangupHook(lambda s, event, arg: seen.append((event, arg)), "x")
    session.hangup("USER_BUSY")
    session.hangup("NORMAL_CLEARING")
    assert session.hangup_cause == "USER_BUSY" and seen == [("hangup", "x")]
    assert session.getState() == "CS_HANGUP" and session.hangupCause() == "USER_BUSY"


def test_fixtures_from_the_plugin(fake_freeswitch, stub_session):
    assert sys.modules["freeswitch"] is fake_freeswitch.module
    session = stub_session({"destination_number": "1"}, {"gw1": "USER_BUSY"})
    assert session.bridge_outcomes == {"gw1": "USER_BUSY"}


@pytest.mark.parametrize("dial, cause", [
    ("sofia/gateway/-err/1001", "INVALID_GATEWAY"),   # mod_distributor with every node down
    ("sofia/gateway//1001", "INVALID_GATEWAY"),
    ("sofia/gateway/undeclared/1001", "INVALID_GATEWAY"),
    ("sofia/external/1001@127.0.0.1", "INVALID_URL"),
])
def test_gateways_the_switch_does_not_know_fail(dial, cause):
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession({"continue_on_fail": "true"})
        session.execute("bridge", dial)
        assert session.variables["originate_disposition"] == cause


@pytest.mark.parametrize("cause, dialstatus", [
    ("USER_BUSY", "BUSY"), ("NO_ANSWER", "NOANSWER"), ("CALL_REJECTED", "DONTCALL"),
    ("DESTINATION_OUT_OF_ORDER", "INVALIDARGS"), ("GATEWAY_DOWN", "GATEWAY_DOWN"),
])
def test_dialstatus_follows_switch_ivr_originate(cause, dialstatus):
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession({"continue_on_fail": "true"}, {"gw1": cause})
        session.execute("bridge", "sofia/gateway/gw1/1")
        assert session.variables["DIALSTATUS"] == dialstatus


def test_hangup_after_bridge_ends_the_caller_too():
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession({"hangup_after_bridge": "true"})
        session.execute("bridge", "sofia/gateway/gw1/1")
        assert session.hangup_cause == "NORMAL_CLEARING"
        assert re.fullmatch(r"[0-9a-f-]{36}", session.variables["last_bridge_to"])


@pytest.mark.parametrize("status, cause", [(500, "NORMAL_TEMPORARY_FAILURE"), (480, "NO_USER_RESPONSE"),
                                           (502, "NETWORK_OUT_OF_ORDER"), (600, "USER_BUSY"),
                                           (599, "NORMAL_UNSPECIFIED")])
def test_every_final_sip_status_gives_the_cause_sofia_gives_it(status, cause):
    # sofia_glue_sip_cause_to_freeswitch; the stub knew five statuses and raised KeyError for the others
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=["gw1"])
        session = StubSession({"continue_on_fail": "true"}, {"gw1": "sip:%d" % status})
        session.execute("bridge", "sofia/gateway/gw1/100")
        assert session.variables["originate_disposition"] == cause
        assert session.variables["last_bridge_proto_specific_hangup_cause"] == "sip:%d" % status
