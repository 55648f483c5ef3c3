#!/usr/bin/env python3
"""Number tables benchmark: 10,000,000 exact rows (DIDs) and 1,000,000 prefix rows.

    python benchmarks/tables.py [--exact N] [--prefix N] [--dir DIR] [--lookups N]

Generates (once, cached in DIR, default /tmp/fsroute-bench-tables) a DID
table (11-digit numbers, 500 distinct customer trunks, sorted as exports
come) and a prefix table (random prefixes of 3 to 10 digits, unsorted), plus
rate decks of the same row counts: the reference each figure is printed
beside, measured in the same run. Then prints:

- cold load (``tables.load`` then ``tablerows.bind``, as a generation does),
  beside ``decks.load`` of a deck with as many rows;
- bytes per row: the RSS the loaded table adds, and its arrays alone;
- lookup (``BoundTable.find``) p50/p99 over hits and 10% misses, beside
  ``Deck.find`` on the same numbers;
- the whole ``router.decide`` of a ``table:`` route at 1,000 rows and at the
  big table's rows, beside a plain ``gateway:`` route;
- the reload of the big table while calls flow, as in the switch (a rules
  store reloading it in the background, the replaced one freed on the
  poller's thread): ``reload_pause.py --table-rows``, the longest call beside
  the same with no reload and beside a busy thread.

Only stdlib and fsroute are used; progress goes to stderr.
"""

import argparse
import gc
import os
import platform
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)

from fsroute.core import decks, loader, router, tables  # noqa: E402
from fsroute.core.model import Layout  # noqa: E402
from fsroute.core.selection import Selector  # noqa: E402
from fsroute.core.tablerows import bind, known_of  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reload_pause  # noqa: E402
from didtable import FIRST_DID, RULES, exact_rows, progress, write_once  # noqa: E402

NOW = 1767225600.0  # 2026-01-01T00:00:00Z


def rss():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def prefixes(count, seed=7):
    found = set()
    rng = random.Random(seed)
    while len(found) < count:
        size = rng.randint(3, 10)
        found.add(str(rng.randrange(10 ** (size - 1), 10 ** size)))
    out = sorted(found)
    rng.shuffle(out)
    return out


def timed_load(load):
    gc.collect()
    before = rss()
    started = time.perf_counter()
    cpu = time.process_time()
    value = load()
    return value, time.perf_counter() - started, time.process_time() - cpu, rss() - before


def percentiles(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def lookup_times(find, numbers):
    clock = time.perf_counter_ns
    out = []
    for number in numbers:
        started = clock()
        find(number)
        out.append((clock() - started) / 1000.0)
    return percentiles(out)


def decide_cost(rules, table_of, numbers, rounds=3):
    """Microseconds per router.decide, the best of ``rounds`` passes over ``numbers``."""
    selector = Selector()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for number in numbers:
            router.decide(rules, {"destination_number": number}.get, _up, selector, NOW, table_of=table_of)
        best = min(best, (time.perf_counter() - started) / len(numbers) * 1e6)
    return best


def _up(name):
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact", type=int, default=10000000)
    parser.add_argument("--prefix", type=int, default=1000000)
    parser.add_argument("--lookups", type=int, default=100000)
    parser.add_argument("--dir", default="/tmp/fsroute-bench-tables")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    exact_path = write_once(os.path.join(args.dir, "exact_%d.csv" % args.exact), "number,target\n",
                            exact_rows(args.exact))
    small_path = write_once(os.path.join(args.dir, "exact_1000.csv"), "number,target\n", exact_rows(1000))
    exact_deck = write_once(os.path.join(args.dir, "deck_exact_%d.csv" % args.exact), "prefix,rate\n",
                            ("%d,0.01\n" % (FIRST_DID + 3 * i) for i in range(args.exact)))
    pre = None
    prefix_path = os.path.join(args.dir, "prefix_%d.csv" % args.prefix)
    prefix_deck = os.path.join(args.dir, "deck_prefix_%d.csv" % args.prefix)
    if not (os.path.exists(prefix_path) and os.path.exists(prefix_deck)):
        pre = prefixes(args.prefix)
    write_once(prefix_path, "prefix,target\n", ("%s,gw%d\n" % (p, i % 200) for i, p in enumerate(pre or ())))
    write_once(prefix_deck, "prefix,rate\n", ("%s,0.01\n" % p for p in pre or ()))
    del pre

    rules = loader.parse(RULES % exact_path, os.path.join(args.dir, "rules.yaml"))
    spec = rules.tables["dids"]
    known = known_of(rules)
    prefix_layout = Layout("prefix", "prefix", ("target",))
    spec_prefix = spec._replace(name="prefixes", layout=prefix_layout)
    print("machine: %s, %d CPUs, Python %s" % (platform.machine(), os.cpu_count() or 0, platform.python_version()))

    progress("loading the %d-row prefix table and its reference deck" % args.prefix)
    ptab, p_s, p_cpu, p_rss = timed_load(lambda: bind(spec_prefix, tables.load(prefix_path, prefix_layout), known))
    pdeck, pd_s, pd_cpu, pd_rss = timed_load(lambda: decks.load(prefix_deck))
    print("\n%-44s %16s %16s" % ("", "table", "deck (reference)"))
    print("%-44s %9.1f s %4.1f cpu %9.1f s %4.1f cpu" % ("cold load, %d prefix rows" % args.prefix, p_s, p_cpu,
                                                         pd_s, pd_cpu))
    print("%-44s %14.1f %16.1f" % ("  RSS bytes/row", p_rss / args.prefix, pd_rss / args.prefix))
    rng = random.Random(3)
    numbers = [str(FIRST_DID + 3 * rng.randrange(args.exact) + (1 if rng.random() < 0.1 else 0))
               for _ in range(args.lookups)]
    dialled = ["%d%s" % (rng.randrange(10, 10 ** 9), "".join(rng.choice("0123456789") for _ in range(4)))
               for _ in range(args.lookups)]
    p50, p99 = lookup_times(lambda n: ptab.find(n, NOW), dialled)
    d50, d99 = lookup_times(lambda n: pdeck.find(n, NOW), dialled)
    print("%-44s %7.2f / %5.2f us %7.2f / %5.2f us" % ("  lookup p50 / p99", p50, p99, d50, d99))
    del pdeck, ptab
    gc.collect()

    progress("loading the %d-row exact table and its reference deck" % args.exact)
    big, big_s, big_cpu, big_rss = timed_load(lambda: bind(spec, tables.load(exact_path, spec.layout), known))
    edeck, ed_s, ed_cpu, ed_rss = timed_load(lambda: decks.load(exact_deck))
    print("%-44s %9.1f s %4.1f cpu %9.1f s %4.1f cpu" % ("cold load, %d exact rows" % args.exact, big_s, big_cpu,
                                                         ed_s, ed_cpu))
    print("%-44s %14.1f %16.1f" % ("  RSS bytes/row", big_rss / args.exact, ed_rss / args.exact))
    print("%-44s %14.1f %16.1f" % ("  array bytes/row", big.table.nbytes() / args.exact,
                                   sum(c.itemsize * len(c) for c in (edeck.keys, edeck.rates, edeck.starts,
                                                                     edeck.ends)) / args.exact))
    e50, e99 = lookup_times(lambda n: big.find(n, NOW), numbers)
    f50, f99 = lookup_times(lambda n: edeck.find(n, NOW), numbers)
    print("%-44s %7.2f / %5.2f us %7.2f / %5.2f us" % ("  lookup p50 / p99 (10% misses)", e50, e99, f50, f99))
    del edeck
    gc.collect()

    small = bind(spec, tables.load(small_path, spec.layout), known)
    small_numbers = [str(FIRST_DID + 3 * rng.randrange(1000)) for _ in range(20000)]
    big_numbers = [str(FIRST_DID + 3 * rng.randrange(args.exact)) for _ in range(20000)]
    plain = ["9" + n for n in small_numbers]
    c_small = decide_cost(rules, {"dids": small}.get, small_numbers)
    c_big = decide_cost(rules, {"dids": big}.get, big_numbers)
    c_plain = decide_cost(rules, {"dids": small}.get, plain)
    print("\n%-44s %9.2f us" % ("router.decide, table route, 1,000 rows", c_small))
    print("%-44s %9.2f us" % ("router.decide, table route, %d rows" % args.exact, c_big))
    print("%-44s %9.2f us  (reference)" % ("router.decide, plain gateway route", c_plain))

    del big, small
    gc.collect()
    progress("reloading the big table through a rules store while a thread routes calls (reload_pause.py)")
    print()
    reload_pause.main(["--table-rows", str(args.exact), "--table-dir", args.dir, "--reloads", "2"])

if __name__ == "__main__":
    main()
