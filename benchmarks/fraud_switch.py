#!/usr/bin/env python3
"""What fraud rules with hiredis counting cost per call in a real FreeSWITCH.

    FSROUTE_FREESWITCH=/path/to/bundle python benchmarks/fraud_switch.py [--calls N]

One private FreeSWITCH (the integration harness, mod_hiredis on a private
redis-server) with one rules file: ``99<number>`` is a plain route no fraud
rule watches; ``44900<number>`` is a route watched by three fraud rules
(calls, concurrent and same number at start; minutes and spend at the end)
with ``limits.backend: hiredis``, so every watched call also queues its
counts for the fleet thread, which sends them to Redis through
``hiredis_raw``, and runs ``limit hiredis`` once for the concurrent count. Calls are placed one at a time, interleaved in rounds;
printed: the FreeSWITCH process's CPU time per call (utime+stime from
/proc) and the call setup time, p50 / p99, for each, and the difference.
The levels are set far above what the run reaches: nothing is blocked.
``--backend hash`` counts the same on this switch only, without Redis commands.
"""

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lcr_switch import cpu_seconds, percentile, place, progress, record_answer_times  # noqa: E402
from tests.integration.harness import Caller, FakeGateway, Switch  # noqa: E402
from tests.integration.test_health import HIREDIS_CONF, Redis  # noqa: E402

RULES = """\
version: 1
defaults:
  status_ttl: 2
  limits: {backend: %s, realm: fleet}
routes:
  - {name: plain, match: {destination_number: '^99(\\d+)$'}, number: '$1', gateway: gw1}
  - {name: premium, match: {destination_number: '^(44900\\d+)$'}, gateway: gw1}
fraud:
  - {name: burst, routes: [premium], window: 1h, calls: {warn: 100000, block: 200000}}
  - {name: numbers, routes: [premium], window: 10m, same_number: {warn: 100000}, concurrent: {block: 1000}}
  - {name: spend, prefixes: ['44900'], window: 1d, rate: 1.20, minutes: {warn: 100000}, spend: {block: 100000}}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("hiredis", "hash"), default="hiredis",
                        help="hash: the same rules counted on this switch only (no Redis commands)")
    args = parser.parse_args(argv)
    bundle = os.environ.get("FSROUTE_FREESWITCH")
    if not bundle:
        raise SystemExit("set FSROUTE_FREESWITCH to a FreeSWITCH bundle or install prefix")
    record_answer_times()
    workdir = tempfile.mkdtemp(prefix="fsroute-fraud-bench-")
    gateways = {name: FakeGateway(name).start() for name in ("gw1", "gw2", "gw3", "gw4")}
    redis = Redis(workdir)
    switch = Switch(os.path.abspath(bundle), os.path.join(workdir, "switch"), gateways, RULES % args.backend,
                    extra_modules=("mod_hiredis",), extra_config=HIREDIS_CONF % redis.port)
    caller = None
    try:
        switch.start()
        switch.wait_gateways(down=(), timeout=15)
        caller = Caller(switch.sip_address)
        paths = (("plain route, not watched", "99"), ("watched by 3 fraud rules", "44900"))
        place(caller, [prefix + "%06d" % n for prefix in ("99", "44900") for n in range(20)])  # warm-up
        cpu = {label: 0.0 for label, _ in paths}
        times = {label: [] for label, _ in paths}
        per_round = args.calls // args.rounds
        for number in range(args.rounds):
            for label, prefix in paths:
                progress("round %d: %d calls %s..." % (number + 1, per_round, label))
                before = cpu_seconds(switch.pid)
                times[label] += place(caller, [prefix + "%06d" % (number * per_round + n) for n in range(per_round)])
                cpu[label] += cpu_seconds(switch.pid) - before
        time.sleep(1.5)  # the fleet thread has sent everything
        counted = redis.cli("GET", "fleet.fraud.burst.127.0.0.1.calls.%d" % (time.time() // 3600))
        print("%d calls each, one at a time; calls counted in Redis by rule 'burst': %s" % (
            per_round * args.rounds, counted))
        print("%-28s %-22s %s" % ("", "FreeSWITCH CPU / call", "setup time p50 / p99"))
        figures = {}
        for label, _ in paths:
            figures[label] = cpu[label] / len(times[label]) * 1000
            print("%-28s %-22s %.1f / %.1f ms" % (label, "%.3f ms" % figures[label], percentile(times[label], 0.5),
                                                  percentile(times[label], 0.99)))
        plain, watched = (figures[label] for label, _ in paths)
        print("extra CPU per watched call: %.0f us" % ((watched - plain) * 1000))
    finally:
        if caller is not None:
            caller.close()
        switch.stop()
        redis.stop()
        for gateway in gateways.values():
            gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
