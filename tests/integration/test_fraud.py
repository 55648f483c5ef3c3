"""Accounts in a real FreeSWITCH: max_cps refused at the right call under SIPp, max_calls held until hangup."""

import os
import subprocess
import time

from .harness.switch import clean_env

ACCOUNT_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
accounts:
  max_cps: '3/8'
routes:
  - {name: out, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
"""


def eventually(read, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    value = read()
    while value != want and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def sipp(fs, calls, rate, period_ms, destination):
    """SIPp's uac scenario: ``calls`` calls, ``rate`` per ``period_ms``; (successful, failed)."""
    bundle = os.environ["FSROUTE_FREESWITCH"]
    stat = os.path.join(fs.switch.workdir, "sipp-%d.csv" % time.monotonic_ns())
    host, port = fs.switch.sip_address
    subprocess.run([os.path.join(bundle, "bin", "sipp"), "%s:%d" % (host, port), "-sn", "uac", "-s", destination,
                    "-i", "127.0.0.1", "-r", str(rate), "-rp", str(period_ms), "-m", str(calls), "-d", "200",
                    "-nostdin", "-recv_timeout", "5000", "-timeout", "60s", "-trace_stat", "-stf", stat],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(), timeout=90)
    with open(stat) as f:
        rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    row = dict(zip(rows[0], rows[-1]))
    return int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])


def test_sipp_at_twice_max_cps_is_refused_from_the_fourth_call(fs):
    fs.use_rules(ACCOUNT_RULES)
    mark = len(fs.switch.cdrs())
    # 6 calls at 6 per 8 s: twice the account's 3 per 8 s. mod_hash starts a window at the whole
    # second of its first call, so a window lasts 7 to 8 s: the six calls span 6.7 s, inside one.
    assert sipp(fs, 6, 6, 8000, "5570000") == (3, 3)
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
