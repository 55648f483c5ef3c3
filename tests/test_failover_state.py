"""What one attempt leaves on the channel never leaks into the next, and least-cost attempts are
held to the same breakers and limits as group routes (fixes from a review of runtime.call)."""

import pytest

from fsroute import route
from fsroute.runtime import process
from fsroute.runtime.events import ROUTE
from fsroute.testing import StubSession

FAILOVER = """\
    version: 1
    gateways:
      gw1: {set: {tag: one}, export: {carrier: one}, max_calls: 1}
      gw2: {}
    groups:
      pair: {strategy: priority, gateways: [gw1, gw2]}
      back: {strategy: priority, gateways: [gw2, gw1]}
    routes:
      - name: hold
        match: {destination_number: '^9'}
        gateway: gw1
      - name: back
        match: {destination_number: '^8'}
        group: back
      - name: out
        match: {destination_number: '^(\\d+)$'}
        group: pair
        set: {route_tag: r}
        export: {route_exp: r}
"""

FAIL = "NORMAL_TEMPORARY_FAILURE"


@pytest.fixture
def failover(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return write_rules(FAILOVER)


def test_a_gateways_set_and_export_values_do_not_follow_the_call_to_the_next_gateway(call, failover):
    session = call(failover, "5551000", bridge_outcomes={"gw1": FAIL}, export_vars="keep")
    assert [d for d, _ in session.bridges] == ["sofia/gateway/gw1/5551000", "sofia/gateway/gw2/5551000"]
    assert session.variables["fsroute_result"] == "bridged"
    assert "tag" not in session.variables and "carrier" not in session.variables
    assert (session.variables["route_tag"], session.variables["route_exp"]) == ("r", "r")  # the route's stay
    assert session.variables["export_vars"] == "keep,route_exp"


def test_a_value_the_dialplan_set_comes_back_when_the_next_gateway_does_not_set_it(failover, fake_freeswitch):
    # gw1's set:/export: override the dialplan's tag and carrier; gw2 sets neither, so its attempt gets
    # the dialplan's values, not none (carrier stays in export_vars: the dialplan exported it itself)
    class Spy(StubSession):
        def _bridge(self, data):
            self.seen.append((data, self.variables.get("tag"), self.variables.get("carrier")))
            super()._bridge(data)
    session = Spy({"destination_number": "5551000", "tag": "dialplan", "carrier": "dialplan",
                   "export_vars": "carrier"}, {"gw1": FAIL}, fake=fake_freeswitch)
    session.seen = []
    route.handler(session, failover)
    assert session.seen == [("sofia/gateway/gw1/5551000", "one", "one"),
                            ("sofia/gateway/gw2/5551000", "dialplan", "dialplan")]
    assert session.variables["export_vars"] == "carrier,route_exp"


def test_a_gateway_not_dialled_leaves_the_last_dialled_attempts_values(call, failover, stub_session):
    held = stub_session({"destination_number": "9000"}, stay_up=True)
    route.handler(held, failover)  # gw1 is at its max_calls from now on
    session = call(failover, "8000", bridge_outcomes={"gw2": FAIL}, export_vars="keep")
    assert [d for d, _ in session.bridges] == ["sofia/gateway/gw2/8000"]
    assert session.variables["fsroute_skipped"] == "gw1:at_limit"
    assert session.variables["fsroute_gateway"] == "gw2"
    assert "tag" not in session.variables and "carrier" not in session.variables
    assert session.variables["export_vars"] == "keep"


class SilentBridge(StubSession):
    """A switch whose bridge to gw2 returns without setting originate_disposition or its cause."""

    def _bridge(self, data):
        if "/gw2/" in data:
            self.bridges.append((data, ""))
            return
        super()._bridge(data)


def test_a_bridge_that_sets_no_cause_does_not_read_the_previous_attempts(failover, fake_freeswitch):
    session = SilentBridge({"destination_number": "5551000"}, {"gw1": FAIL}, fake=fake_freeswitch)
    route.handler(session, failover)
    [event] = [e for e in fake_freeswitch.fired(ROUTE) if e["Unique-ID"] == session.uuid]
    assert event["fsroute-tried"] == "gw1:%s,gw2:UNKNOWN" % FAIL


LCR = """\
    version: 1
    defaults:
      breaker: {failures: 3, window: 10, cooldown: 30, max_cooldown: 120}
    groups:
      pool: {strategy: least_calls, gateways: [gw1, gw3], max_calls: 5}
    carriers:
      cheap: {deck: a.csv, group: pool, currency: USD}
      dear: {deck: b.csv, gateway: gw2, currency: USD}
    routes:
      - name: intl
        match: {destination_number: '^00(\\d+)$'}
        number: '$1'
        lcr: {carriers: [cheap, dear]}
"""


@pytest.fixture
def lcr_rules(write_rules, fake_freeswitch, tmp_path):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    (tmp_path / "a.csv").write_text("prefix,rate\n49,0.010\n")
    (tmp_path / "b.csv").write_text("prefix,rate\n49,0.020\n")
    path = write_rules(LCR)
    assert len(process.store_for(path).current().decks) == 2  # the decks load with the rules
    return path


def dialled(session):
    return [d.split("/")[2] for d, _ in session.bridges]


def test_least_cost_routes_leave_out_benched_gateways_then_are_all_down(call, lcr_rules, fake_freeswitch):
    cheap_fails = {"gw1": FAIL, "gw3": FAIL}
    for _ in range(3):
        call(lcr_rules, "0049301234", bridge_outcomes=cheap_fails)
    session = call(lcr_rules, "0049301234", bridge_outcomes=cheap_fails)
    assert dialled(session) == ["gw2"]  # the cheap carrier's gateways are benched
    assert sorted(session.variables["fsroute_skipped"].split(",")) == ["gw1:benched", "gw3:benched"]
    everything = dict(cheap_fails, gw2=FAIL)
    for _ in range(3):
        call(lcr_rules, "0049301234", bridge_outcomes=everything)
    session = call(lcr_rules, "0049301234")
    assert session.bridges == [] and session.variables["fsroute_result"] == "all_down"
    event = fake_freeswitch.fired(ROUTE)[-1]
    assert (event["fsroute-result"], event["fsroute-attempts"]) == ("all_down", "0")
    assert sorted(event["fsroute-skipped"].split(",")) == ["gw1:benched", "gw2:benched", "gw3:benched"]


def test_a_carrier_groups_limits_and_least_calls_apply_to_its_attempts(lcr_rules, fake_freeswitch, stub_session):
    picks = []
    for _ in range(3):
        session = stub_session({"destination_number": "0049301234"}, stay_up=True)
        route.handler(session, lcr_rules)
        picks.append(dialled(session)[0])
    assert picks == ["gw1", "gw3", "gw1"]  # least_calls: the fewest active calls first
    assert session.executed[0] == ("limit_execute", "hash fsroute fsroute.group.pool 5 limit_execute "
                                   "hash fsroute fsroute.gw.gw1 - bridge sofia/gateway/gw1/49301234")
    assert fake_freeswitch.api("limit_usage hash fsroute fsroute.group.pool") == "3"
