#!/usr/bin/env python3
"""Least-cost routing benchmark: three rate decks of 1,000,000 prefixes each.

    python benchmarks/lcr.py [--prefixes N] [--runs R] [--dir DIR]

Generates (once, cached in DIR) three carriers' decks with a realistic
shape: about 200 country codes, fixed and mobile ranges, prefixes of 4 to
12 digits, 5% of them with a rate change on an effective date, rows grouped
by country (not sorted by prefix, as carriers send them). Then prints:

- cold load of the three decks (``decks.load``), each run in a fresh
  interpreter: seconds (wall clock, and the CPU time of that process: on a
  shared machine the wall clock also counts other people's work) and RSS (VmRSS after loading, VmHWM peak), min /
  median / max over R runs (the machine is shared: the spread matters);
- memory per prefix: the RSS the decks add, divided by the rows;
- lookup + ranking (``lcr.rank`` over the three decks through
  the generation's ``deck_of``, then ``lcr.affordable`` and the best quote's
  prefix) for numbers under known prefixes and 10% unknown ones: p50, p99;
- the whole ``router.decide`` of an ``lcr`` route, for reference;
- a reload of one changed deck in the background while the main thread
  keeps ranking: the longest stall of that thread (the gap between two of
  its lookups) during the reload, next to the same figure for as long with
  no reload, alone and beside a thread running plain Python (what any
  other Python thread costs; on a loaded machine a thread also waits for a
  CPU).

Only stdlib and fsroute are used; progress goes to stderr.
"""

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)

from fsroute.core import decks, lcr, loader, router  # noqa: E402
from fsroute.core.selection import Selector  # noqa: E402
from fsroute.runtime import background, process  # noqa: E402

CARRIERS = ("carrier_a", "carrier_b", "carrier_c")
NOW = 1767225600  # 2026-01-01T00:00:00Z
CHANGE = 1780272000  # 2026-06-01: the effective date of the rate changes
LOAD_MAX_S, LOAD_MAX_MB, P50_MAX_US, P99_MAX_US = 15.0, 500.0, 15.0, 50.0
# Country codes with a rough weight (how many ranges a deck holds for them).
COUNTRIES = ("1:40 7:20 20:4 27:4 30:3 31:4 32:3 33:8 34:6 36:3 39:8 40:3 41:3 43:3 44:12 45:2 46:3 47:2 "
             "48:4 49:14 51:3 52:6 53:1 54:4 55:10 56:3 57:4 58:3 60:4 61:6 62:8 63:6 64:2 65:2 66:4 81:8 "
             "82:6 84:6 86:16 90:5 91:16 92:6 93:2 94:2 95:2 98:4 211:1 212:2 213:2 216:1 218:1 220:1 221:1 "
             "222:1 223:1 224:1 225:1 226:1 227:1 228:1 229:1 230:1 231:1 232:1 233:2 234:4 235:1 236:1 "
             "237:1 238:1 239:1 240:1 241:1 242:1 243:2 244:1 245:1 246:1 248:1 249:1 250:1 251:2 252:1 "
             "253:1 254:2 255:2 256:2 257:1 258:1 260:1 261:1 262:1 263:1 264:1 265:1 266:1 267:1 268:1 "
             "269:1 290:1 291:1 297:1 298:1 299:1 350:1 351:2 352:1 353:2 354:1 355:1 356:1 357:1 358:2 "
             "359:1 370:1 371:1 372:1 373:1 374:1 375:2 376:1 377:1 378:1 380:4 381:1 382:1 383:1 385:1 "
             "386:1 387:1 389:1 420:2 421:1 423:1 500:1 501:1 502:1 503:1 504:1 505:1 506:1 507:1 508:1 "
             "509:1 590:1 591:1 592:1 593:1 594:1 595:1 596:1 597:1 598:1 599:1 670:1 672:1 673:1 674:1 "
             "675:1 676:1 677:1 678:1 679:1 680:1 681:1 682:1 683:1 685:1 686:1 687:1 688:1 689:1 690:1 "
             "691:1 692:1 850:1 852:2 853:1 855:1 856:1 880:3 886:2 960:1 961:1 962:1 963:1 964:1 965:1 "
             "966:2 967:1 968:1 970:1 971:2 972:2 973:1 974:1 975:1 976:1 977:1 992:1 993:1 994:1 995:1 "
             "996:1 998:1").split()


def progress(message):
    print(message, file=sys.stderr, flush=True)


def prefix_pool(count, rng):
    """``count`` distinct prefixes: country code, a fixed or mobile range, 4 to 12 digits in all."""
    codes = [item.split(":")[0] for item in COUNTRIES]
    weights = [int(item.split(":")[1]) for item in COUNTRIES]
    lengths = [4, 5, 6, 7, 8, 9, 10, 11, 12]
    length_weights = [4, 8, 14, 18, 18, 14, 10, 8, 6]
    pool = set(codes)
    while len(pool) < count:
        code = rng.choices(codes, weights)[0]
        mobile = rng.random() < 0.4
        lead = rng.choice(("6", "7", "9", "15", "16", "17", "30", "31")) if mobile else str(rng.randint(1, 9))
        length = max(rng.choices(lengths, length_weights)[0], len(code) + len(lead))
        tail = length - len(code) - len(lead)
        pool.add(code + lead + "".join(rng.choice("0123456789") for _ in range(tail)))
    return sorted(pool)


def write_deck(path, prefixes, rng):
    """One deck: rows grouped by country (carriers' order, not prefix order), 5% re-rated on CHANGE."""
    by_country = {}
    for prefix in prefixes:
        by_country.setdefault(prefix[:2], []).append(prefix)
    groups = list(by_country.values())
    rng.shuffle(groups)
    lines = ["prefix,rate,effective_from,effective_to,description\n"]
    for group in groups:
        for prefix in group:
            rate = rng.randint(500, 300000) / 1e6
            if rng.random() < 0.05:
                lines.append("%s,%.5f,,2026-06-01,%s\n" % (prefix, rate, prefix[:2]))
                lines.append("%s,%.5f,2026-06-01,,%s\n" % (prefix, rate * 0.9, prefix[:2]))
            else:
                lines.append("%s,%.5f,,,%s\n" % (prefix, rate, prefix[:2]))
    with open(path, "w") as handle:
        handle.writelines(lines)


def generate(directory, count):
    """The three deck paths under ``directory``, generated unless already there."""
    paths = [os.path.join(directory, "%s-%d.csv" % (name, count)) for name in CARRIERS]
    if all(os.path.exists(p) for p in paths):
        return paths
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(15)
    progress("generating %d-prefix pool..." % (count * 13 // 10))
    pool = prefix_pool(count * 13 // 10, rng)
    for path in paths:
        progress("writing %s" % path)
        write_deck(path + ".tmp", rng.sample(pool, count), rng)
        os.replace(path + ".tmp", path)
    return paths


def rules_text(paths):
    carriers = "".join("  %s: {deck: '%s', gateway: gw_%s, number_format: '+{number}', currency: USD}\n"
                       % (name, path, name[-1]) for name, path in zip(CARRIERS, paths))
    return ("version: 1\ndefaults: {status_ttl: 3600}\ncarriers:\n" + carriers +
            "routes:\n  - name: international\n    match: {destination_number: '^00(\\d+)$'}\n"
            "    number: '$1'\n    lcr: {carriers: [%s], max_rate: 0.25}\n" % ", ".join(CARRIERS))


def memory_mb():
    """(VmRSS, VmHWM) of this process in MB (10^6 bytes)."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def child_load(paths):
    """Run in a fresh interpreter: load the decks, print seconds, RSS and rows as JSON."""
    before, _ = memory_mb()
    started, cpu = time.perf_counter(), time.process_time()
    loaded = [decks.load(p) for p in paths]
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    rss, hwm = memory_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss": rss, "hwm": hwm, "before": before,
                      "rows": sum(len(d) for d in loaded)}))


def cold_loads(paths, runs):
    results = []
    for run in range(runs):
        progress("cold load %d/%d..." % (run + 1, runs))
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-load"] + paths,
                             check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out))
    return results


def numbers(paths, rng, count):
    """Dialled numbers: a known prefix filled up to 11-13 digits, and 10% under no prefix at all."""
    prefixes = []
    with open(paths[0]) as handle:
        next(handle)
        for line in handle:
            prefixes.append(line.split(",", 1)[0])
    out = []
    for _ in range(count):
        if rng.random() < 0.1:
            out.append("0" + "".join(rng.choice("0123456789") for _ in range(11)))
            continue
        prefix = rng.choice(prefixes)
        length = max(len(prefix) + 1, rng.randint(11, 13))
        out.append(prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix))))
    return out


def percentiles(samples):
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_each(function, items, repeat=5):
    """Per-item times in us (best of ``repeat`` passes, per item), gc off."""
    clock = time.perf_counter_ns
    best = [float("inf")] * len(items)
    gc.disable()
    try:
        for _ in range(repeat):
            for index, item in enumerate(items):
                started = clock()
                function(item)
                elapsed = clock() - started
                if elapsed < best[index]:
                    best[index] = elapsed
    finally:
        gc.enable()
    return [ns / 1000.0 for ns in best]


def lookups(generation, dialled):
    rules = generation.rules
    route = rules.routes[0]
    carriers = route.lcr.carriers
    deck_of = generation.deck_of

    def rank(number):
        ranking = lcr.rank(carriers, deck_of, number, NOW)
        quotes = lcr.affordable(ranking.quotes, route.lcr.max_rate)
        for quote in quotes[:1]:  # what the router takes from each dialled carrier
            quote.deck.prefix(quote.row)

    selector = Selector(None, rules.groups.values())
    def is_up(gateway):
        return True

    def decide(number):
        facts = {"destination_number": "00" + number}
        router.decide(rules, facts.get, is_up, selector, now=NOW, deck_of=deck_of)

    return time_each(rank, dialled), time_each(decide, dialled)


def longest_gap(generation, dialled, until):
    """Rank numbers in a loop until ``until()`` holds; the longest gap between two lookups, in ms."""
    clock = time.perf_counter
    carriers = generation.rules.routes[0].lcr.carriers
    deck_of = generation.deck_of
    last = clock()
    worst = 0.0
    index = 0
    while not until():
        lcr.rank(carriers, deck_of, dialled[index % len(dialled)], NOW)
        index += 1
        now = clock()
        if now - last > worst:
            worst = now - last
        last = now
    return worst * 1000


def reload_stall(store, paths, dialled):
    """Longest lookup gaps (ms): during a background reload of one deck (a new generation built aside),
    then for as long with no reload, alone and beside a busy Python thread (on a loaded machine a thread
    waits for a CPU too); and the reload's s."""
    path = paths[-1]
    old = store.generation
    extra = b"99999999999,0.12345,,,new\n"
    with open(path, "ab") as handle:  # a changed deck: one more row
        handle.write(extra)
    aged = time.time() - 10
    os.utime(path, (aged, aged))
    started = time.perf_counter()
    store._next_check = 0.0  # let the next call see the change at once
    store.current()  # a call: it starts the background build
    during = longest_gap(old, dialled, lambda: store.generation is not old)
    took = time.perf_counter() - started

    def for_as_long():
        deadline = time.perf_counter() + took
        return lambda: time.perf_counter() > deadline

    alone = longest_gap(old, dialled, for_as_long())
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            for _ in range(10000):
                pass

    thread = threading.Thread(target=busy)
    thread.start()
    beside_busy = longest_gap(old, dialled, for_as_long())
    stop.set()
    thread.join()
    with open(path, "rb+") as handle:  # put the deck back as generated (only now: no reload in the baselines)
        handle.seek(-len(extra), os.SEEK_END)
        handle.truncate()
    return alone, beside_busy, during, took


def spread(values, fmt="%.1f"):
    return "%s / %s / %s" % (fmt % min(values), fmt % statistics.median(values), fmt % max(values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--numbers", type=int, default=20000)
    parser.add_argument("--dir", default=os.path.join("/tmp", "fsroute-lcr-bench"))
    parser.add_argument("--child-load", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_load:
        return child_load(args.child_load)
    paths = generate(args.dir, args.prefixes)
    loads = cold_loads(paths, args.runs)
    rows = loads[0]["rows"]

    rules_path = os.path.join(args.dir, "rules.yaml")
    with open(rules_path, "w") as handle:
        handle.write(rules_text(paths))
    progress("loading the rules and their decks in this process...")
    store = process.store_for(rules_path)
    generation = store.current()
    dialled = numbers(paths, random.Random(7), args.numbers)
    progress("timing %d lookups..." % len(dialled))
    rank_us, decide_us = lookups(generation, dialled)
    progress("reloading one deck while ranking...")
    alone_ms, busy_ms, stall_ms, reload_s = reload_stall(store, paths, dialled)

    print("fsroute lcr benchmark: 3 decks x %d prefixes (%d rows with dated re-rates), Python %s, %d CPUs"
          % (args.prefixes, rows, sys.version.split()[0], os.cpu_count()))
    print("%-46s %-26s %s" % ("figure", "min / median / max", "target"))
    print("%-46s %-26s <= %.0f s" % ("cold load of 3 decks, s (%d runs)" % len(loads),
                                     spread([r["seconds"] for r in loads]), LOAD_MAX_S))
    print("%-46s %-26s" % ("  of which CPU time of the loading process, s", spread([r["cpu"] for r in loads])))
    print("%-46s %-26s <= %.0f MB" % ("RSS after the cold load, MB", spread([r["rss"] for r in loads]),
                                      LOAD_MAX_MB))
    print("%-46s %-26s" % ("peak RSS during the cold load, MB", spread([r["hwm"] for r in loads])))
    per_row = [(r["rss"] - r["before"]) * 1e6 / r["rows"] for r in loads]
    print("%-46s %-26s" % ("memory per prefix row, bytes", spread(per_row, "%.0f")))
    p50, p99 = percentiles(rank_us)
    print("%-46s %-26s <= %.0f us" % ("lookup + ranking, p50 us", "%.1f" % p50, P50_MAX_US))
    print("%-46s %-26s <= %.0f us" % ("lookup + ranking, p99 us", "%.1f" % p99, P99_MAX_US))
    p50, p99 = percentiles(decide_us)
    print("%-46s %-26s" % ("router.decide of an lcr route, p50 / p99 us", "%.1f / %.1f" % (p50, p99)))
    print("%-46s %-26s" % ("reload of one deck in the background, s", "%.1f" % reload_s))
    print("%-46s %-26s" % ("longest lookup-thread stall during it, ms", "%.1f" % stall_ms))
    print("%-46s %-26s" % ("  as long with no reload, lookups alone, ms", "%.1f" % alone_ms))
    print("%-46s %-26s" % ("  as long beside a busy Python thread, ms", "%.1f" % busy_ms))
    print("(switch interval %.1f ms, %.1f ms while a background load runs: a thread waiting for the GIL "
          "waits up to that long)" % (sys.getswitchinterval() * 1000, background.FAST_SWITCH_SECONDS * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
