#!/usr/bin/env python3
"""fsroute's own cost per call against fsroute 0.1.0, with one bare session class for both.

    python benchmarks/handler_bare.py [--rounds N] [--calls N] [--before COMMIT] [--cold | --instructions]

``benchmarks/run.py`` times each version with its own stub session, whose
work differs between versions. Here both run ``fsroute.route.handler`` on the
same minimal session (a dict of variables; ``execute`` answers SUCCESS), a
plain weighted route behind 9 others, ``events: false`` for this tree (0.1.0
has no events), every gateway up. Each round runs both in fresh processes, one
after the other, so both see the machine's ups and downs; printed: p50 and
p90 per round and the median ratio. Issue 19's target: no slower than 0.1.0.
``--before COMMIT`` (e.g. main) runs that commit's tree in the same rounds too,
for a before/after of a change measured under the same load. ``--cold`` copies
64 MB before each timed call: inside a busy switch a call's Python finds its
code and data out of the CPU's caches, which costs several times its warm time
(docs/performance.md, "Real switch"). ``--instructions`` counts instead the
CPU instructions of one call under valgrind (Debian package ``valgrind``):
a run with no timed call is subtracted from one with --calls of them
(default 500). Unlike times, the count does not move with the machine's load,
so it shows a change of a few per cent that times on a shared machine hide.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import ROOT, in_fresh_process, reference_package  # noqa: E402

ROUTES = "\n".join("  - {name: r%d, match: {destination_number: '^00%d(\\d+)$'}, number: '$1', group: g}"
                   % (i, 30 + i) for i in range(9))
RULES = """version: 1
defaults: {status_ttl: 60%s}
groups:
  g: {strategy: weighted_round_robin, gateways: [{name: gw1, weight: 1}, {name: gw2, weight: 2}]}
routes:
%s
  - {name: last, match: {destination_number: '^(\\d+)$'}, group: g}
"""

SCRIPT = """
import gc, json, sys, time
from fsroute import route
from fsroute.testing import FakeFreeSWITCH
path, count, cold = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "cold"
counting = sys.argv[3] == "instructions"  # under valgrind: the calls only, no clock
source, junk = bytearray(64 * 1024 * 1024 if cold else 0), bytearray(64 * 1024 * 1024 if cold else 0)

class Bare:
    __slots__ = ("v",)
    def __init__(self, v): self.v = v
    def getVariable(self, name): return self.v.get(name)
    def setVariable(self, name, value): self.v[name] = value
    def execute(self, app, data=None): self.v["originate_disposition"] = "SUCCESS"
    def ready(self): return True
    def hangup(self, cause="normal_clearing"): pass
    def get_uuid(self): return self.v["uuid"]

fake = FakeFreeSWITCH()
fake.set_gateways("external", up=["gw1", "gw2"])
fake.module.consoleLog = lambda level, message: None
base = {"destination_number": "5551234", "network_addr": "127.0.0.1", "caller_id_number": "1000", "uuid": "u" * 36}
with fake:
    sessions = [Bare(dict(base)) for _ in range(count + 2000)]
    for session in sessions[:2000]:
        route.handler(session, path)
    assert sessions[0].v["fsroute_result"] == "bridged", sessions[0].v
    clock, samples = time.perf_counter_ns, []
    gc.disable()
    if counting:
        for session in sessions[2000:]:
            route.handler(session, path)
    else:
        for session in sessions[2000:]:
            if cold:  # 64 MB through the caches: the call finds its code and data out of them
                memoryview(junk)[:] = source  # a memcpy: allocates nothing
            started = clock()
            route.handler(session, path)
            samples.append(clock() - started)
    gc.enable()
samples.sort()
print(json.dumps([samples[len(samples) // 2] / 1000.0, samples[len(samples) * 9 // 10] / 1000.0]
                 if samples else []))
"""


def instructions(package_dir, rules, calls):
    """CPU instructions of one call of ``package_dir``'s handler (None: this checkout): valgrind's count
    of a run with ``calls`` calls less one with none, divided by ``calls``."""
    def count(n):
        env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in both runs
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir or ROOT, env.get("PYTHONPATH")) if p)
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                               "-c", SCRIPT, rules, str(n), "instructions"], env=env, cwd=package_dir or ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True, check=True)
        return int(re.search(r"Collected : (\d+)", done.stderr).group(1))
    return (count(calls) - count(0)) / calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--before", help="also run this commit's tree (same rules as now) in every round")
    parser.add_argument("--instructions", action="store_true",
                        help="count the instructions of a call under valgrind instead of timing it "
                             "(default --calls 500 then)")
    parser.add_argument("--cold", action="store_true",
                        help="copy 64 MB before each timed call, so that it runs out of cold caches as a "
                             "call does in a busy switch (default --calls 500 then)")
    args = parser.parse_args(argv)
    if (args.cold or args.instructions) and args.calls == parser.get_default("calls"):
        args.calls = 500
    if args.cold and args.instructions:
        parser.error("--cold times calls; --instructions counts them: one or the other")
    if args.instructions and shutil.which("valgrind") is None:
        print("--instructions needs valgrind (Debian: apt-get install valgrind)")
        return 1
    mode = "cold" if args.cold else "warm"
    tmp = tempfile.mkdtemp(prefix="fsroute-handler-bare-")
    reference = reference_package(tmp)
    if reference is None:
        print("fsroute 0.1.0 (commit 2a7c7f3) is not in this clone's history: nothing to compare with")
        return 0
    before = reference_package(tmp, args.before) if args.before else None
    ours, theirs = os.path.join(tmp, "now.yaml"), os.path.join(tmp, "ref.yaml")
    with open(ours, "w") as handle:
        handle.write(RULES % (", events: false", ROUTES))
    with open(theirs, "w") as handle:
        handle.write(RULES % ("", ROUTES))
    print("fsroute's cost per call on one bare session, plain weighted route, 10 routes; Python %s%s" %
          (sys.version.split()[0], "; each call out of cold caches" if args.cold else ""))
    if args.instructions:
        return count_instructions(args, (("now", None, ours), ("0.1.0", reference, theirs)) + (
            ((args.before, before, ours),) if before else ()))
    print("%-6s %-22s %-22s %-10s%s" % ("round", "now p50 / p90 us", "0.1.0 p50 / p90 us", "ratio p50",
                                         "  %s p50 / p90 us, ratio p50" % args.before if before else ""))
    ratios, befores = [], []
    for number in range(1, args.rounds + 1):
        now = in_fresh_process(None, SCRIPT, ours, args.calls, mode)
        then = in_fresh_process(reference, SCRIPT, theirs, args.calls, mode)
        ratios.append(now[0] / then[0])
        extra = ""
        if before is not None:
            was = in_fresh_process(before, SCRIPT, ours, args.calls, mode)
            befores.append(was[0] / then[0])
            extra = "  %.1f / %.1f, %.2f" % (was[0], was[1], befores[-1])
        print("%-6d %-22s %-22s %-10.2f%s" % (number, "%.1f / %.1f" % tuple(now), "%.1f / %.1f" % tuple(then),
                                              ratios[-1], extra))
    print("median ratio %.2f (target: <= 1.00)%s" % (statistics.median(ratios), "; %s: %.2f" % (
        args.before, statistics.median(befores)) if befores else ""))
    return 0


def count_instructions(args, versions):
    """--instructions: per version, the instructions of one call, and its ratio to 0.1.0's."""
    print("CPU instructions per call (valgrind, %d calls less none)" % args.calls)
    counts = {name: instructions(package_dir, rules, args.calls) for name, package_dir, rules in versions}
    for name, found in counts.items():
        print("%-8s %10.0f   ratio to 0.1.0 %.2f" % (name, found, found / counts["0.1.0"]))
    print("target: ratio <= 1.00")
    return 0


if __name__ == "__main__":
    sys.exit(main())
