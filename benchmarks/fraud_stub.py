#!/usr/bin/env python3
"""What accounts and fraud rules cost a call in the stub, and that a file without them pays nothing.

    python benchmarks/fraud_stub.py [--rounds N] [--calls N] [--base COMMIT]

``benchmarks/handler_bare.py``'s bare session and plain weighted route, timed
in fresh processes, round after round: the same rules file (no ``accounts:``,
no ``fraud:``) with this tree and with ``--base`` (default: main, the tree
before accounts and fraud); then this tree with three fraud rules watching
the route (calls, concurrent, same number; minutes and spend priced at a
rate), counted on this switch (``hash``). Printed: p50 / p90 per round and
the median ratios.
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from handler_bare import ROUTES, RULES, SCRIPT  # noqa: E402
from run import in_fresh_process, reference_package  # noqa: E402

FRAUD = """fraud:
  - {name: burst, routes: [last], window: 1h, calls: {warn: 5000000, block: 9000000}}
  - {name: numbers, routes: [last], window: 10m, same_number: {warn: 10000000}, concurrent: {block: 100000}}
  - {name: spend, routes: [last], window: 1d, rate: 1.20, minutes: {warn: 10000000}, spend: {block: 10000000}}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--base", default="main")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="fsroute-fraud-stub-")
    base = reference_package(tmp, args.base)
    if base is None:
        return 1
    plain, watched = os.path.join(tmp, "plain.yaml"), os.path.join(tmp, "fraud.yaml")
    with open(plain, "w") as handle:
        handle.write(RULES % (", events: false", ROUTES))
    with open(watched, "w") as handle:
        handle.write(RULES % (", events: false", ROUTES) + FRAUD)
    print("cost per call on one bare session, plain weighted route, 10 routes; Python %s"
          % sys.version.split()[0])
    print("%-6s %-20s %-20s %-20s %s" % ("round", "%s p50/p90 us" % args.base, "now, no fraud", "now, 3 fraud rules",
                                         "ratios p50"))
    nothing, extra = [], []
    for number in range(1, args.rounds + 1):
        then = in_fresh_process(base, SCRIPT, plain, args.calls)
        now = in_fresh_process(None, SCRIPT, plain, args.calls)
        fraud = in_fresh_process(None, SCRIPT, watched, args.calls)
        nothing.append(now[0] / then[0])
        extra.append(fraud[0] - now[0])
        print("%-6d %-20s %-20s %-20s %.2f / +%.1f us" % (
            number, "%.1f / %.1f" % tuple(then), "%.1f / %.1f" % tuple(now), "%.1f / %.1f" % tuple(fraud),
            nothing[-1], extra[-1]))
    print("median: without accounts and fraud %.2fx of %s; 3 fraud rules add %.1f us per call"
          % (statistics.median(nothing), args.base, statistics.median(extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
