"""The call length an lcr route prices its carriers at: its expected_seconds, else the destination's measured
ACD from the quality windows, else the default (issue 25 with issue 23's tracker), with an injected clock."""

import pytest

from fsroute import ctl
from fsroute.core import lcr
from fsroute.core.legs import Dial
from fsroute.core.model import Lcr, Outcome
from fsroute.core.quality import Acd
from fsroute.runtime import process
from fsroute.runtime.call import route_with
from fsroute.runtime.record import Attempt, CallRecord
from fsroute.testing import StubSession

RULES = """\
version: 1
defaults:
  quality: {min_samples: 3, classes: {de_mobile: ['4915']}}
carriers:
  fee: {deck: fee.csv, gateway: gw_fee}
  flat: {deck: flat.csv, gateway: gw_flat}
routes:
  - {name: intl, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [fee, flat]}}
  - {name: fixed, match: {destination_number: '^01(\\d+)$'}, number: '$1',
     lcr: {carriers: [fee, flat], expected_seconds: 180}}
"""
# fee: 0.05 to connect and 0.01 a minute; flat: 0.03 a minute. Even at 150 s: fee is cheaper for longer calls.
FEE = "prefix,rate,connect_fee\n49,0.010,0.050\n44,0.010,0.050\n"
FLAT = "prefix,rate\n49,0.030\n44,0.030\n"


def test_the_measured_acd_needs_a_class_and_min_samples_answered_calls_and_says_so():
    assert (Acd(None, 0, 0.0, (), 3).seconds, Acd(None, 0, 0.0, (), 3).why()) == (
        None, "the number is in no destination class")
    assert (Acd("m", 2, 60.0, ("gw1",), 3).seconds, Acd("m", 2, 60.0, ("gw1",), 3).why()) == (
        None, "2 answered calls of class m through gw1 in the window, fewer than min_samples 3")
    assert Acd("m", 0, 0.0, (), 3).why() == \
        "0 answered calls of class m through its gateways in the window, fewer than min_samples 3"
    enough = Acd("m", 3, 96.0, ("gw1", "gw3"), 3)
    assert (enough.seconds, enough.why()) == (
        32.0, "the measured ACD of class m: 32.0 s over 3 answered calls through gw1, gw3")


MEASURED = Acd("m", 4, 130.0, ("gw1",), 3)  # 32.5 s


@pytest.mark.parametrize("own, measured, seconds, why", [
    (45, MEASURED, 45, "the route's expected_seconds"),
    (None, MEASURED, 33, "the measured ACD of class m: 32.5 s over 4 answered calls through gw1"),
    (None, Acd("m", 5, 1.0, ("gw1",), 3), 1, "the measured ACD of class m: 0.2 s over 5 answered calls through "
     "gw1"),  # never a call of 0 s: it would cost nothing
    (None, Acd("m", 2, 60.0, ("gw1",), 3), 180, "the default (2 answered calls of class m through gw1 in the "
     "window, fewer than min_samples 3)"),
    (None, None, 180, "the default"),
])
def test_the_call_length_is_the_routes_else_the_measured_acd_else_the_default(own, measured, seconds, why):
    length = lcr.call_length(Lcr((), None, None, expected_seconds=own), measured)
    assert (length.seconds, length.why()) == (seconds, why)


@pytest.fixture
def switch(tmp_path, clock, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw_fee", "gw_flat"])
    (tmp_path / "fee.csv").write_text(FEE)
    (tmp_path / "flat.csv").write_text(FLAT)
    (tmp_path / "rules.yaml").write_text(RULES)
    clock.advance(5)  # decks are read once they have been still for 2 s
    return process.store_for(str(tmp_path / "rules.yaml"), clock=clock)


def answered(store, gateway, number, talk):
    """An answered call's record, as the call loop hands it to the quality observer."""
    dial = Dial(gateway, number, "", (), ())
    attempt = Attempt(gateway, "SUCCESS", talk + 1.0, dial, answered_after=1.0)
    generation = store.current()
    generation.quality.observe(CallRecord("u", Outcome.BRIDGED, None, None, None, number=number,
                                          attempts=(attempt,)), table_of=generation.table_of)


def placed(store, fake_freeswitch, dest):
    """(the gateways dialled, the call's variables, its trace lines). The caller's channel was answered
    before fsroute (an IVR's), so that these calls add no talk time of their own to the measured ACD."""
    session = StubSession({"destination_number": dest, "network_addr": "127.0.0.1", "fsroute_trace": "true",
                           "fsroute_now": "2026-01-01T00:00:00Z", "answered_time": "1767225590000000"},
                          fake=fake_freeswitch)
    route_with(session, store.current)
    trace = [m.split(" ", 3)[3] for m in fake_freeswitch.log_lines("notice") if session.uuid in m]
    return [d.split("/")[2] for d, _ in session.bridges], session.variables, trace


def test_an_lcr_route_prices_at_the_destinations_measured_acd_once_it_has_min_samples(switch, clock,
                                                                                     fake_freeswitch):
    gateways, variables, trace = placed(switch, fake_freeswitch, "00491511000")
    assert (gateways[0], variables["fsroute_lcr_seconds"]) == ("gw_fee", "180")  # 0.08 against 0.09
    assert "priced as a 180 s call: the default (0 answered calls of class de_mobile through its gateways in " \
           "the window, fewer than min_samples 3)" in trace
    answered(switch, "gw_flat", "491511000", 30.0)
    answered(switch, "gw_flat", "491512000", 30.0)
    answered(switch, "gw_fee", "4930000", 600.0)   # another destination: not this class's figure
    trace = placed(switch, fake_freeswitch, "00491511000")[2]
    assert "priced as a 180 s call: the default (2 answered calls of class de_mobile through gw_flat in the " \
           "window, fewer than min_samples 3)" in trace
    answered(switch, "gw_fee", "491513000", 36.0)
    gateways, variables, trace = placed(switch, fake_freeswitch, "00491511000")
    # a 32 s call: flat 0.016, fee 0.05 + 0.005334: the short calls this destination makes go to flat
    assert (gateways, variables["fsroute_lcr_seconds"], variables["fsroute_lcr_cost"]) == (["gw_flat"], "32", "0.016")
    assert "priced as a 32 s call: the measured ACD of class de_mobile: 32.0 s over 3 answered calls through " \
           "gw_fee, gw_flat" in trace
    assert "its carriers for 491511000, cheapest 32 s call first: flat (prefix 49: 0.03/min x 32 s billed (1/1) " \
           "= 0.016), fee (prefix 49: 0.05 + 0.01/min x 32 s billed (1/1) = 0.055334)" in trace
    # a dry run (ctl test) prices the same call the same way
    assert "gateways: gw_flat gw_fee" in ctl.test(switch.path, "00491511000", at="2026-01-01T00:00:00Z").splitlines()
    # a number in no class, and a route with its own expected_seconds, keep their length
    assert placed(switch, fake_freeswitch, "00441000")[2][2] == \
        "priced as a 180 s call: the default (the number is in no destination class)"
    gateways, variables, trace = placed(switch, fake_freeswitch, "01491511000")
    assert (gateways[0], variables["fsroute_lcr_seconds"]) == ("gw_fee", "180")
    assert "priced as a 180 s call: the route's expected_seconds" in trace
    clock.advance(900)  # the window forgets the calls: the default again
    gateways, variables, _ = placed(switch, fake_freeswitch, "00491511000")
    assert (gateways[0], variables["fsroute_lcr_seconds"]) == ("gw_fee", "180")


def test_without_quality_the_default_stands_and_says_so(switch, fake_freeswitch, tmp_path, clock):
    (tmp_path / "plain.yaml").write_text(RULES.replace("  quality: {min_samples: 3, classes: {de_mobile: ['4915']}}",
                                                       "  status_ttl: 60"))
    store = process.store_for(str(tmp_path / "plain.yaml"), clock=clock)
    gateways, variables, trace = placed(store, fake_freeswitch, "00491511000")
    assert (gateways[0], variables["fsroute_lcr_seconds"]) == ("gw_fee", "180")
    assert "priced as a 180 s call: the default" in trace


def test_fsroute_lcr_says_the_measured_acd_is_the_switchs(switch, capsys):
    from fsroute.tools.cli import main

    assert main(["lcr", switch.path, "00491511000", "--at", "2026-01-01T00:00:00Z"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "each carrier priced as a 180 s call (the default; the destination's measured ACD is known inside the "
        "switch only: 'python fsroute.ctl test' prices with it): connect_fee + rate x billed seconds / 60, the "
        "seconds billed in the row's increments (initial/next; none: 1/1)")


def test_the_measured_acd_of_a_class_read_from_a_number_table(tmp_path, clock, fake_freeswitch):
    # the class comes from a table's column (class_tables), as quality verdicts read it
    fake_freeswitch.set_gateways("external", up=["gw_fee", "gw_flat"])
    (tmp_path / "fee.csv").write_text(FEE)
    (tmp_path / "flat.csv").write_text(FLAT)
    (tmp_path / "regions.csv").write_text("prefix,region\n4915,de_mobile\n")
    (tmp_path / "rules.yaml").write_text(RULES.replace(
        "  quality: {min_samples: 3, classes: {de_mobile: ['4915']}}",
        "  quality: {min_samples: 3, class_tables: [{table: regions, column: region}]}\n"
        "tables:\n  regions: {file: regions.csv, key: prefix, columns: {key: prefix}, action: continue}"))
    clock.advance(5)
    store = process.store_for(str(tmp_path / "rules.yaml"), clock=clock)
    for talk in (30.0, 30.0, 36.0):
        answered(store, "gw_flat", "491511000", talk)
    gateways, variables, trace = placed(store, fake_freeswitch, "00491511000")
    assert (gateways, variables["fsroute_lcr_seconds"]) == (["gw_flat"], "32")
    assert "priced as a 32 s call: the measured ACD of class de_mobile: 32.0 s over 3 answered calls through " \
           "gw_flat" in trace
