"""Redis (hiredis limits) stopped under load then started again, and FreeSWITCH killed with calls up
(issue 21): what calls get meanwhile, the counts after, what is left behind. docs/reliability.md has
the outcomes and the bounds."""

import os
import signal
import time

import pytest

from .harness import Caller, Switch
from .harness.switch import fsroute_lines, parse_line
from .test_health import HIREDIS_CONF, Redis, eventually

# The profile of test_health with delete-when-zero: a count that reaches 0 (or less) is deleted, so
# the releases of calls counted by a Redis that restarted empty do not leave it negative.
CONF = HIREDIS_CONF.replace('<params><param name="ignore-connect-fail" value="false"/></params>',
                            '<params><param name="ignore-connect-fail" value="false"/>'
                            '<param name="delete-when-zero" value="true"/></params>')
RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  limits: {backend: hiredis, realm: fleet}
gateways:
  gw1: {max_calls: 20}
groups:
  ordered: {strategy: priority, gateways: [gw1, gw2]}
routes:
  - {name: ordered, match: {destination_number: '^(\\d+)$'}, group: ordered}
"""
KEY = "fleet.gw.gw1"


@pytest.fixture(scope="module")
def counted(bundle, gateways, workdirs):
    """Redis and a FreeSWITCH whose gw1 calls it counts."""
    assert "delete-when-zero" in CONF
    redis = Redis(workdirs("redis"))
    switch = Switch(bundle, workdirs("hiredis"), gateways, RULES, extra_modules=("mod_hiredis",),
                    extra_config=CONF % redis.port)
    try:
        switch.start()
        switch.wait_gateways(down=(), timeout=15)
        yield redis, switch
    finally:
        switch.stop()
        redis.stop()


def fresh(gateways):
    for gw in gateways.values():
        gw.mode, gw.hangup_after = "answer", None
        if not gw.is_open:
            gw.reopen()
        gw.reset()


def outcomes(switch, mark, results):
    """(gateway, skipped) of each call, in the order placed, from fsroute's log lines."""
    deadline = time.monotonic() + 10
    while len(fsroute_lines(switch.log_since(mark))) < len(results) and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = fsroute_lines(switch.log_since(mark))
    found = []
    for result in results:
        uuid = switch.cdr_for(result.call_id)["uuid"]
        [line] = [l for l in lines if l.startswith("fsroute uuid=%s " % uuid)]
        fields = parse_line(line)
        found.append((fields["tried"].split(":")[0], fields.get("skipped", "-")))
    return found


def test_redis_stopped_under_load_then_started_again_loses_no_call_and_leaves_counts_at_0(counted, gateways):
    redis, switch = counted
    fresh(gateways)
    mark = switch.log_mark()
    calls = []
    with Caller(switch.sip_address) as caller:
        start = time.monotonic()
        for n in range(60):  # 5 calls/s, each held 6 s: up to 30 up at once
            due = start + n / 5
            time.sleep(max(0.0, due - time.monotonic()))
            if n == 15:
                redis.stop()   # at 3 s: the 15 calls counted so far are up
            elif n == 35:
                redis.start()  # at 7 s, empty: calls 5..14 end after this and release into it
            calls.append(caller.start_call("5570%03d" % n, hold=6.0))
        results = [c.wait(30) for c in calls]
    assert [r.code for r in results] == [200] * 60
    seen = outcomes(switch, mark, results)
    assert seen[:15] == [("gw1", "-")] * 15
    assert set(seen[16:34]) == {("gw2", "gw1:limit_error")}  # fails closed: gw1's count cannot be taken
    assert set(seen[37:]) == {("gw1", "-")}                  # counted again once Redis answers
    setup = sorted(r.final_at - r.started for r in results[16:34])
    # the documented bound: a failed increment costs at most the hiredis connection's timeout_ms (500)
    assert setup[-1] < 1.0, setup
    assert eventually(lambda: redis.cli("GET", KEY), "") == ""  # back to 0 (deleted at 0), not negative
    assert switch.api("limit_usage hiredis fleet %s" % KEY).strip() == "0"
    assert eventually(lambda: switch.api("show channels count").strip(), "0 total.") == "0 total."


def kill(switch):
    """SIGKILL, as a crash or an OOM kill: no channel is hung up, no limit released."""
    process, switch.process = switch.process, None
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    try:
        switch.esl.sock.close()
    except OSError:
        pass
    switch.esl = None


def test_freeswitch_killed_with_calls_up_leaves_their_counts_until_reconciled(counted, gateways):
    redis, switch = counted
    fresh(gateways)
    with Caller(switch.sip_address) as caller:
        held = [caller.start_call("5580%03d" % n, hold=60.0) for n in range(5)]
        assert eventually(lambda: redis.cli("GET", KEY), "5", timeout=10) == "5"
        kill(switch)
        switch.start()
        for call in held:
            call.caller.cancel(call)
    switch.wait_gateways(down=(), timeout=15)
    # the killed calls' counts stay: at most the calls that were up, until reconciled
    assert redis.cli("GET", KEY) == "5"
    assert switch.wait_log("fsroute: loaded %s" % switch.rules_path)  # the rules are loaded again at start
    status = switch.api("python fsroute.ctl status")
    assert "calls 5/20" in status, status
    # reconcile when no call of any switch of the fleet is up on gw1: one command
    assert switch.api("hiredis_raw fleet del %s" % KEY).strip() == "1"
    mark = switch.log_mark()
    with Caller(switch.sip_address) as caller:
        result = caller.call("5581000", hold=0.3)
    assert result.code == 200
    assert outcomes(switch, mark, [result]) == [("gw1", "-")]
    assert eventually(lambda: redis.cli("GET", KEY), "") == ""
