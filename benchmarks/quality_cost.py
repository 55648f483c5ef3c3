#!/usr/bin/env python3
"""What quality tracking (defaults.quality, docs/quality.md) costs a call, with the stub.

    python benchmarks/quality_cost.py [--calls N] [--rounds R]

Two rules files alike but for ``defaults.quality`` (thresholds, two
destination classes), one weighted group of 3 gateways: the full
``fsroute.route.handler`` per call (StubSession under FakeFreeSWITCH, every
gateway up, every call answered by the first gateway), rounds interleaved so
both see the same machine; then the parts alone: the observer adding one
attempt to its windows, and the router's quality step for 3 gateways. Each
gateway's window holds thousands of attempts, as in production. Times per
call with time.perf_counter_ns and the garbage collector off, as
benchmarks/run.py measures them; p50 and p99 nearest-rank.
"""

import argparse
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)

import fsroute.route  # noqa: E402
from fsroute.core import router  # noqa: E402
from fsroute.runtime.process import store_for  # noqa: E402
from fsroute.runtime.record import Attempt, CallRecord  # noqa: E402
from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import measure, percentile  # noqa: E402

GATEWAYS = ["gw1", "gw2", "gw3"]
RULES = """\
version: 1
defaults:
  status_ttl: 3600
  reload_check: 3600
%s
groups:
  three: {strategy: weighted_round_robin, gateways: [gw1, gw2, gw3]}
routes:
  - {name: out, match: {destination_number: '^00(\\d+)$'}, number: '$1', group: three}
"""
QUALITY = """\
  quality:
    window: 900
    min_samples: 20
    classes: {de_mobile: ['4915', '4916', '4917'], de: ['49']}
    warn: {asr: 0.3, pdd: 8}
    critical: {asr: 0.1}
"""
NUMBERS = ["004915%07d" % i for i in range(50)] + ["004930%07d" % i for i in range(50)]


def handler_samples(path, fake, calls):
    def new_call(i):
        if i % 512 == 0:
            del fake.logs[:], fake.events[:]
        variables = {"destination_number": NUMBERS[i % len(NUMBERS)], "network_addr": "127.0.0.1",
                     "progress_time": "0", "answered_time": "0"}
        return StubSession(variables, fake=fake), path
    return measure(fsroute.route.handler, new_call, calls, 60.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    fake = FakeFreeSWITCH()
    fake.set_gateways("external", up=GATEWAYS)
    with tempfile.TemporaryDirectory(prefix="fsroute-quality-") as tmp, fake:
        reset_state()
        paths = {}
        for mode, block in (("on", QUALITY), ("off", "")):
            paths[mode] = os.path.join(tmp, "rules-%s.yaml" % mode)
            with open(paths[mode], "w") as handle:
                handle.write(RULES % block)
        for path in paths.values():  # load, and fill the windows
            handler_samples(path, fake, 5000)
        samples = {"on": [], "off": []}
        for _ in range(args.rounds):
            for mode in ("on", "off"):
                samples[mode] += handler_samples(paths[mode], fake, args.calls // args.rounds)
        generation = store_for(paths["on"]).current()
        tracker = generation.quality
        assert tracker is not None
        decision = router.decide(generation.rules, {"destination_number": NUMBERS[0]}.get, generation.is_up,
                                 generation.selector.copy(), None, None)
        record = CallRecord("u", decision.outcome, generation.rules, generation.rules.sha, decision,
                            "out", decision.number, attempts=(Attempt("gw1", "SUCCESS", 30.0, decision.dials[0],
                                                                      None, 2.5, 1.0),))
        observe = measure(tracker.observe, lambda i: (record,), args.calls, 30.0)
        route = generation.rules.routes[0]
        judge_once = measure(lambda: [tracker.judge_for(generation.rules, route, decision.number)(g)
                                      for g in GATEWAYS], lambda i: (), args.calls, 30.0)
        reset_state()
    print("%-52s %10s %10s %8s" % ("per call (us)", "p50", "p99", "n"))
    for name, found in (("handler, quality off", samples["off"]), ("handler, quality on", samples["on"]),
                        ("observer: 1 attempt into its 2 windows", observe),
                        ("router step: verdicts of 3 gateways", judge_once)):
        print("%-52s %10.2f %10.2f %8d" % (name, percentile(found, 50) / 1000, percentile(found, 99) / 1000,
                                          len(found)))
    print("%-52s %10.2f" % ("quality on - off (p50)", (percentile(samples["on"], 50)
                                                        - percentile(samples["off"], 50)) / 1000))
    print("%-52s %10.2f" % ("quality on - off (mean)", (statistics.mean(samples["on"])
                                                         - statistics.mean(samples["off"])) / 1000))


if __name__ == "__main__":
    main()
