#!/usr/bin/env python3
"""Replay benchmark: a million CDRs (mod_cdr_csv's default template) through draft rules, against the old ones.

    python benchmarks/replay.py [--calls N] [--numbers K] [--prefixes P] [--dir DIR]

Generates (once, cached in DIR) three carriers' decks of P prefixes each (the shape of
benchmarks/lcr.py: country codes, fixed and mobile ranges, 5% re-rated on 2026-06-01), a sell deck,
old rules (the three carriers, a sell side and min_margin) and new rules (carrier_b's deck with a
price rise on a quarter of its prefixes), and a Master.csv of N calls over 30 days to K distinct
numbers (drawn with a long tail, as real traffic repeats numbers: the figure depends on it, so it
is printed), 30% unanswered. Then runs ``fsroute replay Master.csv --rules new --against old`` in
this process and prints the wall time, calls per second, the process's CPU time (the machine may be
shared: the wall time then also counts waiting for a CPU), how many decisions the walk made (the
rest were reused: same variables read, or for a least-cost route the same route and longest deck
prefix, in the same span of deck dates), and beside them, measured in the same run as a reference
for the machine's load, the time reading the same file without routing takes.
"""

import argparse
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from lcr import prefix_pool, write_deck  # noqa: E402  (benchmarks/lcr.py: the decks' shape)

from fsroute.tools import cdrs, replay  # noqa: E402
from fsroute.tools.replay_jobs import replay_in_parts  # noqa: E402

START = 1780272000 - 15 * 86400  # 30 days around 2026-06-01, the decks' re-rating date


def progress(message):
    print(message, file=sys.stderr, flush=True)


def generate(directory, calls, numbers, prefixes):
    """(Master.csv, new rules, old rules) under ``directory``, generated unless already there."""
    os.makedirs(directory, exist_ok=True)
    master = os.path.join(directory, "Master-%d-%d-%d.csv" % (calls, numbers, prefixes))
    old, new = os.path.join(directory, "old-%d.yaml" % prefixes), os.path.join(directory, "new-%d.yaml" % prefixes)
    rng = random.Random(25)
    pool = prefix_pool(prefixes * 13 // 10, rng)
    names = ("carrier_a", "carrier_b", "carrier_c")
    decks = [os.path.join(directory, "%s-%d.csv" % (name, prefixes)) for name in names]
    risen = os.path.join(directory, "carrier_b-risen-%d.csv" % prefixes)
    sell = os.path.join(directory, "sell-%d.csv" % prefixes)
    if not os.path.exists(sell):
        for path in decks:
            progress("writing %s" % path)
            write_deck(path, rng.sample(pool, prefixes), rng)
        with open(decks[1]) as source, open(risen, "w") as target:
            for number, line in enumerate(source):
                fields = line.split(",")
                if number and rng.random() < 0.25:
                    fields[1] = "%.5f" % (float(fields[1]) * 1.6)
                target.write(",".join(fields))
        with open(sell, "w") as handle:
            handle.write("prefix,rate\n" + "".join("%s,%.5f\n" % (p, rng.randint(20000, 400000) / 1e6)
                                                  for p in pool))
    for path, carrier_b in ((old, decks[1]), (new, risen)):
        with open(path, "w") as handle:
            handle.write("version: 1\ncarriers:\n" + "".join(
                "  %s: {deck: '%s', gateway: gw_%s}\n" % (name, deck, name[-1])
                for name, deck in zip(names, (decks[0], carrier_b, decks[2]))) +
                "sell_decks:\n  retail: '%s'\nroutes:\n  - name: international\n"
                "    match: {destination_number: '^00(\\d+)$'}\n    number: '$1'\n"
                "    lcr:\n      carriers: [carrier_a, carrier_b, carrier_c]\n"
                "      sell: {default: retail}\n      min_margin: {percent: 5}\n" % sell)
    if not os.path.exists(master):
        progress("writing %s (%d calls to %d numbers)" % (master, calls, numbers))
        dialled = ["00" + p + "".join(rng.choice("0123456789") for _ in range(max(0, 11 - len(p))))
                   for p in rng.choices(pool, k=numbers)]
        with open(master + ".tmp", "w") as handle:
            for number in range(calls):
                destination = dialled[min(int(rng.paretovariate(0.6)) - 1, numbers - 1) if rng.random() < 0.5
                                      else rng.randrange(numbers)]
                start = START + number * (30 * 86400 // calls)
                billsec = 0 if rng.random() < 0.3 else int(rng.expovariate(1 / 120.0)) + 1
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
                answer = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 5)) if billsec else ""
                end = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + 5 + billsec))
                handle.write('"Caller","10%05d","%s","public","%s","%s","%s","%d","%d","%s","uuid-%d","","","PCMA",'
                             '"PCMA"\n' % (number % 100000, destination, stamp, answer, end, billsec + 5, billsec,
                                           "NORMAL_CLEARING" if billsec else "NO_ANSWER", number))
        os.replace(master + ".tmp", master)
    return master, new, old


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000000)
    parser.add_argument("--numbers", type=int, default=200000)
    parser.add_argument("--prefixes", type=int, default=50000)
    parser.add_argument("--dir", default=os.path.join(ROOT, ".benchmark-data"))
    parser.add_argument("--jobs", type=int, default=1, help="processes (fsroute replay --jobs)")
    args = parser.parse_args()
    master, new, old = generate(args.dir, args.calls, args.numbers, args.prefixes)
    load = os.getloadavg()[0]
    began = time.perf_counter()
    replayers = replay.Replayer(new), replay.Replayer(old)
    loaded = time.perf_counter() - began
    utc = __import__("datetime").timezone.utc
    began, cpu = time.perf_counter(), time.process_time() + sum(os.times()[2:4])  # with the workers', once waited for
    if args.jobs > 1:
        report = replay_in_parts(master, cdrs.EXAMPLE_TEMPLATE, utc, replayers[0], replayers[1], args.jobs,
                                 lambda calls: calls)
    else:
        report = replay.replay(cdrs.read(master, tz=utc), replayers[0], replayers[1], master, utc)
    took, cpu = time.perf_counter() - began, time.process_time() + sum(os.times()[2:4]) - cpu
    began, read_cpu = time.perf_counter(), time.process_time()  # the reference: reading the same file, no routing
    rows = sum(1 for _ in cdrs.read(master, tz=utc))
    read_took, read_cpu = time.perf_counter() - began, time.process_time() - read_cpu
    lines = replay.text(report)
    walks = sum(r.walks for r in replayers)  # in this process (the workers' own are not counted back)
    print("fsroute replay benchmark: %d CDRs (Master.csv, default template) to %d numbers, 3 carrier decks of %d "
          "prefixes + a sell deck, rules vs rules, Python %s, %d CPUs" % (
              report.calls, args.numbers, args.prefixes, sys.version.split()[0], os.cpu_count() or 0))
    print("rules and decks loaded (both files) in %.1f s" % loaded)
    print("replayed %d calls in %.1f s: %d calls/s (target: a million in under 60 s)" % (
        report.calls, took, report.calls / took))
    print("  CPU time of this process: %.1f s (the machine is shared: wall time also counts waiting for a CPU; "
          "load average before: %.2f)" % (cpu, load))
    print("reference, same run: reading the %d CDRs alone took %.1f s, %.1f s of CPU (replay / read: %.1fx wall, "
          "%.1fx CPU)" % (rows, read_took, read_cpu, took / read_took, cpu / read_cpu))
    if args.jobs == 1:
        print("decision walks: %d of %d routings (the rest reused)" % (walks, 2 * report.calls))
    else:
        print("%d processes" % args.jobs)
    print("\n".join(lines[:6]))


if __name__ == "__main__":
    main()
