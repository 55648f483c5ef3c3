"""Route actions and built dial strings as observability sees them: the fsroute::route event,
the per-call trace and the metrics carry what fsroute really did (merge of actions with obs)."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fsroute import ctl
from fsroute.runtime.events import ROUTE

RULES = """\
    version: 1
    defaults: {strict_gateways: true}
    gateways:
      carrier_a: {number: '1234#$0', strip: 1, leg: {sip_h_X-Account: 'acc,1|x', leg_timeout: 20}}
      carrier_b:
        number: '+$0'
        caller_id: {match: '^0(\\d+)$', number: '+49$1'}
    groups:
      both: {strategy: priority, gateways: [carrier_a, carrier_b]}
    routes:
      - name: premium
        match: {destination_number: '^1900\\d{7}$'}
        hangup: CALL_REJECTED
      - name: to ivr
        match: {destination_number: '^8(\\d{3})$'}
        transfer: '$1 XML ivr'
      - name: leave it
        match: {destination_number: '^7'}
        continue: true
      - name: var gw
        match: {destination_number: '^1(\\d{10})$'}
        gateway: '${default_gateway}'
      - name: intl
        match: {destination_number: '^00(\\d+)$'}
        number: '$1'
        group: both
        leg: {leg_progress_timeout: 5}
"""

DIAL_A = "[sip_h_X-Account=acc\\,1\\|x,leg_timeout=20,leg_progress_timeout=5]sofia/gateway/carrier_a/1234#930123"
DIAL_B = "[leg_progress_timeout=5,origination_caller_id_number=+49301234]sofia/gateway/carrier_b/+4930123"


@pytest.fixture
def rules_path(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["carrier_a", "carrier_b"])
    return write_rules(RULES)


def bridges(session):
    return [data for app, data in session.executed if app == "bridge"]


def test_the_event_records_each_attempts_dial_string_as_bridged(call, rules_path, fake_freeswitch):
    session = call(rules_path, "004930123", caller_id_number="0301234",
                   bridge_outcomes={"carrier_a": "NORMAL_TEMPORARY_FAILURE"})
    assert bridges(session) == [DIAL_A, DIAL_B]
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-attempt-1-dialstring"], event["fsroute-attempt-2-dialstring"]) == (DIAL_A, DIAL_B)
    assert (event["fsroute-attempt-1-gateway"], event["fsroute-attempt-2-gateway"]) == ("carrier_a", "carrier_b")
    assert event["fsroute-number"] == "4930123" and event["fsroute-result"] == "bridged"


def test_the_trace_shows_the_dial_string_that_was_bridged(call, rules_path, fake_freeswitch):
    session = call(rules_path, "004930123", caller_id_number="0301234", fsroute_trace="true",
                   bridge_outcomes={"carrier_a": "NORMAL_TEMPORARY_FAILURE"})
    prefix = "fsroute trace uuid=%s " % session.uuid
    lines = [m[len(prefix):] for m in fake_freeswitch.log_lines("notice") if m.startswith(prefix)]
    attempts = [line for line in lines if line.startswith("attempt ")]
    assert attempts[0].startswith("attempt 1: %s -> NORMAL_TEMPORARY_FAILURE after " % DIAL_A)
    assert attempts[1].startswith("attempt 2: %s -> SUCCESS after " % DIAL_B)
    assert any(line.startswith("decision route") for line in lines)


def test_a_variable_gateway_is_traced_and_recorded(call, rules_path, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["carrier_a", "carrier_b"])
    session = call(rules_path, "15552345678", default_gateway="carrier_b", fsroute_trace="true")
    assert bridges(session) == ["sofia/gateway/carrier_b/+15552345678"]
    [event] = fake_freeswitch.fired(ROUTE)
    assert event["fsroute-attempt-1-dialstring"] == "sofia/gateway/carrier_b/+15552345678"
    prefix = "fsroute trace uuid=%s " % session.uuid
    lines = [m[len(prefix):] for m in fake_freeswitch.log_lines("notice") if m.startswith(prefix)]
    assert "gateway ${default_gateway} of route 'var gw': order carrier_b" in lines


@pytest.mark.parametrize("dest, result, route, hangup", [
    ("19001234567", "blocked", "premium", "CALL_REJECTED"),
    ("8123", "transferred", "to ivr", None),
    ("7000", "continued", "leave it", None),
])
def test_an_action_is_one_event_with_its_result_and_no_attempts(call, rules_path, fake_freeswitch,
                                                                 dest, result, route, hangup):
    session = call(rules_path, dest, fsroute_trace="true")
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-result"], event["fsroute-route"], event.get("fsroute-hangup-cause"),
            event["fsroute-attempts"]) == (result, route, hangup, "0")
    assert "fsroute-attempt-1-gateway" not in event
    if result == "transferred":
        assert event["fsroute-number"] == "123"
    prefix = "fsroute trace uuid=%s " % session.uuid
    lines = [m[len(prefix):] for m in fake_freeswitch.log_lines("notice") if m.startswith(prefix)]
    assert any(line.startswith("decision %s" % result) for line in lines), lines
    assert "result %s%s" % (result, ", hangup %s" % hangup if hangup else "") in lines


def test_actions_are_counted_in_the_metrics(call, rules_path):
    for dest in ("19001234567", "19001234567", "8123", "7000"):
        call(rules_path, dest)
    page = {}
    for family in text_string_to_metric_families(ctl.command("metrics")):
        for sample in family.samples:
            page[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    calls = {labels: value for (name, labels), value in page.items() if name == "fsroute_calls_total"}
    assert calls == {(("result", "blocked"), ("route", "premium")): 2,
                     (("result", "transferred"), ("route", "to ivr")): 1,
                     (("result", "continued"), ("route", "leave it")): 1}
    assert page[("fsroute_call_ends_total", (("cause", "CALL_REJECTED"), ("gateway", "")))] == 2
