"""failover_on by cause and SIP status, per route, group, carrier and gateway; a route's max_attempts and
max_seconds (issue 23)."""

import pytest

from fsroute import ctl
from fsroute.core import loader
from fsroute.core.legs import Dial
from fsroute.core.failover import fails_over, failover_on_for, sip_status
from fsroute.core.model import DEFAULT_FAILOVER_ON, RulesError
from fsroute.runtime.call import route_with
from fsroute.runtime.generation import standalone
from fsroute.testing import StubSession

DEFAULTS = frozenset(DEFAULT_FAILOVER_ON)


@pytest.mark.parametrize("failover_on, cause, status, goes_on", [
    (DEFAULTS, "NORMAL_TEMPORARY_FAILURE", 503, True),        # 503, no Reason
    (DEFAULTS, "NORMAL_CIRCUIT_CONGESTION", 503, True),       # 503 with Q.850 34
    (DEFAULTS, "USER_BUSY", 486, False),
    (DEFAULTS, "CALL_REJECTED", 603, False),
    (DEFAULTS, "NORMAL_TEMPORARY_FAILURE", 603, False),       # a 603 whose Reason says 41 is still a decline
    (DEFAULTS, "RECOVERY_ON_TIMER_EXPIRE", 408, True),
    (DEFAULTS, "PROGRESS_TIMEOUT", None, True),               # leg_progress_timeout: the gateway never rang
    (DEFAULTS, "ALLOTTED_TIMEOUT", None, False),              # leg_timeout: it rang, nobody answered
    (frozenset({"sip:5xx"}), "USER_BUSY", 503, False),        # a 503 whose Reason says busy: the callee's
    (frozenset({"sip:5xx"}), "NORMAL_CIRCUIT_CONGESTION", 500, True),
    (frozenset({"sip:6xx"}), "CALL_REJECTED", 603, False),    # a class never names a callee's rejection
    (frozenset({"sip:603"}), "CALL_REJECTED", 603, True),     # the exact status does
    (frozenset({"USER_BUSY"}), "USER_BUSY", 486, True),       # so does its cause name
    (frozenset({"sip:503"}), "NORMAL_TEMPORARY_FAILURE", 503, True),
    (frozenset({"sip:503"}), "RECOVERY_ON_TIMER_EXPIRE", 408, False),
    (frozenset({"sip:503"}), "GATEWAY_DOWN", None, False),    # no SIP status: only cause names count
    (frozenset({"sip:4xx"}), "RECOVERY_ON_TIMER_EXPIRE", 408, True),
])
def test_which_failures_go_on_to_the_next_gateway(failover_on, cause, status, goes_on):
    assert fails_over(failover_on, cause, status) is goes_on


@pytest.mark.parametrize("text, status", [("sip:503", 503), ("sip:200", 200), (None, None), ("", None),
                                          ("sip:5031", None), ("h323:17", None), ("sip:abc", None)])
def test_the_sip_status_is_read_from_the_switchs_variable_form(text, status):
    assert sip_status(text) == status


LEVELS = """\
    version: 1
    defaults: {failover_on: [GATEWAY_DOWN]}
    gateways:
      gw1: {failover_on: ['sip:408']}
      gw2: {}
    groups:
      pair: {strategy: priority, gateways: [gw2, gw1], failover_on: ['SIP:5XX']}
      solo: {strategy: priority, gateways: [gw3]}
    routes:
      - {name: grouped, match: {destination_number: '^1'}, group: pair, failover_on: [USER_BUSY]}
      - {name: own, match: {destination_number: '^2'}, group: solo, failover_on: ['sip:503'],
         max_attempts: 2, max_seconds: 20}
      - {name: plain, match: {destination_number: '^3'}, gateway: gw3}
"""


def test_failover_on_is_read_at_every_level_and_the_nearest_to_the_gateway_wins(write_rules):
    rules = loader.load(write_rules(LEVELS))
    grouped, own, plain = rules.routes
    assert grouped.failover_on == {"USER_BUSY"} and rules.groups["pair"].failover_on == {"sip:5xx"}
    assert (own.failover_on, own.max_attempts, own.max_seconds) == ({"sip:503"}, 2, 20.0)
    assert plain.failover_on is None and plain.max_attempts is None and plain.max_seconds is None

    def judged(route, gateway):
        return failover_on_for(rules, route, _dial(gateway))
    assert judged(grouped, "gw1") == {"sip:408"}        # the gateway's own
    assert judged(grouped, "gw2") == {"sip:5xx"}        # its group's
    assert judged(own, "gw3") == {"sip:503"}            # the route's (its group has none)
    assert judged(plain, "gw3") == {"GATEWAY_DOWN"}     # defaults'


def _dial(gateway):
    return Dial(gateway, "1", "sofia/gateway/%s/1" % gateway, (), ())


def test_a_sip_entry_that_is_not_a_status_is_refused_where_it_stands(write_rules):
    path = write_rules("""\
        version: 1
        routes:
          - {name: r, gateway: gw1, failover_on: ['sip:5x', NOT_A_CAUSE], max_seconds: 0}
        """)
    with pytest.raises(RulesError) as raised:
        loader.load(path)
    text = str(raised.value)
    assert "rules.yaml:3:43: route 'r' failover_on: 'sip:5x' is not a SIP status" in text
    assert "'NOT_A_CAUSE' is not a FreeSWITCH hangup cause" in text and "max_seconds" in text


ROUTES = """\
    version: 1
    groups:
      three: {strategy: priority, gateways: [gw1, gw2, gw3]}
    routes:
      - {name: sip, match: {destination_number: '^1'}, group: three, failover_on: ['sip:503']}
      - {name: most, match: {destination_number: '^2'}, group: three, max_attempts: 2}
      - {name: plain, match: {destination_number: '^3'}, group: three}
      - {name: budget, match: {destination_number: '^4'}, group: three, max_seconds: 25}
"""


@pytest.fixture
def three(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    return write_rules(ROUTES)


def tried(session):
    return [(d.split("/")[2], cause) for d, cause in session.bridges]


def test_a_routes_sip_failover_on_goes_on_after_a_503_and_stops_at_a_408(call, three):
    session = call(three, "1000", bridge_outcomes={"gw1": "sip:503", "gw2": "sip:408"})
    assert tried(session) == [("gw1", "NORMAL_TEMPORARY_FAILURE"), ("gw2", "RECOVERY_ON_TIMER_EXPIRE")]
    assert session.variables["fsroute_result"] == "failed"
    assert session.hangup_cause == "RECOVERY_ON_TIMER_EXPIRE"


def test_a_busy_callee_is_not_rung_again_through_another_carrier_by_default(call, three):
    for outcome in ("sip:486", "sip:603", "sip:603 NORMAL_TEMPORARY_FAILURE", "sip:503 USER_BUSY"):
        session = call(three, "3000", bridge_outcomes={"gw1": outcome})
        assert len(session.bridges) == 1, outcome
    session = call(three, "3000", bridge_outcomes={"gw1": "sip:503"})
    assert tried(session) == [("gw1", "NORMAL_TEMPORARY_FAILURE"), ("gw2", "SUCCESS")]


def test_the_sip_status_of_an_earlier_attempt_does_not_judge_the_next(call, three):
    # gw2 fails without a SIP status (as a DOWN gateway does): the 503 left by gw1 must not count
    session = call(three, "1000", bridge_outcomes={"gw1": "sip:503", "gw2": "NORMAL_TEMPORARY_FAILURE"})
    assert len(session.bridges) == 2 and session.variables["fsroute_result"] == "failed"


def test_a_routes_max_attempts_overrides_the_defaults(call, three):
    fail = {"gw1": "sip:503", "gw2": "sip:503", "gw3": "sip:503"}
    assert len(call(three, "2000", bridge_outcomes=fail).bridges) == 2
    assert len(call(three, "3000", bridge_outcomes=fail).bridges) == 3


class BridgeClock:
    """A clock that moves ``per_bridge`` seconds with each bridge the session ran (a ringing gateway)."""

    def __init__(self, per_bridge):
        self.per_bridge = per_bridge
        self.session = None

    def monotonic(self):
        return 1000.0 + self.per_bridge * (len(self.session.bridges) if self.session is not None else 0)

    def time(self):
        return 1.7e9


@pytest.mark.parametrize("per_bridge, dialled", [(10.0, 3), (20.0, 2), (30.0, 1)])
def test_no_attempt_starts_once_the_route_has_spent_max_seconds(three, per_bridge, dialled):
    clock = BridgeClock(per_bridge)
    generation = standalone(loader.load(three), {}, clock=clock)
    records = []
    generation.observers = (records.append,)
    session = StubSession({"destination_number": "4000", "network_addr": "127.0.0.1"},
                          {"gw1": "sip:503", "gw2": "sip:503", "gw3": "sip:503"})
    clock.session = session
    route_with(session, lambda: generation)
    assert len(session.bridges) == dialled
    assert session.variables["fsroute_result"] == "failed"
    assert records[-1].detail == "last cause NORMAL_TEMPORARY_FAILURE" + ("; max_seconds 25 spent" if dialled < 3
                                                                          else "")


def test_the_trace_says_each_failed_legs_sip_status_and_why_failover_stopped(call, three, fake_freeswitch):
    session = call(three, "3000", bridge_outcomes={"gw1": "sip:503", "gw2": "sip:486"}, fsroute_trace="true")
    prefix = "fsroute trace uuid=%s " % session.uuid
    attempts = [m[len(prefix):] for m in fake_freeswitch.log_lines("notice")
                if m.startswith(prefix + "attempt ")]
    assert attempts[0].startswith("attempt 1: sofia/gateway/gw1/3000 -> NORMAL_TEMPORARY_FAILURE (sip:503) after ")
    assert attempts[0].endswith("(in failover_on: next gateway)")
    assert attempts[1].startswith("attempt 2: sofia/gateway/gw2/3000 -> USER_BUSY (sip:486) after ")
    assert attempts[1].endswith("(the callee's own rejection, not named in failover_on: stop)")


def test_the_trace_counts_the_routes_own_max_attempts(call, three, fake_freeswitch):
    session = call(three, "2000", fsroute_trace="true")
    prefix = "fsroute trace uuid=%s " % session.uuid
    assert any("at most max_attempts=2 dialled" in m for m in fake_freeswitch.log_lines("notice")
               if m.startswith(prefix))


def test_the_breaker_counts_what_failover_counts(write_rules, fake_freeswitch, call):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules("""\
        version: 1
        defaults: {breaker: {failures: 2, window: 60, cooldown: 60}}
        groups:
          pair: {strategy: priority, gateways: [gw1, gw2], failover_on: ['sip:502']}
        routes:
          - {name: r, group: pair}
        """)
    def gw1():
        return next(line for line in ctl.command("status %s" % path).splitlines() if line.startswith("  gw1 "))
    for _ in range(3):  # declines whose Reason says 41 are the callee's: gw1 is not benched for them
        assert len(call(path, "1", bridge_outcomes={"gw1": "sip:603 NORMAL_TEMPORARY_FAILURE"}).bridges) == 1
    assert gw1().endswith("breaker closed, 0 recent failures")
    for _ in range(2):  # the group fails over on 502: so does its breaker count it
        call(path, "1", bridge_outcomes={"gw1": "sip:502 NETWORK_OUT_OF_ORDER"})
    assert "breaker benched until" in gw1()
