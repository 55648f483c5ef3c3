"""Breakers, limits, all_busy and least_calls through the real handler on stub calls (no sleeping)."""

import re
import threading

import pytest

from fsroute import ctl, route
from fsroute.core import loader
from fsroute.core.model import BreakerSettings, Capacity, LimitSettings, RulesError
from fsroute.runtime.events import GATEWAY, ROUTE
from fsroute.runtime.process import store_for
from fsroute.testing import StubSession

from meanwhile import when_set

BREAKER_RULES = """\
version: 1
defaults:
  breaker: {failures: 3, window: 10, cooldown: 30, max_cooldown: 120}
groups:
  pair:
    strategy: priority
    gateways: [gw1, gw2]
routes:
  - name: out
    match: {destination_number: '^(\\d+)$'}
    group: pair
"""


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    return fake_freeswitch


def load(path, clock):
    loaded = store_for(path).current()
    loaded.breakers.clock = clock
    return loaded


def dialled(session):
    return [d.split("/")[2] for d, _ in session.bridges]


def breaker_changes(switch):
    """(gateway, breaker state, detail) of every breaker change, from the fsroute::gateway events."""
    return [(e["fsroute-gateway"], e["fsroute-breaker"], e["fsroute-detail"])
            for e in switch.fired(GATEWAY) if "fsroute-breaker" in e]


def last_route_event(switch):
    return switch.fired(ROUTE)[-1]


def test_rules_keys_for_health_and_capacity():
    rules = loader.parse("""\
version: 1
defaults:
  breaker: {failures: 4, window: 20}
  limits: {backend: hiredis, realm: fleet}
  on_all_busy: {hangup: USER_BUSY}
gateways:
  gw1: {max_calls: 10, max_cps: 5, breaker: {cooldown: 5, max_cooldown: 50, last_resort: true}}
  gw2: {profile: internal, max_cps: '30/60'}
groups:
  g: {strategy: least_calls, gateways: [gw1, gw2], max_calls: 15}
routes: [{name: r, group: g}]
""")
    assert rules.defaults.limits == LimitSettings("hiredis", "fleet")
    assert rules.defaults.on_all_busy.cause == "USER_BUSY"
    assert rules.settings_of("gw1").breaker == BreakerSettings(4, 20.0, 5.0, 50.0, True)
    assert rules.settings_of("gw1").capacity == Capacity(10, (5, 1))
    assert rules.settings_of("gw2").breaker == BreakerSettings(4, 20.0, 30.0, 300.0, False)
    assert rules.settings_of("gw2").capacity == Capacity(None, (30, 60))
    assert rules.profile_of("gw1") == "external" and rules.profile_of("gw2") == "internal"
    assert rules.groups["g"].capacity == Capacity(15, None)
    assert loader.parse("version: 1\nroutes: [{name: r, gateway: gw1}]\n").settings_of("gw1").breaker is None


def test_bad_health_keys_are_problems_with_their_place():
    with pytest.raises(RulesError) as caught:
        loader.parse("""\
version: 1
defaults:
  breaker: {failures: 0, cooldown: 60, max_cooldown: 10, last_resort: maybe}
  limits: {backend: redis}
gateways:
  gw1: {max_calls: 0, max_cps: '5/0'}
routes: [{name: r, gateway: gw1}]
""", "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:3:12: defaults.breaker: max_cooldown (10) is shorter than cooldown (60)",
        "r.yaml:3:23: defaults.breaker.failures must be a whole number from 1 to 1000",
        "r.yaml:3:71: defaults.breaker.last_resort must be true or false",
        "r.yaml:4:21: defaults.limits: unknown backend 'redis' (did you mean 'hiredis'?)",
        "r.yaml:6:20: gateway 'gw1' max_calls must be a whole number from 1 to 1000000",
        "r.yaml:6:32: gateway 'gw1' max_cps must be calls per second (a whole number) or 'CALLS/SECONDS'",
    ]


def test_failing_gateway_is_benched_then_probed_and_closed(switch, write_rules, call):
    path = write_rules(BREAKER_RULES)
    clock = Clock()
    load(path, clock)
    failing = {"gw1": "NORMAL_TEMPORARY_FAILURE"}
    for _ in range(3):
        assert dialled(call(path, "5551000", bridge_outcomes=failing)) == ["gw1", "gw2"]
    assert breaker_changes(switch) == [
        ("gw1", "benched", "benched for 30s: 3 failures within 10s (last cause NORMAL_TEMPORARY_FAILURE)")]

    session = call(path, "5551000", bridge_outcomes=failing)
    assert dialled(session) == ["gw2"]  # straight to the healthy one
    assert session.variables["fsroute_skipped"] == "gw1:benched"
    event = last_route_event(switch)
    assert (event["fsroute-tried"], event["fsroute-skipped"]) == ("gw2:SUCCESS", "gw1:benched")
    status = ctl.command("status " + path)
    assert re.search(r"gw1 \(external\): up \(read [0-9:]+\); breaker benched until [0-9]{2}:[0-9]{2}:[0-9]{2} "
                     r"\(30s\), 0 recent failures\n", status), status
    assert re.search(r"gw2 \(external\): up \(read [0-9:]+\); breaker closed, 0 recent failures\n", status)

    clock.now += 30  # cooldown over: the next call probes gw1, which has recovered
    assert "breaker half-open" in ctl.command("status " + path)
    assert dialled(call(path, "5551000")) == ["gw1"]
    assert [change[:2] for change in breaker_changes(switch)[-2:]] == [("gw1", "half-open"), ("gw1", "closed")]
    assert dialled(call(path, "5551000")) == ["gw1"]


def test_a_call_whose_every_gateway_is_benched_names_them_in_fsroute_skipped(switch, write_rules, call):
    # the variable was written by the bridge loop only: a decision that ended the call (all_down) left
    # the CDR without it, while the log line and the event named the benched gateways
    path = write_rules(BREAKER_RULES.replace("gateways: [gw1, gw2]", "gateways: [gw1]"))
    load(path, Clock())
    for _ in range(3):
        call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
    session = call(path, "5551000")
    assert (session.variables["fsroute_result"], dialled(session)) == ("all_down", [])
    assert session.variables["fsroute_skipped"] == "gw1:benched"
    assert last_route_event(switch)["fsroute-skipped"] == "gw1:benched"
    # set before the hangup, so that what the switch sends at the hangup (CHANNEL_HANGUP) carries it
    seen = []
    hooked = StubSession({"destination_number": "5551000", "network_addr": "172.16.221.33"}, fake=switch)
    hooked.setHangupHook(lambda s, event, arg: seen.append(s.variables.get("fsroute_skipped")))
    route.handler(hooked, path)
    assert seen == ["gw1:benched"]


def test_a_probe_whose_announcement_fails_gives_the_probe_slot_back(switch, write_rules, call, monkeypatch):
    # the log line or event of the half-open change raised after the slot was taken: the call ended in
    # error and no later call could probe the gateway, benched until a restart
    from fsroute.runtime import breakers

    path = write_rules(BREAKER_RULES)
    clock = Clock()
    load(path, clock)
    for _ in range(3):
        call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
    clock.now += 30
    announce = breakers._changed

    def failing(gateway, state, detail):
        if state == "half-open":
            raise RuntimeError("consoleLog failed")
        announce(gateway, state, detail)

    monkeypatch.setattr(breakers, "_changed", failing)
    assert call(path, "5551000").variables["fsroute_result"] == "error"
    monkeypatch.setattr(breakers, "_changed", announce)
    assert dialled(call(path, "5551000")) == ["gw1"]  # the next call is the probe


def test_a_failed_probe_benches_again_for_twice_as_long(switch, write_rules, call):
    path = write_rules(BREAKER_RULES)
    clock = Clock()
    load(path, clock)
    failing = {"gw1": "NORMAL_TEMPORARY_FAILURE"}
    for _ in range(3):
        call(path, "5551000", bridge_outcomes=failing)
    clock.now += 30
    assert dialled(call(path, "5551000", bridge_outcomes=failing)) == ["gw1", "gw2"]
    assert breaker_changes(switch)[-1][1:] == (
        "benched", "benched for 60s: the probe call failed (last cause NORMAL_TEMPORARY_FAILURE)")
    clock.now += 59
    assert dialled(call(path, "5551000", bridge_outcomes=failing)) == ["gw2"]


class RaisingBridge(StubSession):
    """A session whose bridge to gw1 raises instead of returning (a SWIG error, the switch shutting down)."""

    def execute(self, app, data=None):
        if "sofia/gateway/gw1/" in (data or ""):
            raise RuntimeError("the bridge raised")
        super().execute(app, data)


def benched_gw1(write_rules, call):
    """BREAKER_RULES loaded with a Clock, and three calls that bench gw1: (the rules' path, the clock)."""
    path = write_rules(BREAKER_RULES)
    clock = Clock()
    load(path, clock)
    for _ in range(3):
        call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
    return path, clock


def test_a_probe_that_raises_frees_its_slot_and_the_gateway_is_probed_again(switch, write_rules, call):
    # The attempt is accounted also when it raises: a probe slot left taken benched gw1 until a restart.
    path, clock = benched_gw1(write_rules, call)
    clock.now += 30
    probe = RaisingBridge({"destination_number": "5551000", "network_addr": "172.16.221.33"}, fake=switch)
    route.handler(probe, path)
    assert probe.variables["fsroute_result"] == "error"
    assert breaker_changes(switch)[-1][:2] == ("gw1", "half-open")
    clock.now += 120  # past any cooldown (max_cooldown): gw1 must be probed again
    assert dialled(call(path, "5551000")) == ["gw1"]
    assert breaker_changes(switch)[-1][:2] == ("gw1", "closed")


def test_a_probe_taken_by_another_call_meanwhile_leaves_the_call_all_down(switch, write_rules, call):
    # Decided while gw1 was half-open, but another call's thread took the one probe before this one
    # reached the bridge: nothing is dialled, so the call is all_down (on_all_down), as one decided a
    # moment later is; it was 'failed' and hung up with NORMAL_TEMPORARY_FAILURE.
    path = write_rules(BREAKER_RULES.replace("max_cooldown: 120}", "max_cooldown: 120}\n  on_all_down: continue")
                       .replace("group: pair", "gateway: gw1"))
    clock = Clock()
    generation = load(path, clock)
    for _ in range(3):
        call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
    clock.now += 30

    def other_call(session):
        assert generation.breakers.acquire("gw1") is not None  # the other call's probe
    session = when_set("fsroute_number", other_call)({"destination_number": "5551000"}, fake=switch)
    route.handler(session, path)
    assert session.bridges == []
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("all_down", None)
    assert session.variables["fsroute_skipped"] == "gw1:benched"
    assert call(path, "5551000").variables["fsroute_result"] == "all_down"  # decided while the probe is out


def test_non_failover_causes_and_caller_cancel_do_not_bench(switch, write_rules, call):
    path = write_rules(BREAKER_RULES)
    load(path, Clock())
    for cause in ("USER_BUSY", "NO_ANSWER", "CALL_REJECTED") * 3:
        assert dialled(call(path, "5551000", bridge_outcomes={"gw1": cause})) == ["gw1"]
    for _ in range(5):
        call(path, "5551000", hangup_on_bridge="gw1")  # ORIGINATOR_CANCEL
    assert dialled(call(path, "5551000")) == ["gw1"]
    assert breaker_changes(switch) == []


def test_every_gateway_benched_is_all_down_unless_last_resort(switch, write_rules, call):
    path = write_rules(BREAKER_RULES)
    clock = Clock()
    load(path, clock)
    both = {"gw1": "NORMAL_TEMPORARY_FAILURE", "gw2": "NORMAL_TEMPORARY_FAILURE"}
    for _ in range(3):
        call(path, "5551000", bridge_outcomes=both)
    session = call(path, "5551000", bridge_outcomes=both)
    assert session.bridges == [] and session.variables["fsroute_result"] == "all_down"
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    event = last_route_event(switch)
    assert (event["fsroute-result"], event["fsroute-attempts"]) == ("all_down", "0")

    path2 = write_rules(BREAKER_RULES.replace("max_cooldown: 120", "max_cooldown: 120, last_resort: true"),
                        "last.yaml")
    load(path2, clock)
    for _ in range(3):
        call(path2, "5551000", bridge_outcomes=both)
    session = call(path2, "5551000", bridge_outcomes={"gw2": "NORMAL_TEMPORARY_FAILURE"})
    assert dialled(session) == ["gw1"] and session.variables["fsroute_result"] == "bridged"


def test_breaker_state_survives_a_reload_unless_its_settings_change(switch, write_rules, call):
    path, _ = benched_gw1(write_rules, call)
    write_rules(BREAKER_RULES.replace("name: out", "name: out2"))
    assert ctl.command("reload " + path).startswith("+OK")
    session = call(path, "5551000")
    assert session.variables["fsroute_route"] == "out2" and dialled(session) == ["gw2"]

    write_rules(BREAKER_RULES.replace("cooldown: 30", "cooldown: 20"))
    assert ctl.command("reload " + path).startswith("+OK")
    assert dialled(call(path, "5551000")) == ["gw1"]  # new settings: a new, closed breaker


LIMIT_RULES = """\
version: 1
gateways:
  gw1: {max_calls: 2}
  gw2: {max_calls: 1}
groups:
  pair:
    strategy: priority
    gateways: [gw1, gw2]
routes:
  - name: out
    match: {destination_number: '^(\\d+)$'}
    group: pair
"""


def test_max_calls_skips_a_full_gateway_then_all_busy_until_a_call_ends(switch, write_rules, stub_session):
    path = write_rules(LIMIT_RULES)
    calls = []
    for _ in range(4):
        session = stub_session({"destination_number": "5551000"}, stay_up=True)
        route.handler(session, path)
        calls.append(session)
    assert [dialled(s) for s in calls] == [["gw1"], ["gw1"], ["gw2"], []]
    assert calls[0].executed[0] == ("limit_execute",
                                     "hash fsroute fsroute.gw.gw1 2 bridge sofia/gateway/gw1/5551000")
    assert calls[2].variables["fsroute_skipped"] == "gw1:at_limit"
    assert (calls[2].variables["fsroute_gateway"], calls[2].variables["fsroute_attempts"]) == ("gw2", "1")
    assert "fsroute_gateway" not in calls[3].variables and "fsroute_attempts" not in calls[3].variables
    busy = calls[3]
    assert (busy.variables["fsroute_result"], busy.hangup_cause) == ("all_busy", "NORMAL_CIRCUIT_CONGESTION")
    event = last_route_event(switch)
    assert (event["fsroute-result"], event["fsroute-skipped"]) == ("all_busy", "gw1:at_limit,gw2:at_limit")
    assert switch.api("limit_usage hash fsroute fsroute.gw.gw1") == "2"
    assert "calls 2/2" in ctl.command("status " + path) and "calls 1/1" in ctl.command("status " + path)

    calls[0].hangup()  # released at hangup, by the limit backend
    assert switch.api("limit_usage hash fsroute fsroute.gw.gw1") == "1"
    again = stub_session({"destination_number": "5551000"}, stay_up=True)
    route.handler(again, path)
    assert dialled(again) == ["gw1"]


def test_max_attempts_counts_attempts_dialled_not_gateways_skipped(switch, write_rules, stub_session):
    # Issue 20, item 4: max_attempts used to cut the decision's list before skips; with gw1 and gw2 full
    # the free gw3 was never tried and the call ended all_busy.
    path = write_rules(LIMIT_RULES.replace("gw2: {max_calls: 1}", "gw2: {max_calls: 1}\ndefaults: {max_attempts: 2}")
                       .replace("gateways: [gw1, gw2]", "gateways: [gw1, gw2, gw3]"))
    held = [stub_session({"destination_number": "5551000"}, stay_up=True) for _ in range(3)]
    for session in held:  # gw1 twice, gw2 once: both full
        route.handler(session, path)
    session = stub_session({"destination_number": "5551000"}, {"gw3": "NORMAL_TEMPORARY_FAILURE"}, stay_up=True)
    route.handler(session, path)
    assert dialled(session) == ["gw3"]  # two skips, one attempt
    assert session.variables["fsroute_skipped"] == "gw1:at_limit,gw2:at_limit"
    assert (session.variables["fsroute_result"], session.variables["fsroute_attempts"]) == ("failed", "1")
    held[0].hangup()  # gw1 has room again: two attempts, gw1 then gw3; the limit stops there
    failing = stub_session({"destination_number": "5551000"}, {"gw1": "NORMAL_TEMPORARY_FAILURE",
                                                              "gw3": "NORMAL_TEMPORARY_FAILURE"})
    route.handler(failing, path)
    assert dialled(failing) == ["gw1", "gw3"] and failing.variables["fsroute_attempts"] == "2"


def test_a_refused_attempt_leaves_the_last_real_attempts_variables(switch, write_rules, stub_session, call):
    # gw1 failed with a 503, then gw2's limit refused the call: what the channel says (for the CDR and
    # the dialplan after fsroute) is gw1's attempt, its disposition and SIP status included
    path = write_rules(LIMIT_RULES)
    route.handler(stub_session({"destination_number": "5551000"}, {"gw1": "sip:503"}, stay_up=True), path)
    session = call(path, "5551000", bridge_outcomes={"gw1": "sip:503"})
    assert dialled(session) == ["gw1"]
    assert session.variables["fsroute_skipped"] == "gw2:at_limit"
    assert (session.variables["fsroute_gateway"], session.variables["fsroute_attempts"]) == ("gw1", "1")
    assert session.variables["originate_disposition"] == session.variables["originate_failed_cause"] \
        == "NORMAL_TEMPORARY_FAILURE"
    assert session.variables["last_bridge_proto_specific_hangup_cause"] == "sip:503"
    assert session.variables["fsroute_result"] == "failed"


def test_a_failed_attempt_gives_its_count_back_at_once(switch, write_rules, call):
    path = write_rules(LIMIT_RULES)
    for _ in range(5):
        session = call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
        assert dialled(session) == ["gw1", "gw2"]
    assert switch.limits.counts == {("hash", "fsroute_fsroute.gw.gw1"): 0, ("hash", "fsroute_fsroute.gw.gw2"): 0}


def test_max_cps_counts_attempts_per_interval(switch, write_rules, call):
    path = write_rules(LIMIT_RULES.replace("gw1: {max_calls: 2}", "gw1: {max_cps: '2/10'}"))
    switch.limits.clock = clock = Clock()
    assert [dialled(call(path, "5551000")) for _ in range(3)] == [["gw1"], ["gw1"], ["gw2"]]
    clock.now += 10
    assert dialled(call(path, "5551000")) == ["gw1"]


def test_group_limits_wrap_every_member(switch, write_rules, stub_session):
    path = write_rules(LIMIT_RULES.replace("    strategy: priority\n", "    strategy: priority\n    max_calls: 2\n"))
    sessions = [stub_session({"destination_number": "5551000"}, stay_up=True) for _ in range(3)]
    for s in sessions:
        route.handler(s, path)
    assert [s.variables["fsroute_result"] for s in sessions] == ["bridged", "bridged", "all_busy"]
    assert sessions[0].executed[0][1].startswith(
        "hash fsroute fsroute.group.pair 2 limit_execute hash fsroute fsroute.gw.gw1 2 bridge ")


def test_hiredis_unreachable_is_all_busy_or_uncounted_with_ignore_connect_fail(switch, write_rules, call):
    path = write_rules("defaults: {limits: {backend: hiredis, realm: fleet}}\n" + LIMIT_RULES)
    switch.limits.redis_up = False
    session = call(path, "5551000")
    assert session.bridges == [] and session.hangup_cause == "NORMAL_CIRCUIT_CONGESTION"
    assert session.variables["fsroute_skipped"] == "gw1:limit_error,gw2:limit_error"
    event = last_route_event(switch)
    assert (event["fsroute-result"], event["fsroute-attempts"]) == ("all_busy", "0")
    assert "calls ?/2" in ctl.command("status " + path)

    switch.limits.ignore_connect_fail = True  # hiredis.conf: ignore-connect-fail
    assert dialled(call(path, "5551000")) == ["gw1"]


def test_hiredis_counts_are_shared_by_resource_not_realm(switch, write_rules, stub_session):
    path = write_rules("defaults: {limits: {backend: hiredis, realm: fleet}}\n" + LIMIT_RULES)
    held = [stub_session({"destination_number": "1"}, stay_up=True) for _ in range(2)]
    for s in held:
        route.handler(s, path)
    assert switch.api("limit_usage hiredis other-profile fleet.gw.gw1") == "2"


def test_least_calls_picks_fewest_calls_per_weight(switch, write_rules, stub_session):
    path = write_rules("""\
version: 1
groups:
  g:
    strategy: least_calls
    gateways: [{name: gw1, weight: 1}, {name: gw2, weight: 2}]
routes: [{name: r, group: g}]
""")
    picks = []
    for _ in range(6):
        s = stub_session({"destination_number": "1"}, stay_up=True)
        route.handler(s, path)
        picks.append(dialled(s)[0])
    assert picks == ["gw2", "gw1", "gw2", "gw2", "gw1", "gw2"]
    assert switch.api("limit_usage hash fsroute fsroute.gw.gw2") == "4"


def test_sixteen_threads_hold_max_calls_and_bench_once(switch, write_rules, stub_session):
    path = write_rules("""\
version: 1
defaults:
  breaker: {failures: 5, window: 60, cooldown: 600}
gateways:
  gw1: {max_calls: 7}
  gw2: {max_calls: 5}
  gw3: {max_calls: 1000}
groups:
  g: {strategy: priority, gateways: [gw1, gw2, gw3]}
routes: [{name: r, group: g}]
""")
    load(path, Clock())
    sessions, lock = [], threading.Lock()
    start = threading.Barrier(16)

    def worker():
        start.wait()
        for _ in range(20):
            s = stub_session({"destination_number": "1"}, {"gw3": "NORMAL_TEMPORARY_FAILURE"}, stay_up=True)
            route.handler(s, path)
            with lock:
                sessions.append(s)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    up = {}
    for s in sessions:
        if s.bridged():
            up[dialled(s)[-1]] = up.get(dialled(s)[-1], 0) + 1
    assert up == {"gw1": 7, "gw2": 5}
    assert switch.limits.usage("hash", "fsroute", "fsroute.gw.gw1") == 7
    assert [change[:2] for change in breaker_changes(switch)] == [("gw3", "benched")]
    # 5 failures bench it; attempts other threads had already begun may still end (at most one each)
    assert 5 <= sum(1 for s in sessions for d in dialled(s) if d == "gw3") < 5 + 16
    assert {s.variables["fsroute_result"] for s in sessions if not s.bridged()} <= {"failed", "all_busy"}
    for s in sessions:
        s.hangup()
    assert set(switch.limits.counts.values()) == {0}


def test_a_full_last_candidate_keeps_the_last_real_attempts_cause(switch, write_rules, stub_session, call):
    path = write_rules(LIMIT_RULES)
    blocker = stub_session({"destination_number": "1"}, {"gw1": "NORMAL_TEMPORARY_FAILURE"}, stay_up=True)
    route.handler(blocker, path)  # gw1 fails over to gw2, which stays up: gw2 is full
    assert dialled(blocker) == ["gw1", "gw2"]
    session = call(path, "5551000", bridge_outcomes={"gw1": "NORMAL_TEMPORARY_FAILURE"})
    assert dialled(session) == ["gw1"] and session.variables["fsroute_skipped"] == "gw2:at_limit"
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("failed", "NORMAL_TEMPORARY_FAILURE")
    event = last_route_event(switch)
    assert (event["fsroute-tried"], event["fsroute-hangup-cause"]) == ("gw1:NORMAL_TEMPORARY_FAILURE",
                                                                       "NORMAL_TEMPORARY_FAILURE")
