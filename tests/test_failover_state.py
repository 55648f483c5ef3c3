"""What one attempt leaves on the channel never leaks into the next, and least-cost attempts are
held to the same breakers and limits as group routes (fixes from a review of runtime.call)."""

import pytest

from fsroute import route
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
    [line] = [m for m in fake_freeswitch.log_lines("info") if session.uuid in m]
    assert " tried=gw1:%s,gw2:UNKNOWN " % FAIL in line
