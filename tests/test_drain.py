"""drain / disable / enable a gateway at runtime: left out of new calls, calls up counted down, kept across
a reload and a restart (runtime.admin, issue 23)."""

import json
import os
import threading

import pytest

from fsroute import ctl, route
from fsroute.runtime import events, process
from fsroute.testing import StubSession

from meanwhile import when_set

RULES = """\
    version: 1
    defaults: {reload_check: 0}
    groups:
      pair: {strategy: priority, gateways: [gw1, gw2]}
    routes:
      - {name: out, match: {destination_number: '^(\\d+)$'}, group: pair}
"""


@pytest.fixture
def rules(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return write_rules(RULES)


def dialled(call, rules, number="5551000", **options):
    return [d.split("/")[2] for d, _ in call(rules, number, **options).bridges]


def gateway_line(rules, name):
    return next(line for line in ctl.command("status %s" % rules).splitlines()
                if line.startswith("  %s " % name))


def test_a_drained_gateway_gets_no_new_call_until_it_is_enabled(call, rules, fake_freeswitch):
    assert dialled(call, rules) == ["gw1"]
    answer = ctl.command("drain gw1 carrier maintenance")
    assert answer.startswith("+OK gw1 drained in %s: drained since " % rules)
    assert answer.endswith("(carrier maintenance): no calls left\n")
    assert [dialled(call, rules) for _ in range(3)] == [["gw2"]] * 3
    assert "drained since" in gateway_line(rules, "gw1") and "drained" not in gateway_line(rules, "gw2")
    [event] = [e for e in fake_freeswitch.fired(events.GATEWAY) if e.get("fsroute-reason")]
    assert (event["fsroute-gateway"], event["fsroute-state"], event["fsroute-previous-state"],
            event["fsroute-reason"], event["fsroute-calls-left"]) == ("gw1", "drained", "enabled",
                                                                     "carrier maintenance", "0")
    assert ctl.command("enable gw1") == "+OK gw1 enabled in %s: in service\n" % rules
    assert dialled(call, rules) == ["gw1"]


def test_disable_takes_it_out_and_an_unknown_gateway_is_refused(call, rules):
    dialled(call, rules)
    assert ctl.command("disable gw2 broken trunk").startswith("+OK gw2 disabled in ")
    assert dialled(call, rules, bridge_outcomes={"gw1": "sip:503"}) == ["gw1"]  # nothing left to fail over to
    assert ctl.command("drain gw9") == "-ERR no loaded rules file names gateway gw9\n"
    assert ctl.command("enable gw2 extra words").startswith("-USAGE")


def test_the_state_survives_a_reload_and_a_restart(call, rules):
    dialled(call, rules)
    ctl.command("drain gw1 moving racks")
    with open(rules, "a") as handle:
        handle.write("# a change\n")
    assert ctl.command("reload %s" % rules).startswith("+OK reloaded")
    assert dialled(call, rules) == ["gw2"]
    with open(rules + ".gateways.json") as handle:
        saved = json.load(handle)["gateways"]
    assert saved["gw1"]["state"] == "drained" and saved["gw1"]["reason"] == "moving racks"
    process.forget_all()  # as a FreeSWITCH restart
    assert dialled(call, rules) == ["gw2"]
    assert "(moving racks)" in gateway_line(rules, "gw1")
    ctl.command("enable gw1")
    process.forget_all()
    assert dialled(call, rules) == ["gw1"]


def test_an_unreadable_state_file_leaves_every_gateway_in_service_with_one_error(call, rules, fake_freeswitch):
    with open(rules + ".gateways.json", "w") as handle:
        handle.write("{not json")
    assert dialled(call, rules) == ["gw1"]
    assert any("gateways.json unreadable, every gateway in service" in m for m in fake_freeswitch.log_lines("err"))


class HeldBridge(StubSession):
    """A call whose bridge stays in the bridge application until ``release`` is set (a call up)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_bridge = threading.Event()
        self.release = threading.Event()

    def execute(self, app, data=None):
        if app == "bridge":
            self.in_bridge.set()
            self.release.wait(10)
        super().execute(app, data)


def test_a_drained_gateways_calls_up_are_counted_down(rules, fake_freeswitch):
    route.handler(StubSession({"destination_number": "1"}), rules)  # loaded
    held = [HeldBridge({"destination_number": "555100%d" % i}, fake=fake_freeswitch) for i in range(2)]
    threads = [threading.Thread(target=route.handler, args=(s, rules)) for s in held]
    for thread, session in zip(threads, held):
        thread.start()
        assert session.in_bridge.wait(5)
    assert ctl.command("drain gw1").endswith(": 2 calls left\n")
    assert gateway_line(rules, "gw1").endswith(": 2 calls left")
    assert 'fsroute_gateway_bridging{path="%s",gateway="gw1"} 2' % rules in ctl.command("metrics")
    assert 'fsroute_gateway_out_of_service{path="%s",gateway="gw1",state="drained"} 1' % rules \
        in ctl.command("metrics")
    held[0].release.set()
    threads[0].join(5)
    assert gateway_line(rules, "gw1").endswith(": 1 call left")
    held[1].release.set()
    threads[1].join(5)
    assert gateway_line(rules, "gw1").endswith(": no calls left")


def test_a_gateway_drained_while_a_call_rings_elsewhere_is_skipped_on_failover(rules, fake_freeswitch):
    route.handler(StubSession({"destination_number": "1"}), rules)

    class DrainsWhileRinging(StubSession):
        def execute(self, app, data=None):
            if app == "bridge" and "gw1" in (data or ""):
                ctl.command("drain gw2 now")
            super().execute(app, data)
    session = DrainsWhileRinging({"destination_number": "5551000"}, {"gw1": "sip:503"}, fake=fake_freeswitch)
    route.handler(session, rules)
    assert [d for d, _ in session.bridges] == ["sofia/gateway/gw1/5551000"]
    assert session.variables["fsroute_skipped"] == "gw2:drained"


def test_every_gateway_drained_between_the_decision_and_the_bridge_is_all_down(write_rules, fake_freeswitch):
    # nothing dialled: the route's gateways are all out, as when the decision finds them so (on_all_down),
    # not a failed bridge hung up with NORMAL_TEMPORARY_FAILURE
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules(RULES.replace("reload_check: 0", "reload_check: 0, on_all_down: continue"))
    route.handler(StubSession({"destination_number": "1"}), path)

    def operator(session):  # decided with both up; another operator's ctl runs now
        ctl.command("drain gw1 now")
        ctl.command("disable gw2")
    session = when_set("fsroute_number", operator)({"destination_number": "5551000"}, fake=fake_freeswitch)
    route.handler(session, path)
    assert session.bridges == []
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("all_down", None)
    assert session.variables["fsroute_skipped"] == "gw1:drained,gw2:disabled"


def test_the_state_file_is_replaced_whole(rules, call):
    dialled(call, rules)
    ctl.command("drain gw1")
    assert not os.path.exists(rules + ".gateways.json.tmp")


def test_a_call_that_fails_before_its_bridge_is_not_counted_on_the_gateway(fake_freeswitch, write_rules):
    # it was counted from before the channel reads that quality timings need: one that raised left the
    # call counted for good ("1 call left" on a drained gateway, fsroute_gateway_bridging 1)
    class ProgressTimeFails(StubSession):
        def getVariable(self, name):
            if name == "progress_time":
                raise RuntimeError("getVariable(progress_time) failed")
            return super().getVariable(name)

    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    rules = write_rules("version: 1\ndefaults: {quality: {window: 900}}\nroutes:\n  - {name: out, gateway: gw1}\n")
    session = ProgressTimeFails({"destination_number": "5551000", "network_addr": "127.0.0.1"}, fake=fake_freeswitch)
    route.handler(session, rules)
    assert (session.variables["fsroute_result"], session.bridges) == ("error", [])
    assert ctl.command("drain gw1 maintenance").endswith(": no calls left\n")
    assert 'fsroute_gateway_bridging{path="%s",gateway="gw1"} 0' % rules in ctl.command("metrics")
