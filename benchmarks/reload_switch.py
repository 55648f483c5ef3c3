#!/usr/bin/env python3
"""Call setup in a real FreeSWITCH while a 100,000-route rules file reloads behind the calls.

    FSROUTE_FREESWITCH=/tmp/fsb python benchmarks/reload_switch.py [--routes N] [--reloads K]

One private switch (tests/integration/harness) on loopback runs fsroute on a
file of N never-matching prefix routes ahead of the one that matches
(benchmarks/realfs.py's file); a caller places calls at 20 cps and times each
from INVITE to the final answer. First for 20 s with no reload, then while
the rules file is rewritten K times (an automatic reload each: the new
generation built in the background, made current, the old one freed).
Printed: setup time p50 / p99 / longest and the calls over the baseline's
longest + 10 ms, in each phase. Then, as a baseline, the same K rounds with the
same load done by a separate Python process beside the switch instead (the
CPU a reload takes, without the switch's GIL): on a machine with few cores
what is left over the baseline there is the machine's, not the reload's.
Issue 19's target: no call waits more than 10 ms for a reload.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from realfs import GROUP, Bench, log, rules_text  # noqa: E402
from tests.integration.harness import Caller, FakeGateway  # noqa: E402

CPS = 20


def calls_for(fs, caller, seconds, during=None):
    """Setup seconds of calls placed at CPS for ``seconds`` (``during()`` once, after the first second)."""
    calls, start, n = [], time.monotonic(), 0
    while time.monotonic() - start < seconds:
        due = start + n / CPS
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        if during is not None and n == CPS:
            during()
        calls.append(caller.start_call("5551234", hold=0.05))
        n += 1
    results = [c.wait(30) for c in calls]
    failed = [r for r in results if r.code != 200]
    return [r.final_at - r.started for r in results if r.final_at is not None], len(failed)


def load_beside(path):
    """A separate Python process loading the rules file at ``path`` once (what a reload computes)."""
    return subprocess.Popen([sys.executable, "-c", "import sys; from fsroute.core import loader; "
                             "loader.load(sys.argv[1])", path], cwd=ROOT)


def summary(setups, failed, limit):
    ordered = sorted(setups)
    return "%4d calls  p50 %6.1f  p99 %6.1f  longest %6.1f ms  over %.1f ms: %d  failed: %d" % (
        len(ordered), statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000,
        ordered[-1] * 1000, limit * 1000, sum(1 for s in ordered if s > limit), failed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--freeswitch", default=os.environ.get("FSROUTE_FREESWITCH", ""))
    parser.add_argument("--routes", type=int, default=100000)
    parser.add_argument("--reloads", type=int, default=3)
    args = parser.parse_args()
    if not args.freeswitch:
        parser.error("set FSROUTE_FREESWITCH or --freeswitch to an extracted FreeSWITCH bundle")
    workroot = tempfile.mkdtemp(prefix="fsroute-reload-switch-")
    gateways = {name: FakeGateway(name).start() for name, _ in GROUP}
    try:
        bench = Bench(os.path.abspath(args.freeswitch), workroot, gateways)
        fs = bench.switch(args.routes, "fsroute.route")
        try:
            caller = Caller(fs.sip_address)
            calls_for(fs, caller, 3)  # warm up
            quiet, quiet_failed = calls_for(fs, caller, 20)
            text = rules_text(args.routes)
            took = []

            def reload(n):
                def rewrite():
                    before = fs.log_text(since_start=True).count("fsroute: loaded")
                    fs.write_rules(text.replace("version: 1\n", "version: 1\n# reload %d\n" % n, 1))
                    started = time.monotonic()
                    return before, started
                return rewrite

            during, during_failed = [], 0
            for n in range(args.reloads):
                marks = []
                setups, failed = calls_for(fs, caller, 25, lambda: marks.append(reload(n)()))
                before, started = marks[0]
                loaded = fs.log_text(since_start=True).count("fsroute: loaded")
                took.append("%s" % ("loaded" if loaded > before else "NOT loaded within 24 s"))
                during += setups
                during_failed += failed
            beside, beside_failed, loaders = [], 0, []
            for n in range(args.reloads):
                setups, failed = calls_for(fs, caller, 25, lambda: loaders.append(load_beside(fs.rules_path)))
                beside += setups
                beside_failed += failed
            for process in loaders:
                process.wait()
            caller.close()
        finally:
            bench.stop(fs)
    finally:
        for gw in gateways.values():
            gw.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    limit = max(quiet) + 0.010
    print("fsroute reload in a real FreeSWITCH: %d routes, calls at %d cps, %d reloads (%s)"
          % (args.routes, CPS, args.reloads, ", ".join(took)))
    print("%-28s %s" % ("no reload (20 s)", summary(quiet, quiet_failed, limit)))
    print("%-28s %s" % ("during the reloads", summary(during, during_failed, limit)))
    print("%-28s %s" % ("beside a process loading it", summary(beside, beside_failed, limit)))
    print("target: no call waits more than 10 ms for a reload (none over the baseline's longest + 10 ms)")
    log("done")


if __name__ == "__main__":
    main()
