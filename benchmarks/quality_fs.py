#!/usr/bin/env python3
"""What quality tracking (defaults.quality) costs a call in a real FreeSWITCH.

    FSROUTE_FREESWITCH=/tmp/fsb python benchmarks/quality_fs.py [--calls N] [--rate CPS] [--rounds R]

Two private switches (benchmarks/realfs.py's Bench: SIPp callers, two fake
gateways that answer at once, calls hung up at answer), both running
fsroute on realfs.py's N = 0 rules; one of them with ``defaults.quality``
added (thresholds that every gateway passes, so the windows are fed and
every decision asks for verdicts). Both are loaded at the same time in each
round; the figure is FreeSWITCH CPU seconds per 1000 calls, net of idle,
and the difference between the two in the same round.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realfs import GROUP, Bench, FakeGateway, log  # noqa: E402

QUALITY = """\
defaults:
  quality: {window: 900, min_samples: 20, warn: {asr: 0.3, pdd: 8}, critical: {asr: 0.1}}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--freeswitch", default=os.environ.get("FSROUTE_FREESWITCH", ""))
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.freeswitch:
        parser.error("set FSROUTE_FREESWITCH or --freeswitch to an extracted FreeSWITCH bundle")
    workroot = tempfile.mkdtemp(prefix="fsroute-qualityfs-")
    gateways = {name: FakeGateway(name).start() for name, _ in GROUP}
    switches = []
    try:
        bench = Bench(os.path.abspath(args.freeswitch), workroot, gateways)
        off, on = bench.switch(0, "fsroute.route"), None
        switches.append(off)
        on = bench.switch(0, "fsroute.route")
        switches.append(on)
        with open(on.rules_path) as handle:
            text = handle.read()
        with open(on.rules_path, "w") as handle:
            handle.write(text.replace("version: 1\n", "version: 1\n" + QUALITY, 1))
        answer = on.api("python fsroute.ctl reload %s" % on.rules_path)
        assert answer.startswith("+OK reloaded"), answer
        rows = []
        for number in range(args.rounds):
            cpu_off, cpu_on = bench.cpu_per_1000([off, on], args.calls, args.rate)
            rows.append((cpu_off, cpu_on))
            log("round %d: off %.3f on %.3f CPU s per 1000 calls" % (number + 1, cpu_off, cpu_on))
        status = on.api("python fsroute.ctl status %s" % on.rules_path)
        assert "quality (window 900s):" in status, status
    finally:
        for fs in switches:
            bench.stop(fs)
        for gw in gateways.values():
            gw.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    print("%d calls per round at %d cps; FreeSWITCH CPU s per 1000 calls, net of idle" % (args.calls, args.rate))
    print("%-8s %10s %10s %12s" % ("round", "off", "on", "on - off"))
    for number, (cpu_off, cpu_on) in enumerate(rows, 1):
        print("%-8d %10.3f %10.3f %+12.3f" % (number, cpu_off, cpu_on, cpu_on - cpu_off))
    diffs = [b - a for a, b in rows]
    print("median difference %+.3f s per 1000 calls (%+.0f us per call)"
          % (statistics.median(diffs), statistics.median(diffs) * 1000))


if __name__ == "__main__":
    main()
