#!/usr/bin/env python3
"""fsroute benchmark: what one call costs, and how that grows with the rules file.

    python benchmarks/run.py [--quick] [--json FILE]

Generates rules files of 10, 1,000 and 100,000 international prefix routes
(``^00(4420\\d{5,11})$`` and the like, no catch-all) in a temporary
directory and prints one table:

- the full ``fsroute.route.handler`` per call (StubSession under
  FakeFreeSWITCH, every gateway up, readings cached after a warm-up), for
  numbers whose route is near the end of the file ("end") and numbers that
  match no route ("none"), reported separately;
- the same decisions by ``fsroute.core.router.find_route`` (the index) and by a
  plain first-match scan over every route's compiled regex (what an XML
  dialplan does), the ratio of the two, and the handler with the index
  swapped for that scan;
- ``importlib.reload(fsroute.route)``, which mod_python3 does on every call,
  in this process and in a fresh one on a byte-compiled copy of the package
  (what ``pip install`` leaves behind);
- the handler and find_route again on files of 10 and 100,000 routes where every
  route has time conditions (``time:`` in one of four zones, ``when:`` and
  ``unless:`` calendars), all holding, so the same numbers route the same way;
- cold ``fsroute.core.loader.load`` of the 100,000-route file: time, peak RSS
  and the resident memory kept per route, each in a fresh subprocess, and
  the longest pause a thread looping on the clock sees during that load;
- ``Selector.order`` alone for each strategy (groups of 2 to 4 gateways);
- observability: the handler with metrics and the fsroute::route event on
  and off (interleaved rounds), a traced call, and the parts alone (event
  fire under the fake switch, metrics update, one metrics page). The
  event's cost inside a real FreeSWITCH: benchmarks/observability_fs.py.

Rows marked with a 0.1.0 column are also measured, in the same run, on
fsroute 0.1.0 (commit 2a7c7f3, taken from this checkout's git history into
a temporary directory): the cold load, its pause, and the stub handler on
the plain weighted route of the 10-route file (``reference_handler``, each
package in a fresh process). A clone without that commit prints a line and
leaves the column empty.

Times are per call, measured with time.perf_counter_ns and the garbage
collector off; p50 and p99 are nearest-rank percentiles over ``n`` samples.
Only stdlib and fsroute are used. Progress goes to stderr, the table to stdout.
"""

import argparse
import compileall
import functools
import gc
import importlib
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

# Benchmark the checkout this script lives in, when run from one.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)

import fsroute  # noqa: E402
import fsroute.route  # noqa: E402
from fsroute.core import router  # noqa: E402
from fsroute.core.calendars import Moment  # noqa: E402
from fsroute.core.model import Group, Member, Outcome  # noqa: E402
from fsroute.core.selection import Selector  # noqa: E402
from fsroute.runtime.process import store_for  # noqa: E402
from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state  # noqa: E402

SIZES = (10, 1000, 100000)
BIG = SIZES[-1]
TIMED_SIZES = (10, BIG)
TIMED_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
SEED = 4
REFERENCE_COMMIT = "2a7c7f3"  # fsroute 0.1.0
REFERENCE_LOADER = "fsroute.rules"
LOADER = "fsroute.core.loader"
WEIGHTED_NUMBER = "+441234567890"  # the 'e164 with plus' route: group carrier_wrr, weighted round robin

# Targets of issue 4.
HANDLER_P50_US = {10: 20.0, BIG: 40.0}
SPEEDUP_MIN = 100.0
RELOAD_P50_US = 20.0
LOAD_MAX_S = 3.0
LOAD_MAX_MB = 250.0
ROUTE_MAX_BYTES = 1000.0  # resident memory the loaded rules keep, per route (issue 10)

# E.164 country codes: a prefix-free set, none starting with 99.
COUNTRY_CODES = (
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43",
    "44", "45", "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58",
    "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92",
    "93", "94", "95", "98", "212", "213", "216", "218", "220", "221", "223", "225",
    "226", "227", "228", "229", "230", "233", "234", "237", "243", "244", "249", "250",
    "251", "254", "255", "256", "260", "263", "351", "352", "353", "354", "355", "356",
    "357", "358", "359", "370", "371", "372", "373", "374", "375", "376", "377", "380",
    "381", "385", "386", "387", "389", "420", "421", "423", "501", "502", "503", "504",
    "505", "506", "507", "509", "591", "593", "595", "598", "852", "853", "855", "856",
    "880", "886", "960", "961", "962", "963", "964", "965", "966", "967", "968", "971",
    "972", "973", "974", "975", "976", "977",
)
GATEWAYS = tuple("gw%d" % i for i in range(1, 9))
GROUPS = (  # name, strategy, ((gateway, weight), ...)
    ("carrier_wrr", "weighted_round_robin", (("gw1", 1), ("gw2", 2))),
    ("carrier_random", "weighted_random", (("gw3", 1), ("gw4", 1), ("gw5", 2))),
    ("carrier_hash_caller", "hash_caller", (("gw1", 1), ("gw2", 1), ("gw3", 1), ("gw4", 1))),
    ("carrier_hash_dest", "hash_destination", (("gw5", 2), ("gw6", 1), ("gw7", 1))),
    ("carrier_priority", "priority", (("gw7", 1), ("gw8", 1))),
)
SOURCE = "127.0.0.1"


# -- rules files ---------------------------------------------------------------

class Prefix:
    """One generated prefix route: the digits after 00, and how many digits may follow them."""

    def __init__(self, digits, low, high):
        self.digits = digits
        self.low = low
        self.high = high


def country_prefixes(cc, count, rng):
    """``count`` prefixes of one country: area codes longest first, the country last."""
    extensions = set()
    while len(extensions) < count - 1:
        length = rng.choice((1, 2, 2, 3, 3, 3, 4))
        extensions.add(str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1)))
    ordered = sorted(extensions, key=lambda e: (-len(e), e)) + [""]
    out = []
    for ext in ordered:
        digits = cc + ext
        low = max(1, 8 - len(digits))
        out.append(Prefix(digits, low, max(low, 14 - len(digits))))
    return out


def generate_prefixes(count, rng):
    """``count - 2`` prefix routes spread over the countries, in file order."""
    wanted = count - 2  # two special routes come first
    countries = COUNTRY_CODES[:wanted]
    per, extra = divmod(wanted, len(countries))
    out = []
    for i, cc in enumerate(countries):
        out.extend(country_prefixes(cc, per + (1 if i < extra else 0), rng))
    return out


def rules_text(prefixes, timed=False):
    """The rules file: an ingress acl, five groups, two special routes, then the prefixes.

    ``timed``: every route also has time conditions that hold at any instant but must be
    evaluated (an inline ``time:`` in one of four zones, a ``when:`` and an ``unless:`` calendar).
    """
    lines = [
        "# generated by benchmarks/run.py",
        "version: 1",
        "defaults:",
        "  profile: external",
        "  status_ttl: 2",
        "  max_attempts: 3",
        "acls:",
        "  trunk_peers:",
        "    default: deny",
        "    nodes:",
        "      - allow: 127.0.0.0/8",
        "      - deny: 127.0.0.99/32",
        "ingress_acl: trunk_peers",
        "groups:",
    ]
    for name, strategy, members in GROUPS:
        lines.append("  %s:" % name)
        lines.append("    strategy: %s" % strategy)
        lines.append("    gateways:")
        lines.extend("      - {name: %s, weight: %d}" % m for m in members)
    if timed:
        lines += ["calendars:",
                  "  open: {wday: sun-sat, time-of-day: '00:00-24:00', tz: Europe/Berlin}",
                  "  holidays: {dates: [2001-12-25, 2001-12-26]}"]
    lines += [
        "routes:",
        "  - name: emergency",
        "    match: {destination_number: '^(112|911)$'}",
        "    gateway: gw1",
        "  - name: e164 with plus",
        "    match: {destination_number: '^\\+(\\d{7,15})$'}",
        "    number: '$1'",
        "    group: carrier_wrr",
    ]
    if timed:
        lines[-5:-5] = ["    when: open"]                          # emergency: a calendar
        lines.append("    time: {wday: 1-7, tz: UTC}")              # e164 with plus: its own time
    for i, p in enumerate(prefixes):
        lines.append("  - name: to %s" % p.digits)
        lines.append("    match: {destination_number: '^00(%s\\d{%d,%d})$'}" % (p.digits, p.low, p.high))
        lines.append("    number: '$1'")
        if timed:
            lines.append("    time: {hour: 0-23, tz: %s}" % TIMED_ZONES[i % len(TIMED_ZONES)])
            lines.append("    when: open")
            lines.append("    unless: holidays")
        if i % 3 == 0:
            lines.append("    gateway: %s" % GATEWAYS[i % len(GATEWAYS)])
        else:
            lines.append("    group: %s" % GROUPS[i % len(GROUPS)][0])
    return "\n".join(lines) + "\n"


def random_digits(rng, count):
    return "".join(rng.choice("0123456789") for _ in range(count))


def late_numbers(prefixes, rng, count=200):
    """(number, route name) pairs whose first matching route is in the last 2% of the file."""
    first = {}
    for position, p in enumerate(prefixes):
        first.setdefault(p.digits, (position, p))
    limit = len(prefixes) - max(1, len(prefixes) // 50)
    tail = prefixes[limit:]
    out = []
    for _ in range(count * 50):
        p = rng.choice(tail)
        rest = p.digits + random_digits(rng, rng.randint(p.low, p.high))
        # First match in file order among the routes whose prefix the number starts with.
        hits = [first[rest[:k]] for k in range(1, len(rest) + 1) if rest[:k] in first]
        hits = [(pos, q) for pos, q in hits if q.low <= len(rest) - len(q.digits) <= q.high]
        if hits and min(hits, key=lambda h: h[0])[0] >= limit:
            out.append(("00" + rest, "to " + min(hits, key=lambda h: h[0])[1].digits))
            if len(out) == count:
                break
    return out


def unrouted_numbers(rng, count=200):
    """(number, None) pairs no route matches: an unassigned country code, or a national number."""
    return [(("00999" if i % 2 else "0" + str(rng.randint(2, 9))) + random_digits(rng, 8), None)
            for i in range(count)]


def call_variables(number, rng):
    """Channel variables of an inbound SIP call from a loopback peer."""
    return {"destination_number": number, "caller_id_number": "1%09d" % rng.randint(0, 10 ** 9 - 1),
            "network_addr": SOURCE, "sip_network_ip": SOURCE, "sip_network_port": "5060",
            "sofia_profile_name": "external", "context": "public", "direction": "inbound"}


# -- measuring -------------------------------------------------------------------

def measure(run, prepare, iterations, budget):
    """ns per ``run(*prepare(i))``: ``iterations`` samples, fewer when ``budget`` seconds run out."""
    samples = []
    gc.collect()
    gc.disable()
    try:
        deadline = time.perf_counter() + budget
        clock = time.perf_counter_ns
        for i in range(iterations):
            args = prepare(i)
            start = clock()
            run(*args)
            samples.append(clock() - start)
            if i % 16 == 15 and i >= 30 and time.perf_counter() > deadline:
                break
    finally:
        gc.enable()
    return samples


def percentile(samples, p):
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


class LinearIndex:
    """Stands in for RouteIndex: every route is a candidate (an XML dialplan's scan)."""

    def __init__(self, routes):
        self.routes = tuple(routes)

    def candidates(self, number):
        return self.routes


def linear_find(routes, rules, get, destination, source, moment=None):
    """First of ``routes`` (``rules``' routes, each made once: a big set makes a route afresh, its regex
    uncompiled, whenever it is walked) whose regexes, time conditions and acl hold: no index at all."""
    refused = None
    for route in routes:
        match = None
        if route.dest is not None:
            match = route.dest.search(destination)
            if match is None:
                continue
        if not all(regex.search(get(name) or "") for name, regex in route.conditions):
            continue
        if (route.when or route.unless) and not moment.allows(route):
            continue
        if route.acl is not None and not rules.acls[route.acl].allows(source):
            refused = refused or route
            continue
        return route, match, None
    return None, None, refused


# -- the table ----------------------------------------------------------------------

class Table:
    """Rows of the one printed table, also written as JSON."""

    def __init__(self):
        self.rows = []

    def add(self, what, routes, samples=None, unit="us", p50=None, p99=None, n=None,
            at_most=None, at_least=None, reference=None):
        """One row; ``samples`` in ns give p50/p99/n in us. A limit checks p50 (PASS/MISS);
        ``reference``: 0.1.0's p50 of the same measure in this run."""
        if samples is not None:
            p50, p99, n = percentile(samples, 50) / 1000.0, percentile(samples, 99) / 1000.0, len(samples)
        target = status = None
        on = "p50 " if unit == "us" else ""
        if at_most is not None:
            target, status = "%s<= %g %s" % (on, at_most, unit), p50 <= at_most
        elif at_least is not None:
            target, status = "%s>= %g%s" % (on, at_least, unit), p50 >= at_least
        self.rows.append({"what": what, "routes": routes, "p50": p50, "p99": p99, "unit": unit, "n": n,
                          "target": target, "status": None if status is None else ("PASS" if status else "MISS"),
                          "reference": reference})
        return p50

    def render(self):
        head = ("measure", "routes", "p50", "p99", "unit", "n", "0.1.0", "/0.1.0", "target", "result")
        body = [head]
        for r in self.rows:
            ref = r.get("reference")
            body.append((r["what"], "" if r["routes"] is None else "{:,}".format(r["routes"]),
                         _num(r["p50"]), _num(r["p99"]), r["unit"], "" if r["n"] is None else str(r["n"]),
                         "" if ref is None else _num(ref), "" if not ref else "%.2f" % (r["p50"] / ref),
                         r["target"] or "", r["status"] or ""))
        widths = [max(len(row[i]) for row in body) for i in range(len(head))]
        right = (False, True, True, True, False, True, True, True, False, False)
        lines = []
        for k, row in enumerate(body):
            cells = [c.rjust(w) if right[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _num(value):
    if value is None:
        return "-"
    if value >= 100:
        return "%.0f" % value
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def machine():
    """CPU model, cores and Python, for the table's header."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": usable,
            "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
            "platform": platform.platform(), "fsroute": getattr(fsroute, "__version__", "?"),
            "fsroute_path": os.path.dirname(fsroute.__file__), "loadavg_1min": load}


def progress(message):
    sys.stderr.write("bench: %s\n" % message)
    sys.stderr.flush()


# -- the measurements --------------------------------------------------------------

def bench_size(table, size, path, prefixes, fake, counts, timed=False):
    """Handler, index and linear scan on one rules file (``timed``: every route has time conditions)."""
    rng = random.Random(SEED + size)
    suffix = ", timed" if timed else ""
    kinds = (("end" + suffix, late_numbers(prefixes, rng)), ("none" + suffix, unrouted_numbers(rng)))
    handler = fsroute.route.handler
    for _ in range(3):  # warm up: first load, gwlist reading, acl verdicts
        for _, numbers in kinds:
            for number, _ in numbers:
                handler(StubSession(call_variables(number, rng), fake=fake), path)
    rules = store_for(path).current().rules
    assert len(rules.routes) == size, (len(rules.routes), size)
    made = tuple(rules.routes)  # each regex compiled at its first search, then kept, as a dialplan would
    linear = functools.partial(linear_find, made)

    for kind, numbers in kinds:
        variables = [call_variables(number, rng) for number, _ in numbers]
        for v, (number, name) in zip(variables, numbers):  # the benchmark measures what it claims to
            session = StubSession(v, fake=fake)
            handler(session, path)
            got = (session.getVariable("fsroute_result"), session.getVariable("fsroute_route"))
            assert got == (("bridged", name) if name else ("no_route", None)), (number, name, got)
            decided = (rules, v.get, number, SOURCE, Moment(time.time()))
            assert router.find_route(*decided)[0] == linear(*decided)[0], number
        decisions = [(rules, v.get, v["destination_number"], SOURCE) for v in variables]

        def new_call(i, variables=variables):
            if i % 512 == 0:
                del fake.logs[:]  # the fake keeps every log line
            return StubSession(variables[i % len(variables)], fake=fake), path

        def decision(i, decisions=decisions):
            return decisions[i % len(decisions)] + (Moment(time.time()),)  # a call's moment: nothing cached

        # A scan of 100,000 routes takes milliseconds: fewer samples there.
        linear_decisions = max(50, min(counts["decide"], counts["decide"] * 100 // size))
        linear_calls = max(50, min(counts["handler"], counts["handler"] * 100 // size))
        progress("%d routes, %s: handler" % (size, kind))
        handled = table.add("handler, %s" % kind, size, measure(handler, new_call, counts["handler"], counts["budget"]),
                            at_most=HANDLER_P50_US.get(size))
        progress("%d routes, %s: find_route (index)" % (size, kind))
        indexed = table.add("find_route (index), %s" % kind, size,
                            measure(router.find_route, decision, counts["decide"], counts["budget"]))
        progress("%d routes, %s: linear scan" % (size, kind))
        scanned = table.add("linear scan, %s" % kind, size,
                            measure(linear, decision, linear_decisions, counts["budget"]))
        table.add("  speed-up find_route vs linear, %s" % kind, size, unit="x", p50=scanned / indexed,
                  at_least=SPEEDUP_MIN if size == BIG else None)

        progress("%d routes, %s: handler over a linear scan" % (size, kind))
        index = rules.index
        rules.index = LinearIndex(made)
        try:
            samples = measure(handler, new_call, linear_calls, counts["budget"])
        finally:
            rules.index = index
        slow = table.add("handler over linear scan, %s" % kind, size, samples)
        table.add("  speed-up handler index vs linear, %s" % kind, size, unit="x", p50=slow / handled)


_RELOAD_SCRIPT = """
import gc, importlib, json, os, sys, time
import fsroute.route as module
assert module.__file__.startswith(os.getcwd()) and os.path.exists(module.__cached__), module.__file__
for _ in range(50):
    importlib.reload(module)
samples = []
gc.disable()
for _ in range(int(sys.argv[1])):
    start = time.perf_counter_ns()
    importlib.reload(module)
    samples.append(time.perf_counter_ns() - start)
print(json.dumps(samples))
"""


def bench_reload(table, counts, tmp):
    """What mod_python3 adds to every call: importlib.reload of the entry module.

    Measured here (with or without a .pyc, as this checkout happens to be)
    and in a fresh process on a byte-compiled copy of the package, which is
    what ``pip install`` leaves behind.
    """
    progress("reload of fsroute.route")
    module = sys.modules["fsroute.route"]
    for _ in range(50):
        importlib.reload(module)
    cached = os.path.exists(module.__cached__ or "")
    samples = measure(importlib.reload, lambda i: (module,), counts["reload"], counts["budget"])
    table.add("importlib.reload(fsroute.route), %s" % (".pyc present" if cached else "no .pyc, compiles"),
              None, samples, at_most=RELOAD_P50_US)

    progress("reload of fsroute.route, byte-compiled copy")
    site = os.path.join(tmp, "site")
    shutil.copytree(os.path.dirname(fsroute.__file__), os.path.join(site, "fsroute"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(os.path.join(site, "fsroute"), quiet=1)
    env = dict(os.environ, PYTHONPATH=site)
    out = subprocess.run([sys.executable, "-c", _RELOAD_SCRIPT, str(counts["reload"])], cwd=site, env=env,
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    table.add("importlib.reload(fsroute.route), as installed", None, json.loads(out), at_most=RELOAD_P50_US)


_LOAD_SCRIPT = """
import gc, importlib, json, resource, sys, time
loader = importlib.import_module(sys.argv[2])

def status_kb(field):
    # VmHWM is this process's own peak; on Linux ru_maxrss also counts the
    # parent's RSS at fork/exec, so it is only the fallback (and for VmRSS, 0).
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    if field != "VmHWM":
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == "darwin" else 1)

gc.collect()
before, resident_before = status_kb("VmHWM"), status_kb("VmRSS")
start = time.perf_counter()
ruleset = loader.load(sys.argv[1])
seconds = time.perf_counter() - start
gc.collect()
print(json.dumps({"seconds": seconds, "before_kb": before, "peak_kb": status_kb("VmHWM"),
                  "kept_kb": status_kb("VmRSS") - resident_before, "routes": len(ruleset.routes),
                  "gc_enabled": gc.isenabled()}))
"""


def reference_package(tmp, commit=REFERENCE_COMMIT):
    """A directory holding the fsroute package of ``commit`` (default 0.1.0) from this checkout's git
    history, or None."""
    target = os.path.join(tmp, "fsroute-%s" % commit)
    os.makedirs(target, exist_ok=True)
    try:
        archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "fsroute"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if archive.returncode == 0:
            unpacked = subprocess.run(["tar", "-x", "-C", target], input=archive.stdout)
            if unpacked.returncode == 0:
                return target
    except OSError:  # no git or tar here
        pass
    print("no commit %s in this clone: no column for it" % commit)
    return None


def in_fresh_process(package_dir, script, *args):
    """The last line of ``script``'s output as JSON, run by a fresh interpreter importing fsroute from
    ``package_dir`` (this checkout when None)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir or ROOT, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", script] + [str(a) for a in args], env=env, check=True,
                         cwd=package_dir or ROOT, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_cold_load(table, path, runs, reference_dir):
    """loader.load of the big file, each run in a fresh interpreter: time, peak RSS, and the RSS
    the loaded rules keep (after minus before, in KiB), per route; then the longest pause a looping
    thread sees during a load. Runs alternate between this fsroute and 0.1.0 (``reference_dir``)."""
    found, reference = [], []
    for k in range(runs):
        progress("cold load of %d routes, run %d of %d" % (BIG, k + 1, runs))
        found.append(in_fresh_process(None, _LOAD_SCRIPT, path, LOADER))
        if reference_dir is not None:
            reference.append(in_fresh_process(reference_dir, _LOAD_SCRIPT, path, REFERENCE_LOADER))
    assert all(f["routes"] == BIG for f in found + reference)
    assert all(f["gc_enabled"] for f in found), "loading must leave the cyclic GC as it found it"
    mine, theirs = _load_figures(found), _load_figures(reference) if reference else {}
    table.add("cold loader.load (fresh process)", BIG, unit="s", p50=mine["seconds"], p99=mine["slowest"], n=runs,
              at_most=LOAD_MAX_S, reference=theirs.get("seconds"))
    table.add("cold loader.load, peak RSS", BIG, unit="MB", p50=mine["peak"], n=runs, at_most=LOAD_MAX_MB,
              reference=theirs.get("peak"))
    table.add("  of which interpreter + imports", None, unit="MB", p50=mine["before"], n=runs,
              reference=theirs.get("before"))
    table.add("resident memory kept per route", BIG, unit="B", p50=mine["per_route"], p99=mine["per_route_max"],
              n=runs, at_most=ROUTE_MAX_BYTES, reference=theirs.get("per_route"))
    pauses, reference_pauses = [], []
    for k in range(runs):
        progress("longest pause of a looping thread during a load, run %d of %d" % (k + 1, runs))
        pauses.append(in_fresh_process(None, _PAUSE_SCRIPT, path, LOADER)["longest_ms"])
        if reference_dir is not None:
            reference_pauses.append(
                in_fresh_process(reference_dir, _PAUSE_SCRIPT, path, REFERENCE_LOADER)["longest_ms"])
    table.add("longest pause of another thread during the load", BIG, unit="ms", p50=sorted(pauses)[runs // 2],
              p99=max(pauses), n=runs, reference=sorted(reference_pauses)[runs // 2] if reference_pauses else None)


def _load_figures(found):
    seconds = sorted(f["seconds"] for f in found)
    per_route = sorted(f["kept_kb"] * 1024.0 / BIG for f in found)
    return {"seconds": seconds[len(seconds) // 2], "slowest": seconds[-1],
            "peak": max(f["peak_kb"] for f in found) * 1024 / 1e6,
            "before": max(f["before_kb"] for f in found) * 1024 / 1e6,
            "per_route": per_route[len(per_route) // 2], "per_route_max": per_route[-1]}


_PAUSE_SCRIPT = """
import importlib, json, sys, threading, time
loader = importlib.import_module(sys.argv[2])
longest, done = [0.0], threading.Event()

def tick():  # what a call thread sees: the longest time it could not run
    clock, last = time.perf_counter, time.perf_counter()
    while not done.is_set():
        now = clock()
        if now - last > longest[0]:
            longest[0] = now - last
        last = now

thread = threading.Thread(target=tick)
thread.start()
time.sleep(0.2)
longest[0] = 0.0
loader.load(sys.argv[1])
done.set()
thread.join()
print(json.dumps({"longest_ms": longest[0] * 1000.0}))
"""

_HANDLER_SCRIPT = """
import gc, json, sys, time
from fsroute import route
from fsroute.testing import FakeFreeSWITCH, StubSession
path, number, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
variables = {"destination_number": number, "caller_id_number": "1000000001", "network_addr": "127.0.0.1",
             "sip_network_ip": "127.0.0.1", "sip_network_port": "5060", "sofia_profile_name": "external",
             "context": "public", "direction": "inbound"}
fake = FakeFreeSWITCH()
fake.set_gateways("external", up=["gw%d" % i for i in range(1, 9)])
with fake:
    for _ in range(200):  # warm up: the load, the gwlist reading, the acl verdict
        session = StubSession(dict(variables), fake=fake)
        route.handler(session, path)
    assert session.getVariable("fsroute_result") == "bridged", session.getVariable("fsroute_result")
    samples = []
    gc.collect()
    gc.disable()
    for i in range(count):
        if i % 512 == 0:
            del fake.logs[:]
        session = StubSession(dict(variables), fake=fake)
        start = time.perf_counter_ns()
        route.handler(session, path)
        samples.append(time.perf_counter_ns() - start)
    gc.enable()
print(json.dumps(samples))
"""


def reference_handler(package_dir, rules_path, number=WEIGHTED_NUMBER, count=20000):
    """ns per call of the stub handler (fsroute.testing) routing ``number`` by ``rules_path``, in a fresh
    process importing fsroute from ``package_dir`` (None: this checkout). For a column beside 0.1.0's:
    call it with ``reference_package(tmp)`` and with None in the same run."""
    return in_fresh_process(package_dir, _HANDLER_SCRIPT, rules_path, number, count)


def bench_handler_reference(table, path, counts, reference_dir):
    """The stub handler on the plain weighted route of the 10-route file, here and in 0.1.0, in turns."""
    progress("stub handler, plain weighted route, this fsroute and 0.1.0 in fresh processes")
    mine = reference_handler(None, path, count=counts["handler"])
    theirs = reference_handler(reference_dir, path, count=counts["handler"]) if reference_dir else None
    table.add("handler, plain weighted route (fresh process)", SIZES[0], mine,
              reference=percentile(theirs, 50) / 1000.0 if theirs else None)


def bench_selection(table, counts):
    """Selector.order alone, per strategy, over groups of 2, 3 and 4 gateways."""
    rng = random.Random(SEED)
    keys = ["1%09d" % rng.randint(0, 10 ** 9 - 1) for _ in range(256)]
    strategies = [s for _, s, _ in GROUPS]
    for strategy in strategies:
        progress("selection %s" % strategy)
        groups = [Group("g%d" % size, strategy, tuple(Member("gw%d" % i, 1 + i % 3) for i in range(1, size + 1)))
                  for size in (2, 3, 4)]
        selector = Selector()
        samples = measure(selector.order,
                          lambda i: (groups[i % 3], groups[i % 3].members, keys[i % len(keys)], 3),
                          counts["select"], counts["budget"])
        table.add("Selector.order %s (2-4 gws)" % strategy, None, samples)


def example_record(uuid):
    """A bridged call's record after one failed attempt: what the observers are handed."""
    from fsroute.core.legs import Dial
    from fsroute.runtime.record import Attempt, CallRecord
    attempts = tuple(Attempt(gw, cause, seconds, Dial(gw, "1001", "sofia/gateway/%s/1001" % gw, (), ()))
                     for gw, cause, seconds in ((GATEWAYS[0], "SERVICE_UNAVAILABLE", 0.01),
                                                (GATEWAYS[1], "SUCCESS", 5.0)))
    return CallRecord(uuid, Outcome.BRIDGED, None, "0123456789ab", None, route="r", number="1001",
                      source="172.16.221.33", attempts=attempts, decision_seconds=0.00002)


def bench_observability(table, path, prefixes, fake, counts):
    """What events and metrics add to a call: the handler with them on and off, rounds interleaved."""
    from fsroute.runtime import events, metrics, observers, process, scrape
    rng = random.Random(SEED)
    numbers = late_numbers(prefixes, rng)
    variables = [call_variables(number, rng) for number, _ in numbers]
    traced = [dict(v, fsroute_trace="true") for v in variables]
    handler = fsroute.route.handler
    for v in variables:
        handler(StubSession(v, fake=fake), path)

    def new_call(i, variables=variables):
        if i % 512 == 0:
            del fake.logs[:], fake.events[:]  # the fake keeps every log line and event
        return StubSession(variables[i % len(variables)], fake=fake), path

    generation = process.store_for(path).current()
    every = observers.of(generation, False)
    quiet = tuple(o for o in every if o is not metrics.record_call and o is not events.route)
    samples = {"on": [], "off": []}
    rounds = 4
    for _ in range(rounds):
        for mode in ("on", "off"):
            generation.observers = every if mode == "on" else quiet
            try:
                samples[mode] += measure(handler, new_call, counts["handler"] // rounds, counts["budget"] / rounds)
            finally:
                generation.observers = every
    progress("observability: handler with events and metrics on/off")
    on = table.add("handler, events+metrics on", len(prefixes) + 2, samples["on"])
    off = table.add("handler, events+metrics off", len(prefixes) + 2, samples["off"])
    table.add("  overhead of events+metrics", len(prefixes) + 2, unit="us", p50=on - off)
    progress("observability: traced call")
    table.add("handler, fsroute_trace=true", len(prefixes) + 2,
              measure(handler, lambda i: new_call(i, traced), counts["handler"] // 4, counts["budget"]))
    record = example_record(variables[0]["uuid"] if "uuid" in variables[0] else "u" * 36)
    headers = events.route_headers(record)

    def fire(i):
        if i % 512 == 0:
            del fake.events[:]
        return events.ROUTE, headers
    progress("observability: parts alone")
    table.add("events.fire (fake switch), 2 attempts", None, measure(events.fire, fire, counts["decide"], counts["budget"]))
    table.add("events.route_headers, 2 attempts", None,
              measure(events.route_headers, lambda i: (record,), counts["decide"], counts["budget"]))
    table.add("metrics.record_call, 2 attempts", None,
              measure(metrics.record_call, lambda i: (record,), counts["decide"], counts["budget"]))
    table.add("metrics page (scrape.text)", None, measure(scrape.text, lambda i: (process.loaded_stores(), process.poller()),
                                                          200, counts["budget"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (a smoke test, not figures)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    options = parser.parse_args(argv)
    if options.quick:
        counts = {"handler": 2000, "decide": 5000, "reload": 2000, "select": 5000, "budget": 1.0, "loads": 1}
    else:
        counts = {"handler": 30000, "decide": 50000, "reload": 30000, "select": 50000, "budget": 5.0, "loads": 3}

    info = machine()
    started = time.time()
    table = Table()
    fake = FakeFreeSWITCH()
    fake.set_gateways("external", up=GATEWAYS)
    with tempfile.TemporaryDirectory(prefix="fsroute-bench-") as tmp, fake:
        reset_state()
        try:
            paths, prefixes = {}, {}
            for size in SIZES:
                prefixes[size] = generate_prefixes(size, random.Random(SEED * 1000 + size))
                paths[size] = os.path.join(tmp, "routes-%d.yaml" % size)
                with open(paths[size], "w") as handle:
                    handle.write(rules_text(prefixes[size]))
                progress("%d routes: %s (%d bytes)" % (size, paths[size], os.path.getsize(paths[size])))
            reference_dir = reference_package(tmp)
            cold = Table()  # first, while this process is small; printed last
            bench_cold_load(cold, paths[BIG], counts["loads"], reference_dir)
            bench_handler_reference(table, paths[SIZES[0]], counts, reference_dir)
            for size in SIZES:
                bench_size(table, size, paths[size], prefixes[size], fake, counts)
                reset_state()  # drop the loaded rules before the next size
            for size in TIMED_SIZES:
                timed_path = os.path.join(tmp, "timed-routes-%d.yaml" % size)
                with open(timed_path, "w") as handle:
                    handle.write(rules_text(prefixes[size], timed=True))
                bench_size(table, size, timed_path, prefixes[size], fake, counts, timed=True)
                reset_state()
            bench_observability(table, paths[SIZES[0]], prefixes[SIZES[0]], fake, counts)
            reset_state()
            bench_reload(table, counts, tmp)
            bench_selection(table, counts)
            table.rows.extend(cold.rows)
        finally:
            reset_state()

    print("fsroute %s benchmark (%s)" % (info["fsroute"], info["fsroute_path"]))
    print("machine: %s, %s cores (%s usable), load average %.2f" % (
        info["cpu"], info["cores"], info["usable_cores"], info["loadavg_1min"] or 0.0))
    print("python:  %s on %s" % (info["python"], info["platform"]))
    print("mode:    %s; times per call; p50/p99 nearest-rank over n samples, gc off while timing"
          % ("--quick (smoke test only)" if options.quick else "full"))
    print("")
    print(table.render())
    print("")
    print("end: numbers whose first matching route is in the last 2% of the file; none: numbers no route matches.")
    print("timed: every route also has time conditions (time: in one of 4 zones, when:, unless:), all holding.")
    print("Rules files: 2 special routes then international prefixes '^00(<cc><area>\\d{m,n})$', no catch-all.")
    print("Speed-up rows divide p50s. Cold load: p50 = median, p99 = slowest of n runs, each in a fresh")
    print("process; peak RSS = that process's VmHWM (ru_maxrss where /proc is missing), 1 MB = 10^6 bytes;")
    print("kept per route = its VmRSS after the load minus before (gc.collect() both times) / routes.")
    print("Took %.0f s." % (time.time() - started))
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"machine": info, "quick": options.quick, "rows": table.rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
