#!/usr/bin/env python3
"""How long a call waits while a 100,000-route rules file reloads behind it (stub switch).

    python benchmarks/reload_pause.py [--routes N] [--reloads K]

One thread routes calls one after another (1 ms apart) through ``fsroute.route.handler``
(StubSession under FakeFreeSWITCH) and records how long each took. The main
thread rewrites the rules file K times, each time waiting until the new
generation is current (built in the background: parsed, compiled, swapped
in; the replaced one freed on the poller's thread). Printed: the longest
call and the p99 while reloads ran, beside the same figures for as long with
no reload, and beside a plain busy Python thread (what any second thread
costs a call on this machine), with the calls over 10 ms counted: on a shared
machine the longest call of any phase is the operating system's doing, and
the count beside the baselines' says what the reloads add. Issue 19's target:
the longest wait <= 10 ms.

``--table-rows N`` reloads a number table instead (issue 22's target, the
same 10 ms): a rules file with a ``table:`` route over N exact rows (the
DID table of benchmarks/tables.py, cached in its directory), calls routed
through the table, and each reload swaps the table file for a version whose
last row differs, as a deck rotation does (a rename; the rules stay).
"""

import argparse
import os
import platform
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(ROOT, "fsroute", "__init__.py")):
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fsroute.route  # noqa: E402
from fsroute.runtime import process  # noqa: E402
from fsroute.testing import FakeFreeSWITCH, StubSession  # noqa: E402
from run import generate_prefixes, rules_text  # noqa: E402  (the benchmark's own 100,000-route file)
import didtable  # noqa: E402  (tables.py's DID table)


# Between two calls: about 1,000 calls a second, far above a switch's rate; back to back, calls
# outran the events thread and the queued records (10,000, events.MAX_UNFIRED) made every full GC
# pass a 100 ms pause of the benchmark's own making.
PAUSE = 0.001


def route_calls(path, fake, stop, times, destination="0049301234567"):
    variables = {"destination_number": destination, "network_addr": "127.0.0.1", "caller_id_number": "1000"}
    clock = time.perf_counter
    while not stop.is_set():
        session = StubSession(variables, fake=fake)
        started = clock()
        fsroute.route.handler(session, path)
        times.append(clock() - started)
        time.sleep(PAUSE)
        if len(fake.logs) > 1000:
            del fake.logs[:], fake.events[:], fake.api_calls[:]


def table_versions(directory, rows):
    """Two versions of the DID table of ``rows`` rows (the second's last row routes elsewhere), written
    once into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    first = didtable.write_once(os.path.join(directory, "exact_%d.csv" % rows), "number,target\n",
                                    didtable.exact_rows(rows))
    last = rows - 1
    second = didtable.write_once(
        os.path.join(directory, "exact_%d_b.csv" % rows), "number,target\n",
        ("%d,gw%d\n" % (didtable.FIRST_DID + 3 * i, (i + (i == last)) % 500) for i in range(rows)))
    return first, second


def swap_in(version, path):
    """Rename a hard link of ``version`` over ``path``: a new file at once, with the version's old
    mtime (a file written moments ago is taken up only once still, filecache.SETTLE_SECONDS)."""
    os.link(version, path + ".new")
    os.replace(path + ".new", path)


def summary(times):
    ordered = sorted(times)
    over = sum(1 for t in ordered if t > 0.010)
    return "%7d calls  p99 %5.2f  p99.9 %6.2f  longest %7.2f ms  over 10 ms: %d" % (
        len(ordered), ordered[int(len(ordered) * 0.99)] * 1000, ordered[int(len(ordered) * 0.999)] * 1000,
        ordered[-1] * 1000, over)


def main(argv=None):
    import random
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=100000)
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--table-rows", type=int, default=0, help="reload a table of N exact rows instead")
    parser.add_argument("--table-dir", default="/tmp/fsroute-bench-tables", help="where tables.py caches it")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="fsroute-reload-pause-")
    path = os.path.join(directory, "rules.yaml")
    destination = "0049301234567"
    if args.table_rows:
        versions, text = table_versions(args.table_dir, args.table_rows), None
        table_path = os.path.join(directory, "dids.csv")
        swap_in(versions[0], table_path)
        with open(path, "w") as handle:
            handle.write(didtable.RULES % table_path)
        destination = str(didtable.FIRST_DID + 3 * (args.table_rows // 2))
        what = "a %d-row table" % args.table_rows
    else:
        text = rules_text(generate_prefixes(args.routes, random.Random(4)))
        with open(path, "w") as handle:
            handle.write(text)
        what = "%d routes" % args.routes
    fake = FakeFreeSWITCH()
    fake.set_gateways("external", up=["gw%d" % i for i in range(0, 500)] + ["gwplain"])
    with fake:
        store = process.store_for(path)
        started = time.perf_counter()
        store.current()
        print("fsroute reload pause: %s, first load %.1f s, Python %s on %s, %d CPUs" % (
            what, time.perf_counter() - started, platform.python_version(), platform.machine(),
            os.cpu_count()), flush=True)

        def run(phase):
            times, stop = [], threading.Event()
            thread = threading.Thread(target=route_calls, args=(path, fake, stop, times, destination))
            thread.start()
            took = phase()
            stop.set()
            thread.join()
            return times, took

        def reloads():
            started = time.perf_counter()
            for n in range(args.reloads):
                old = store.generation
                if text is None:
                    swap_in(versions[(n + 1) % 2], table_path)
                else:
                    with open(path + ".new", "w") as handle:
                        handle.write(text.replace("version: 1", "version: 1\n# reload %d" % n, 1))
                    os.replace(path + ".new", path)
                while store.generation is old:
                    time.sleep(0.01)
                del old  # or this frame would keep the replaced generation alive
                while process.retired_count():  # the replaced generation is freed too
                    time.sleep(0.01)
            return time.perf_counter() - started

        during, took = run(reloads)
        quiet, _ = run(lambda: time.sleep(took) or took)

        def busy_thread():
            stop = threading.Event()

            def spin():
                while not stop.is_set():
                    for _ in range(10000):
                        pass
            spinner = threading.Thread(target=spin)
            spinner.start()
            time.sleep(took)
            stop.set()
            spinner.join()
            return took
        beside_busy, _ = run(busy_thread)
        process.forget_all()  # the poller stops before the fake switch goes
    print("%-44s %s" % ("calls during %d reloads (%.1f s)" % (args.reloads, took), summary(during)))
    print("%-44s %s" % ("for as long with no reload", summary(quiet)))
    print("%-44s %s" % ("for as long beside a busy Python thread", summary(beside_busy)))
    print("target: the longest call during reloads <= 10 ms (%s)" % ("issue 22" if text is None else "issue 19"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
