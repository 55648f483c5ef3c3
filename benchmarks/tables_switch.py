#!/usr/bin/env python3
"""Calls through a 10,000,000-row DID table in a real FreeSWITCH, next to the same calls through a 10-row table.

    FSROUTE_FREESWITCH=/path/to/bundle python benchmarks/tables_switch.py [--rows N] [--calls N] [--dir DIR]

Generates (once, in DIR) a DID table of N rows whose targets are the
harness's fake gateways, starts a private FreeSWITCH (the integration
harness: fake gateways and a SIP caller on loopback) whose start-up script
preloads the rules and with them the table, and writes down how long the
switch took from its start until fsroute routes (the table loaded). Then
places calls, paced at --cps, interleaved in rounds:

- ``<did>``: a route through the big table;
- ``8<did>``: a route through a 10-row table;

and prints, for each, the FreeSWITCH process's CPU time per call
(utime+stime from /proc) and call setup time (INVITE to final response),
p50 / p99, and the switch's RSS. Then the big table's file changes (one
more row) and calls keep coming at --cps until fsroute has reloaded it in
the background: their setup times, longest included, next to those before.
"""

import argparse
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.lcr_switch import (bundle_path, calls_while_changed, cpu_seconds, percentile,  # noqa: E402
                                   record_answer_times, reload_line, rss_mb, stop_all)
from tests.integration.harness import Caller, FakeGateway, Switch  # noqa: E402

FIRST_DID = 15550000000
RULES = """\
version: 1
defaults: {status_ttl: 2}
tables:
  big: {file: '%s', key: exact, columns: {key: did, target: trunk}}
  small: {file: '%s', key: exact, columns: {key: did, target: trunk}}
routes:
  - name: small
    match: {destination_number: '^8(\\d{11})$'}
    number: '$1'
    table: small
  - name: big
    match: {destination_number: '^(\\d{11})$'}
    table: big
"""


def progress(message):
    print(message, file=sys.stderr, flush=True)


def write_table(path, rows):
    if os.path.exists(path):
        return
    progress("generating %s" % path)
    with open(path + ".part", "w") as handle:
        handle.write("did,trunk\n")
        for low in range(0, rows, 100000):
            handle.write("".join("%d,gw%d\n" % (FIRST_DID + 3 * i, 1 + i % 2)
                                 for i in range(low, min(rows, low + 100000))))
    os.replace(path + ".part", path)


def place_paced(caller, destinations, cps):
    """Calls one after another, started at most ``cps`` a second; setup times in ms."""
    times = []
    for destination in destinations:
        started = time.monotonic()
        result = caller.call(destination)
        if result.code != 200:
            raise SystemExit("call to %s ended with %s" % (destination, result))
        times.append((result.answered - result.started) * 1000)
        time.sleep(max(0.0, 1.0 / cps - (time.monotonic() - started)))
    return times


def table_rows(switch, path):
    """The rows of the table file ``path`` as fsroute.ctl status reports the table in force."""
    for line in switch.api("python fsroute.ctl status %s" % switch.rules_path).splitlines():
        if "(%s): " % path in line and " rows" in line:
            return int(line.split("(%s): " % path, 1)[1].split()[0])
    raise SystemExit("fsroute.ctl status does not list %s" % path)


def calls_during_a_reload(switch, caller, path, rows, numbers, cps):
    """Setup times (ms) of calls through the table placed at ``cps`` until fsroute has reloaded ``path``."""
    return calls_while_changed(path, b"%d,gw1\n" % (FIRST_DID + 3 * rows), lambda: place_paced(caller, numbers, cps),
                               lambda: table_rows(switch, path) != rows, seconds=300)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10000000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cps", type=float, default=20.0)
    parser.add_argument("--dir", default=os.path.join("/tmp", "fsroute-tables-switch"))
    args = parser.parse_args(argv)
    bundle = bundle_path()
    os.makedirs(args.dir, exist_ok=True)
    big = os.path.join(args.dir, "dids-%d.csv" % args.rows)
    small = os.path.join(args.dir, "dids-10.csv")
    write_table(big, args.rows)
    write_table(small, 10)
    record_answer_times()
    gateways = {name: FakeGateway(name).start() for name in ("gw1", "gw2", "gw3", "gw4")}
    workdir = os.path.join(args.dir, "switch")
    os.makedirs(workdir, exist_ok=True)
    switch = Switch(bundle, workdir, gateways, RULES % (big, small))
    caller = None
    try:
        began = time.monotonic()
        switch.start(timeout=600)
        up = time.monotonic() - began
        progress("switch up in %.1f s; waiting for the start-up script to load the table..." % up)
        if not switch.wait_log("fsroute: loaded %s sha=" % switch.rules_path, timeout=900):
            raise SystemExit("the rules and their tables did not load within 15 minutes")
        routing = time.monotonic() - began
        loaded = re.findall(r"loaded table \S+dids-%d\.csv rows=\d+ in ([0-9.]+) s" % args.rows,
                            switch.log_text(True))
        pid = switch.pid
        caller = Caller(switch.sip_address)
        numbers = [str(FIRST_DID + 3 * ((i * 7919) % 10)) for i in range(args.calls + 20)]
        spread = [str(FIRST_DID + 3 * ((i * 2654435761) % args.rows)) for i in range(args.calls + 20)]
        place_paced(caller, ["8" + n for n in numbers[:20]] + spread[:20], args.cps)  # warm-up
        paths = (("table of 10 rows", ["8" + n for n in numbers[20:]]),
                 ("table of %d rows" % args.rows, spread[20:]))
        cpu = {label: 0.0 for label, _ in paths}
        times = {label: [] for label, _ in paths}
        rounds = 3
        for number in range(rounds):
            for label, destinations in paths:
                part = destinations[number::rounds]
                progress("round %d: %d calls through the %s..." % (number + 1, len(part), label))
                before = cpu_seconds(pid)
                times[label] += place_paced(caller, part, args.cps)
                cpu[label] += cpu_seconds(pid) - before
        print("FreeSWITCH up in %.1f s; routing (table preloaded by the start-up script) %.1f s after start; "
              "the table's load logged as %s s; RSS %.0f MB" % (up, routing, "/".join(loaded) or "?", rss_mb(pid)))
        print("%d calls each at %g cps, interleaved in %d rounds" % (args.calls, args.cps, rounds))
        print("%-26s %-22s %s" % ("", "FreeSWITCH CPU / call", "setup time p50 / p99"))
        for label, _ in paths:
            print("%-26s %-22s %.1f / %.1f ms" % (label, "%.2f ms" % (cpu[label] / len(times[label]) * 1000),
                                                  percentile(times[label], 0.5), percentile(times[label], 0.99)))
        progress("changing %s; calls at %g cps until fsroute has reloaded it..." % (big, args.cps))
        during = calls_during_a_reload(switch, caller, big, args.rows, spread[:50], args.cps)
        print(reload_line("big-table calls", times[paths[1][0]], during, "while the table reloads"))
    finally:
        stop_all(caller, switch, gateways)
    return 0


if __name__ == "__main__":
    sys.exit(main())
