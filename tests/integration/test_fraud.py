"""Accounts and fraud in a real FreeSWITCH: max_cps refused at the right call under SIPp, max_calls held
until hangup, a premium burst warned then blocked, blocks lifted by time and by ctl, two switches on one
Redis blocking together, and Redis stopped under load."""

import os
import shutil
import subprocess
import time

import pytest

from .harness import Caller
from .harness.switch import clean_env
from .test_health import eventually, switches_on_one_redis

ACCOUNT_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
accounts:
  max_cps: '3/8'
routes:
  - {name: out, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
"""


def sipp(bundle, fs, calls, rate, period_ms, destination):
    """SIPp's uac scenario (the bundle's bin/sipp, else the one on PATH): ``calls`` calls, ``rate`` per
    ``period_ms``; (successful, failed)."""
    program = os.path.join(bundle, "bin", "sipp")
    program = program if os.path.exists(program) else shutil.which("sipp")
    assert program, "test_fraud.py needs SIPp: the bundle's bin/sipp or sipp on PATH"
    stat = os.path.join(fs.switch.workdir, "sipp-%d.csv" % time.monotonic_ns())
    host, port = fs.switch.sip_address
    subprocess.run([program, "%s:%d" % (host, port), "-sn", "uac", "-s", destination,
                    "-i", "127.0.0.1", "-r", str(rate), "-rp", str(period_ms), "-m", str(calls), "-d", "200",
                    "-nostdin", "-recv_timeout", "5000", "-timeout", "60s", "-trace_stat", "-stf", stat],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(), timeout=90)
    with open(stat) as f:
        rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    row = dict(zip(rows[0], rows[-1]))
    return int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])


def test_sipp_at_twice_max_cps_is_refused_from_the_fourth_call(fs, bundle):
    fs.use_rules(ACCOUNT_RULES)
    mark = len(fs.switch.cdrs())
    # 6 calls at 6 per 8 s: twice the account's 3 per 8 s. mod_hash starts a window at the whole
    # second of its first call, so a window lasts 7 to 8 s: the six calls span 6.7 s, inside one.
    assert sipp(bundle, fs, 6, 6, 8000, "5570000") == (3, 3)
    rows = eventually(lambda: len(fs.switch.cdrs()) - mark, 6)
    assert rows == 6
    cdrs = sorted(fs.switch.cdrs()[mark:], key=lambda row: int(row["sip_call_id"].split("-")[0]))
    assert [row["fsroute_result"] for row in cdrs] == ["bridged"] * 3 + ["over_limit"] * 3
    assert {row["hangup_cause"] for row in cdrs[3:]} == {"NORMAL_CIRCUIT_CONGESTION"}
    assert fs.invites()["gw1"] == 3  # nothing of a refused call reached a gateway


def test_max_calls_is_held_until_the_calls_hang_up(fs):
    fs.use_rules(ACCOUNT_RULES.replace("max_cps: '3/8'", "max_calls: 2"))
    held = [fs.caller().start_call("5571%03d" % i, hold=3.0) for i in range(2)]
    deadline = time.monotonic() + 10
    while fs.invites()["gw1"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fs.switch.api("limit_usage hash fsroute fsroute.acct.127.0.0.1") == "2"
    refused = fs.call("5571100")
    assert refused.code == 503
    cdr = fs.cdr(refused)
    assert (cdr["fsroute_result"], cdr["hangup_cause"]) == ("over_limit", "NORMAL_CIRCUIT_CONGESTION")
    assert fs.invites()["gw1"] == 2
    assert [c.wait(15).code for c in held] == [200] * 2
    assert eventually(lambda: fs.switch.api("limit_usage hash fsroute fsroute.acct.127.0.0.1"), "0") == "0"
    assert fs.call("5571101").code == 200


FRAUD_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
routes:
  - {name: premium, match: {destination_number: '^(44900\\d+)$'}, gateway: gw1}
  - {name: other, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
fraud:
  - name: premium-burst
    prefixes: ['44900']
    per: account+destination
    window: 1h
    calls: {warn: 2, block: 3}
    for: 4s
"""


def fraud_lines(switch, mark):
    return [line[line.index("fsroute: fraud"):] for line in switch.log_since(mark).splitlines()
            if "fsroute: fraud" in line]


def test_a_premium_burst_warns_then_blocks_and_the_block_lifts_by_ctl_and_by_time(fs):
    fs.use_rules(FRAUD_RULES)
    mark = fs.switch.log_mark()
    codes = [fs.call("449001111").code for _ in range(4)]
    assert codes == [200, 200, 200, 403]  # OUTGOING_CALL_BARRED
    lines = fraud_lines(fs.switch, mark)
    assert lines[0].startswith("fsroute: fraud premium-burst warn of 127.0.0.1/449001111 reached calls (2/2)")
    assert lines[1].startswith("fsroute: fraud premium-burst block of 127.0.0.1/449001111 reached calls (3/3)")
    assert fs.invites()["gw1"] == 3
    assert fs.call("5551000").code == 200 and fs.call("449002222").code == 200  # not blocked: other keys
    status = fs.switch.api("python fsroute.ctl fraud status")
    assert "premium-burst 127.0.0.1/449001111 until" in status
    assert fs.switch.api("python fsroute.ctl fraud unblock 127.0.0.1").startswith(
        "+OK unblocked premium-burst 127.0.0.1/449001111")
    assert fs.call("449001111").code == 200

    for _ in range(2):
        fs.call("449002222")
    blocked_at = time.monotonic()
    refused = fs.call("449002222")
    assert refused.code == 403
    assert fs.cdr(refused)["fsroute_result"] == "fraud_blocked"
    time.sleep(max(0.0, blocked_at + 4.2 - time.monotonic()))
    assert fs.call("449002222").code == 200  # the block's 4 s are over


def test_a_same_number_run_blocks_that_account_and_number(fs):
    # per account+destination: the block is the pair's, and it refuses the pair's next call
    fs.use_rules(FRAUD_RULES.replace("    calls: {warn: 2, block: 3}\n", "    same_number: {block: 2}\n"))
    assert [fs.call("449003333").code for _ in range(3)] == [200, 200, 403]
    assert fs.invites()["gw1"] == 2
    assert fs.call("449004444").code == 200  # another number: another key
    assert fs.switch.api("python fsroute.ctl fraud unblock 127.0.0.1") == \
        "+OK unblocked premium-burst 127.0.0.1/449003333\n"  # the only block, and none left for the next test


FLEET_FRAUD_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  limits: {backend: hiredis, realm: fleet}
routes:
  - {name: premium, match: {destination_number: '^(44900\\d+)$'}, gateway: gw1}
fraud:
  - name: fleet-burst
    per: account+destination
    window: 1h
    calls: {warn: 2, block: 3}
    for: 1h
  - name: fleet-up
    prefixes: ['449005']
    concurrent: {warn: 2, block: 3}
    for: 1h
"""


@pytest.fixture(scope="module")
def fraud_fleet(bundle, gateways, tmp_path_factory):
    """Redis and two more FreeSWITCH processes sharing fraud counts through it."""
    with switches_on_one_redis(bundle, gateways, tmp_path_factory, FLEET_FRAUD_RULES, ("fraud-a", "fraud-b")) as found:
        yield found


def test_concurrent_calls_on_two_switches_add_up_to_the_level_and_are_given_back_at_hangup(fraud_fleet, gateways):
    redis, (fs_a, fs_b) = fraud_fleet
    for gw in gateways.values():
        gw.mode = "answer"
        gw.reset()
    key = "fleet.fraud.fleet-up.127.0.0.1.concurrent"
    marks = (fs_a.log_mark(), fs_b.log_mark())
    with Caller(fs_a.sip_address) as to_a, Caller(fs_b.sip_address) as to_b:
        held = [to_a.start_call("449005001", hold=5.0)]
        assert eventually(lambda: redis.cli("GET", key), "1") == "1"
        held.append(to_b.start_call("449005002", hold=5.0))
        assert eventually(lambda: redis.cli("GET", key), "2") == "2"  # one up on each switch: the fleet's 2
        held.append(to_a.start_call("449005003", hold=5.0))  # the fleet's third, the second on switch a
        assert eventually(lambda: redis.cli("GET", key), "3") == "3"

        def logs():
            return fs_a.log_since(marks[0]) + fs_b.log_since(marks[1])
        assert eventually(lambda: "fleet-up warn of 127.0.0.1 reached concurrent (2/2)" in logs(), True) is True
        assert eventually(lambda: "fleet-up block of 127.0.0.1 reached concurrent (3/3)" in fs_a.log_since(marks[0]),
                          True) is True  # judged by switch a, which had 2 of them
        assert eventually(lambda: "fleet-up 127.0.0.1 until" in fs_b.api("python fsroute.ctl fraud status"),
                          True) is True  # switch b (1 call up here) took the block in from Redis
        refused = to_b.call("449005004", hold=0.3)
        assert refused.code == 403 and fs_b.cdr_for(refused.call_id)["fsroute_result"] == "fraud_blocked"
        assert [call.wait(20).code for call in held] == [200] * 3
        # the switches gave the counts back when the calls hung up (mod_hiredis's hangup hook)
        assert eventually(lambda: redis.cli("GET", key), "0") == "0"
        assert fs_a.api("python fsroute.ctl fraud unblock 127.0.0.1").startswith("+OK unblocked")
        assert eventually(lambda: "fleet-up 127.0.0.1 until" in fs_b.api("python fsroute.ctl fraud status"),
                          False) is False


def test_two_switches_on_one_redis_block_together_and_each_judges_alone_when_redis_stops(fraud_fleet, gateways):
    redis, (fs_a, fs_b) = fraud_fleet
    for gw in gateways.values():
        gw.mode = "answer"
        gw.reset()
    with Caller(fs_a.sip_address) as to_a, Caller(fs_b.sip_address) as to_b:
        assert [to_a.call("449001000", hold=0.3).code for _ in range(2)] == [200, 200]
        assert to_b.call("449001000", hold=0.3).code == 200  # the fleet's third call: block, judged in Redis
        key = "fleet.fraud.fleet-burst.127.0.0.1/449001000.calls.%d" % (time.time() // 3600)
        assert eventually(lambda: redis.cli("GET", key), "3") == "3"
        def blocked(switch, number="449001000"):
            return "fleet-burst 127.0.0.1/%s until" % number in switch.api("python fsroute.ctl fraud status")
        assert eventually(lambda: blocked(fs_a), True) is True  # switch a took the block in from Redis
        assert to_a.call("449001000", hold=0.3).code == 403
        assert to_b.call("449001000", hold=0.3).code == 403

        assert fs_b.api("python fsroute.ctl fraud unblock 127.0.0.1").startswith("+OK unblocked")
        assert eventually(lambda: blocked(fs_a), False) is False  # lifted on the whole fleet
        assert to_a.call("449001000", hold=0.3).code == 200

        redis.stop()  # Redis gone: calls still route, and switch a judges its own counts
        mark = fs_a.log_mark()
        started = time.monotonic()
        assert [to_a.call("449002000", hold=0.3).code for _ in range(3)] == [200] * 3
        print("\nRedis down: 3 watched calls answered in %.0f ms" % ((time.monotonic() - started) * 1000))
        assert eventually(lambda: blocked(fs_a, "449002000"), True) is True
        assert "fraud counts cannot reach Redis" in fs_a.log_since(mark)
        assert to_a.call("449002000", hold=0.3).code == 403
        assert to_b.call("449002000", hold=0.3).code == 200  # switch b counted none of them
        # concurrent calls while Redis is out: no limit tried (the switch knows Redis is gone), counted here
        assert to_a.call("449005100", hold=0.3).code == 200

        # account limits fail closed: with Redis gone mod_hiredis cannot take the count, the call is refused
        fs_b.write_rules(FLEET_FRAUD_RULES + "accounts: {max_calls: 50}\n")
        assert fs_b.api("python fsroute.ctl reload %s" % fs_b.rules_path).startswith("+OK reloaded")
        mark = fs_b.log_mark()
        refused = to_b.call("449003000", hold=0.3)
        assert refused.code == 503
        cdr = fs_b.cdr_for(refused.call_id)
        assert (cdr["fsroute_result"], cdr["hangup_cause"]) == ("over_limit", "NORMAL_CIRCUIT_CONGESTION")
        assert "account 127.0.0.1: its limit backend failed" in fs_b.log_since(mark)


TABLE_FRAUD_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
tables:
  premium: {file: premium.list, key: prefix, header: false}
routes:
  - {name: out, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
fraud:
  - name: premium-list
    table: premium
    calls: {block: 2}
    for: 1h
"""


def test_a_rule_watching_a_table_counts_and_blocks_only_the_numbers_with_a_row(fs):
    with open(os.path.join(os.path.dirname(fs.switch.rules_path), "premium.list"), "w") as handle:
        handle.write("4490\n881\n")
    fs.use_rules(TABLE_FRAUD_RULES)  # ctl reload reads the table with the rules
    mark = fs.switch.log_mark()
    codes = [fs.call(number).code for number in ("4490001", "8810002", "5550003", "4490004")]
    assert codes == [200, 200, 200, 403]  # 5550003 has no row: neither counted nor refused
    assert fraud_lines(fs.switch, mark)[0].startswith(
        "fsroute: fraud premium-list block of 127.0.0.1 reached calls (2/2)")
    assert fs.cdr(fs.call("8819999"))["fsroute_result"] == "fraud_blocked"
    assert fs.call("5550005").code == 200
    assert fs.invites()["gw1"] == 4
    assert fs.switch.api("python fsroute.ctl fraud unblock 127.0.0.1").startswith("+OK unblocked premium-list")


TALK_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
routes:
  - {name: premium, match: {destination_number: '^(44907\\d+)$'}, gateway: gw1}
fraud:
  - name: talk-time
    prefixes: ['44907']
    window: 1h
    rate: 60
    increments: '1/1'
    spend: {warn: 100000}
"""

TWICE_EXTENSION = """    <extension name="fsroute-twice">
      <condition field="destination_number" expression="^44907\\d+$">
        <action application="set" data="hangup_after_bridge=false"/>
        <action application="python" data="fsroute.route %(rules)s"/>
        <action application="python" data="fsroute.route %(rules)s"/>
        <action application="hangup"/>
      </condition>
    </extension>"""


def talk_spend(fs):
    """The talk-time rule's spend on this switch: 1.0 a second, whole seconds billed up."""
    for line in fs.switch.api("python fsroute.ctl fraud status").splitlines():
        words = line.split()
        if words[:1] == ["talk-time"] and words[2:3] == ["spend"]:
            return float(words[3])
    return 0.0


def talk_spend_after(fs, old, timeout=10.0):
    """talk_spend once it is no longer ``old`` (a call ended and was counted)."""
    deadline = time.monotonic() + timeout
    while talk_spend(fs) == old and time.monotonic() < deadline:
        time.sleep(0.05)
    return talk_spend(fs)


def test_a_channel_routed_twice_counts_each_bridges_own_talk_time(fs):
    # The switch runs execute_on_answer_* at the channel's first answer only: the second bridge of an
    # answered channel (a calling card, a dialplan that routes again) must not count from the first answer.
    fs.use_rules(TALK_RULES)
    fs.switch.write_config(extra_extensions=TWICE_EXTENSION % {"rules": fs.switch.rules_path})
    fs.switch.api("reloadxml")
    fs.gateways["gw1"].hangup_after = 3.0  # each bridge: the gateway answers, then hangs up 3 s later
    try:
        before = talk_spend(fs)
        call = fs.caller().start_call("449070001", hold=30.0)
        after_first = talk_spend_after(fs, before)
        assert 3.0 <= after_first - before <= 4.0  # 3 s answered, from an answer time in whole seconds
        after_second = talk_spend_after(fs, after_first)
        # its own bridge (the ring, then 3 s), not 6-7 s from the channel's first answer
        assert 3.0 <= after_second - after_first <= 5.0
        assert call.wait(15).code == 200
        assert fs.invites()["gw1"] == 2
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")
