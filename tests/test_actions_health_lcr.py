"""Route actions' dial strings beside health's limits and least-cost routing (merge of actions with
health and lcr): the dial string legs.dial_for builds is what goes inside limit_execute, what the
event and the trace record, and a least-cost attempt's number is the carrier's format, then the
gateway's own (docs/actions.md)."""

import pytest

from fsroute import ctl
from fsroute.core import loader
from fsroute.runtime import process
from fsroute.runtime.events import ROUTE

LIMITED = """\
    version: 1
    gateways:
      gw1:
        max_calls: 2
        number: '1234#$0'
        strip: 2
        leg: {sip_h_X-Account: 'acc,1'}
        caller_id: {match: '^(\\d+)$', number: '+49$1'}
        export: {sip_h_X-Tag: 't-${caller_id_number}'}
    groups:
      pair: {strategy: priority, gateways: [gw1, gw2], max_calls: 5}
    routes:
      - name: premium
        match: {destination_number: '^1900'}
        hangup: CALL_REJECTED
      - name: out
        match: {destination_number: '^(\\d+)$'}
        group: pair
"""

DIAL_GW1 = "[sip_h_X-Account=acc\\,1,origination_caller_id_number=+491000]sofia/gateway/gw1/1234#51000"


@pytest.fixture
def limited(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return write_rules(LIMITED)


def test_the_built_dial_string_goes_inside_the_limits(call, limited, fake_freeswitch):
    session = call(limited, "0051000")
    assert session.executed[0] == (
        "limit_execute", "hash fsroute fsroute.group.pair 5 limit_execute hash fsroute fsroute.gw.gw1 2 bridge "
        + DIAL_GW1)
    assert (session.variables["fsroute_result"], session.variables["sip_h_X-Tag"]) == ("bridged", "t-1000")
    assert "sip_h_X-Tag" in session.variables["export_vars"].split(",")
    [event] = fake_freeswitch.fired(ROUTE)
    assert event["fsroute-attempt-1-dialstring"] == DIAL_GW1  # the bridge argument, not the limit wrapper


def test_a_limit_refusal_fails_over_to_the_next_gateways_own_dial_string(call, limited, stub_session,
                                                                          fake_freeswitch):
    from fsroute import route
    held = []
    for _ in range(2):
        session = stub_session({"destination_number": "0051000", "caller_id_number": "1000"}, stay_up=True)
        route.handler(session, limited)
        held.append(session)
    third = call(limited, "0051000")
    assert third.variables["fsroute_skipped"] == "gw1:at_limit"
    assert [e for e in third.executed if e[0] == "limit_execute"][-1] == (
        "limit_execute", "hash fsroute fsroute.group.pair 5 bridge sofia/gateway/gw2/0051000")
    assert (third.variables["fsroute_gateway"], third.variables["fsroute_result"]) == ("gw2", "bridged")


def test_a_route_action_never_dials_so_no_limit_is_counted(call, limited, fake_freeswitch):
    session = call(limited, "19001234567")
    assert not [e for e in session.executed if e[0] in ("limit_execute", "bridge")]
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("blocked", "CALL_REJECTED")
    assert fake_freeswitch.api("limit_usage hash fsroute fsroute.gw.gw1") == "0"


LCR = """\
    version: 1
    gateways:
      gwa: {number: '9#$0', strip: 1, leg: {leg_timeout: 7}}
    carriers:
      carrier_a: {deck: a.csv, gateway: gwa, number_format: '+{number}', currency: USD}
      carrier_b: {deck: b.csv, gateway: gwb, number_format: '00{number}', currency: USD}
    routes:
      - name: blocked
        match: {destination_number: '^00999'}
        hangup: USER_BUSY
      - name: international
        match: {destination_number: '^00(\\d+)$'}
        number: '$1'
        set: {route_tag: 'lcr-$1'}
        lcr: {carriers: [carrier_a, carrier_b]}
"""


@pytest.fixture
def lcr_rules(write_rules, fake_freeswitch, tmp_path):
    fake_freeswitch.set_gateways("external", up=["gwa", "gwb"])
    (tmp_path / "a.csv").write_text("prefix,rate\n49,0.010\n")
    (tmp_path / "b.csv").write_text("prefix,rate\n49,0.020\n")
    path = write_rules(LCR)
    assert len(process.store_for(path).current().decks) == 2  # the decks load with the rules
    return path


def test_the_carrier_format_applies_first_then_the_gateways_own(call, lcr_rules, fake_freeswitch):
    session = call(lcr_rules, "0049301234", bridge_outcomes={"gwa": "NORMAL_TEMPORARY_FAILURE"})
    # carrier_a: '+{number}' -> +49301234; gwa strips 1 -> 49301234, then '9#$0' -> 9#49301234
    assert [d for a, d in session.executed if a == "bridge"] == [
        "[leg_timeout=7]sofia/gateway/gwa/9#49301234", "sofia/gateway/gwb/0049301234"]
    assert (session.variables["fsroute_lcr_carrier"], session.variables["route_tag"]) == ("carrier_b", "lcr-49301234")
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-attempt-1-dialstring"], event["fsroute-attempt-1-lcr-carrier"],
            event["fsroute-attempt-2-lcr-carrier"]) == (
        "[leg_timeout=7]sofia/gateway/gwa/9#49301234", "carrier_a", "carrier_b")


def test_a_route_action_ahead_of_an_lcr_route_takes_the_call(call, lcr_rules):
    session = call(lcr_rules, "00999123")
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("blocked", "USER_BUSY")
    assert not [a for a, _ in session.executed if a == "bridge"]


def test_ctl_test_shows_the_built_dial_string_with_the_carrier(lcr_rules, fake_freeswitch):
    ctl.preload(lcr_rules)
    answer = ctl.test(lcr_rules, "0049301234")
    assert "  [leg_timeout=7]sofia/gateway/gwa/9#49301234  carrier=carrier_a prefix=49 rate=0.01" in answer
    assert "  sofia/gateway/gwb/0049301234  carrier=carrier_b prefix=49 rate=0.02" in answer


def test_strict_gateways_covers_a_carriers_gateway(write_rules):
    from fsroute.core.model import RulesError
    path = write_rules(LCR.replace("    version: 1\n", "    version: 1\n    defaults: {strict_gateways: true}\n"))
    with pytest.raises(RulesError) as info:
        loader.load(path)
    assert [str(p).split("rules.yaml:")[1] for p in info.value.problems] == [
        "7:37: carrier 'carrier_b': gateway 'gwb' is not declared under gateways (strict_gateways) "
        "(did you mean 'gwa'?)"]
