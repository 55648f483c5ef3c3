"""Gateway states in a real FreeSWITCH: the poller reads them, calls never wait for a reading."""

import os
import statistics

from .test_lcr import calls_at

# Installed in the switch's scripts dir: `python slow_gwlist SECONDS` makes every gwlist reading of the
# process's poller take that long (time.sleep lets go of the GIL, as an API that does not hold it would).
SLOW_GWLIST = '''
import time
from fsroute.runtime import process, fslog

def fsapi(session, stream, env, args):
    delay = float(args or 0)

    def slow(command):
        if "gwlist" in command:
            time.sleep(delay)
        return fslog.api(command)

    process.poller().run_api = slow if delay else fslog.api
    stream.write("+OK gwlist readings take %gs\\n" % delay)
'''

RULES = """\
version: 1
defaults: {status_ttl: 0.5, status_timeout: 2}
groups:
  g: {strategy: weighted_round_robin, gateways: [gw1, gw2]}
routes:
  - {name: all, match: {destination_number: '^(\\d+)$'}, group: g}
"""


def setup_seconds(results):
    return [r.final_at - r.started for r in results]


def test_a_gateway_reading_that_takes_a_second_delays_no_call(fs):
    with open(os.path.join(fs.switch.dir("scripts"), "slow_gwlist.py"), "w") as module:
        module.write(SLOW_GWLIST)
    fs.use_rules(RULES)
    before = calls_at(fs, 40, 20, lambda n: None)
    assert fs.switch.api("python slow_gwlist 1").startswith("+OK")
    try:
        during = calls_at(fs, 100, 20, lambda n: None)  # 5 s: readings every 0.5 s, each taking 1 s
    finally:
        fs.switch.api("python slow_gwlist 0")
    assert [r.code for r in before + during] == [200] * 140
    usual, slow = setup_seconds(before), setup_seconds(during)
    # With the old call-driven readings a call past status_ttl waited for the reading (1 s here).
    assert max(slow) < 0.5, (statistics.median(usual), max(usual), statistics.median(slow), max(slow))


# `python failing_api on|off`: every gwlist reading of the process's poller takes 1 s and every
# limit_usage count it reads fails (the limit backend erroring), as a sick switch would answer.
FAILING_API = '''
import time
from fsroute.runtime import process, fslog

def fsapi(session, stream, env, args):
    def failing(command):
        if "gwlist" in command:
            time.sleep(1)
        if command.startswith("limit_usage"):
            raise RuntimeError("limit backend error")
        return fslog.api(command)

    process.poller().run_api = failing if args == "on" else fslog.api
    stream.write("+OK api %s\\n" % args)
'''

LEAST_CALLS = """\
version: 1
defaults: {status_ttl: 0.5, status_timeout: 2}
groups:
  g: {strategy: least_calls, gateways: [gw1, gw2]}
routes:
  - {name: all, match: {destination_number: '^(\\d+)$'}, group: g}
"""


def test_limit_counts_failing_and_slow_gwlist_readings_delay_no_call(fs):
    with open(os.path.join(fs.switch.dir("scripts"), "failing_api.py"), "w") as module:
        module.write(FAILING_API)
    fs.use_rules(LEAST_CALLS)
    mark = fs.switch.log_mark()
    assert fs.switch.api("python failing_api on").startswith("+OK")
    try:
        during = calls_at(fs, 100, 20, lambda n: None)  # 5 s: every count fails, every gwlist takes 1 s
    finally:
        fs.switch.api("python failing_api off")
    assert [r.code for r in during] == [200] * 100
    assert max(setup_seconds(during)) < 0.5, sorted(setup_seconds(during))[-5:]
    invites = fs.invites()
    assert invites["gw1"] + invites["gw2"] == 100 and invites["gw1"] and invites["gw2"]
    warnings = [line for line in fs.switch.log_since(mark).splitlines()
                if "limit_usage" in line and "failed" in line]
    assert len(warnings) == 2, warnings  # one per count, until it answers again
