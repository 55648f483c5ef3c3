"""A fraud rule's concurrent calls with limits.backend hiredis: the fleet's count, held by the limit application."""

import pytest

from fsroute import route
from fsroute.core import loader
from fsroute.runtime import fraud
from fsroute.runtime.fleet import RedisFleet
from meanwhile import when_set
from test_fraud import FRAUD_RULES, fraud_events, switch  # noqa: F401  (the fixture)

HIREDIS = FRAUD_RULES.replace("version: 1\n", "version: 1\ndefaults:\n  limits: {backend: hiredis}\n").replace(
    "    calls: {warn: 2, block: 4}\n", "    concurrent: {warn: 2, block: 3}\n")
RESOURCE = "fsroute.fraud.premium-burst.10.1.1.1.concurrent"
COUNT = ("hiredis", RESOURCE)


@pytest.fixture
def fleet(switch):  # noqa: F811
    """The fleet of the rules' hiredis profile, without its thread (the test sends nothing to Redis)."""
    fraud.forget()
    found = fraud._fleets["fsroute"] = RedisFleet("fsroute", fraud.STATE, fraud.level_reached,
                                                  run_api=lambda command: "", start=lambda target: None)
    yield found
    fraud.forget()


def held_call(stub_session, path):
    session = stub_session({"destination_number": "449001234", "network_addr": "10.1.1.1"}, stay_up=True)
    route.handler(session, path)
    return session


def test_the_fleets_concurrent_calls_reach_the_level_and_the_switch_gives_them_back_at_hangup(
        switch, fleet, write_rules, stub_session):  # noqa: F811
    path = write_rules(HIREDIS)
    switch.limits.counts[COUNT] = 1  # a call of this account up on another switch of the fleet
    first = held_call(stub_session, path)
    assert ("limit", "hiredis fsroute %s - !NORMAL_TEMPORARY_FAILURE" % RESOURCE) in first.executed
    assert first.variables["fsroute_result"] == "bridged"
    assert fraud_events(switch) == [("warn", "concurrent", "2")]  # this switch alone has 1: the fleet has 2
    second = held_call(stub_session, path)
    assert fraud_events(switch)[1:] == [("block", "concurrent", "3")]
    assert switch.limits.counts[COUNT] == 3
    first.hangup()  # however the calls end, the switch gives their counts back
    second.hangup()
    assert switch.limits.counts[COUNT] == 1


def never_held(rule, key):
    raise AssertionError("no fleet count expected for %s %s" % (rule, key))


def test_hash_counts_concurrent_calls_on_this_switch_only(switch, fleet, write_rules, stub_session):  # noqa: F811
    path = write_rules(HIREDIS.replace("backend: hiredis", "backend: hash"))
    assert not [data for app, data in held_call(stub_session, path).executed if app == "limit"]
    rules = loader.parse(HIREDIS.replace("backend: hiredis", "backend: hash"))
    for _ in range(2):  # two calls up at once on this switch (a stub call is over when its handler returns)
        fraud.start(rules, "acme", "449001", "premium", 1796601600.0, None, hold=never_held)
    assert fraud_events(switch) == [("warn", "concurrent", "2")]


def test_redis_failing_the_count_refuses_that_call_and_the_next_ones_are_judged_on_this_switch(
        switch, fleet, write_rules, stub_session):  # noqa: F811
    path = write_rules(HIREDIS)
    switch.limits.redis_up = False
    refused = held_call(stub_session, path)
    assert (refused.variables["fsroute_result"], refused.hangup_cause) == ("failed", "NORMAL_TEMPORARY_FAILURE")
    assert refused.bridges == []
    assert "fraud rule premium-burst: its limit backend failed" in [m for _, m in switch.logs if "failed" in m][-1]
    assert not fleet.healthy
    later = held_call(stub_session, path)  # no limit tried while Redis is out: the call routes
    assert later.variables["fsroute_result"] == "bridged"
    assert not [data for app, data in later.executed if app == "limit"]
    for _ in range(2):
        fraud.start(loader.parse(HIREDIS), "acme", "449001", "premium", 1796601600.0, None, hold=never_held)
    assert fraud_events(switch) == [("warn", "concurrent", "2")]  # judged on this switch's own count
    assert fleet.poll() is None and fleet.healthy is False  # Redis still out (the thread tries every 5 s)


def test_with_ignore_connect_fail_a_call_redis_did_not_count_goes_on(
        switch, fleet, write_rules, stub_session):  # noqa: F811
    path = write_rules(HIREDIS)
    switch.limits.redis_up, switch.limits.ignore_connect_fail = False, True
    call = held_call(stub_session, path)
    assert call.variables["fsroute_result"] == "bridged"
    assert fleet.healthy  # the limit counted nothing and said nothing: this call is judged here


def test_a_call_refused_by_a_block_holds_no_fleet_count(switch, fleet, write_rules, stub_session):  # noqa: F811
    path = write_rules(HIREDIS)
    switch.limits.counts[COUNT] = 2
    held_call(stub_session, path)  # the fleet's third: block
    refused = held_call(stub_session, path)
    assert refused.variables["fsroute_result"] == "fraud_blocked"
    assert not [data for app, data in refused.executed if app == "limit"]
    assert switch.limits.counts[COUNT] == 3



def test_a_caller_who_hangs_up_before_the_count_is_not_a_redis_failure(
        switch, fleet, write_rules):  # noqa: F811
    # the limit application finds the channel hung up by its caller, not by its own !CAUSE: the call is
    # over ("caller hung up"), and the fleet's Redis is not taken for unreachable (which would keep this
    # switch's counts out of it for RETRY_SECONDS, with a misleading WARNING)
    path = write_rules(HIREDIS)
    leaves_now = when_set("hiredis_raw_response", lambda session: session.hangup("ORIGINATOR_CANCEL"))
    session = leaves_now({"destination_number": "449001234", "network_addr": "10.1.1.1"}, fake=switch)
    route.handler(session, path)
    assert session.bridges == []
    assert session.variables["fsroute_result"] == "failed"
    assert "caller hung up" in [m for _, m in switch.logs if "fsroute uuid=%s" % session.uuid in m][-1]
    assert fleet.healthy
    assert not [m for _, m in switch.logs if "cannot reach Redis" in m]
