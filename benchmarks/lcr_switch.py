#!/usr/bin/env python3
"""fsroute's lcr route next to mod_lcr, in one real FreeSWITCH, on the same three decks.

    FSROUTE_FREESWITCH=/path/to/bundle python benchmarks/lcr_switch.py [--calls N] [--dir DIR]

Takes the decks ``benchmarks/lcr.py`` generates (run it first), loads the
same rows into an SQLite database in mod_lcr's schema, starts a private
FreeSWITCH (the integration harness: fake gateways and a SIP caller on
loopback) with mod_lcr reading that database through its ``sqlite://``
DSN, and places the same numbers both ways, one call at a time:

- ``00<number>``: fsroute's ``lcr`` route (decks in memory);
- ``lcr<number>``: ``lcr $1 default`` then ``bridge ${lcr_auto_route}`` (mod_lcr, one SQL query per call);
- for reference, ``99<number>``: an fsroute route to one gateway (what mod_python3 and fsroute cost
  without LCR), and ``plain<number>``: an XML ``bridge`` with no routing at all.

Prints, for each: the FreeSWITCH process's CPU time per call (utime+stime
from /proc, over all calls) and call setup time (INVITE sent to final
response received at the caller; the fake gateways answer at once),
p50 / p99. Both pay the same SIP and media set-up; the difference is the
routing.

Then one deck is changed (one more row) and lcr calls keep coming, one at
a time, until fsroute has reloaded it in the background: their setup
times, longest included, next to the lcr calls' before. A reload that held
the call threads up would show here as one slow call.
"""

import argparse
import csv
import os
import random
import sqlite3
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.integration.harness import Caller, FakeGateway, Switch  # noqa: E402
from tests.integration.harness import caller as caller_module  # noqa: E402

CARRIERS = (("carrier_a", "gw1"), ("carrier_b", "gw2"), ("carrier_c", "gw3"))
MODLCR_EXTENSION = """    <extension name="plain">
      <condition field="destination_number" expression="^plain(\d+)$">
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="bridge" data="sofia/gateway/gw1/$1"/>
      </condition>
    </extension>
    <extension name="modlcr">
      <condition field="destination_number" expression="^lcr(\\d+)$">
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="set" data="continue_on_fail=true"/>
        <action application="lcr" data="$1 default"/>
        <action application="bridge" data="${lcr_auto_route}"/>
      </condition>
    </extension>"""
LCR_CONF = """    <configuration name="lcr.conf" description="LCR Configuration">
      <settings><param name="odbc-dsn" value="sqlite://%s"/></settings>
      <profiles>
        <profile name="default">
          <param name="id" value="0"/>
          <param name="order_by" value="rate,quality,reliability"/>
        </profile>
      </profiles>
    </configuration>
"""
SCHEMA = """
CREATE TABLE carriers (id INTEGER PRIMARY KEY AUTOINCREMENT, carrier_name VARCHAR(255) DEFAULT NULL,
  enabled BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE carrier_gateway (id INTEGER PRIMARY KEY AUTOINCREMENT, carrier_id INTEGER DEFAULT NULL,
  prefix VARCHAR(255) NOT NULL, suffix VARCHAR(255) NOT NULL, codec VARCHAR(255) NOT NULL DEFAULT '',
  enabled BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE lcr (id INTEGER PRIMARY KEY AUTOINCREMENT, digits VARCHAR(15) DEFAULT NULL, rate NUMERIC(11,5),
  intrastate_rate NUMERIC(11,5), intralata_rate NUMERIC(11,5), carrier_id INTEGER NOT NULL,
  lead_strip INTEGER NOT NULL DEFAULT 0, trail_strip INTEGER NOT NULL DEFAULT 0,
  prefix VARCHAR(16) NOT NULL DEFAULT '', suffix VARCHAR(16) NOT NULL DEFAULT '',
  lcr_profile INTEGER NOT NULL DEFAULT 0, date_start DATETIME NOT NULL DEFAULT '1970-01-01',
  date_end DATETIME NOT NULL DEFAULT '2030-12-31', quality NUMERIC(10,6) NOT NULL DEFAULT 0,
  reliability NUMERIC(10,6) NOT NULL DEFAULT 0, cid VARCHAR(32) NOT NULL DEFAULT '',
  enabled BOOLEAN NOT NULL DEFAULT 1, lrn BOOLEAN NOT NULL DEFAULT 0);
"""


def progress(message):
    print(message, file=sys.stderr, flush=True)


def build_database(path, decks):
    """mod_lcr's tables holding the decks' rows (built once)."""
    if os.path.exists(path):
        return
    db = sqlite3.connect(path + ".tmp")
    db.executescript(SCHEMA)
    for carrier_id, ((name, gateway), deck) in enumerate(zip(CARRIERS, decks), 1):
        progress("mod_lcr database: %s" % deck)
        db.execute("INSERT INTO carriers (id, carrier_name) VALUES (?, ?)", (carrier_id, name))
        db.execute("INSERT INTO carrier_gateway (carrier_id, prefix, suffix) VALUES (?, ?, '')",
                   (carrier_id, "sofia/gateway/%s/" % gateway))
        with open(deck) as handle:
            rows = csv.DictReader(handle)
            db.executemany("INSERT INTO lcr (digits, rate, carrier_id, date_start, date_end) VALUES (?, ?, ?, ?, ?)",
                           ((r["prefix"], float(r["rate"]), carrier_id, r["effective_from"] or "1970-01-01",
                             r["effective_to"] or "2030-12-31") for r in rows))
    db.executescript("CREATE INDEX lcr_digits ON lcr(digits); CREATE INDEX lcr_digits_rate ON lcr(digits, rate);"
                     "CREATE INDEX cg_carrier_id ON carrier_gateway(carrier_id);")
    db.commit()
    db.close()
    os.replace(path + ".tmp", path)


def rules_text(decks):
    carriers = "".join("  %s: {deck: '%s', gateway: %s, currency: USD}\n" % (name, deck, gateway)
                       for (name, gateway), deck in zip(CARRIERS, decks))
    return ("version: 1\ndefaults: {status_ttl: 2}\ncarriers:\n" + carriers +
            "routes:\n  - {name: static, match: {destination_number: '^99(\\d+)$'}, number: '$1', gateway: gw1}\n"
            "  - name: international\n    match: {destination_number: '^00(\\d+)$'}\n"
            "    number: '$1'\n    lcr: {carriers: [carrier_a, carrier_b, carrier_c]}\n")


class LcrSwitch(Switch):
    """The harness's switch with mod_lcr loaded and an ``lcr<number>`` extension before fsroute's."""

    database = None

    def write_config(self, acl_lists=None, extra_extensions=""):
        super().write_config(acl_lists, MODLCR_EXTENSION)
        path = os.path.join(self.dir("conf"), "freeswitch.xml")
        with open(path) as handle:
            text = handle.read()
        text = text.replace('<load module="mod_dialplan_xml"/>',
                            '<load module="mod_dialplan_xml"/>\n        <load module="mod_lcr"/>', 1)
        text = text.replace('    <configuration name="python.conf"', LCR_CONF % self.database +
                            '    <configuration name="python.conf"', 1)
        with open(path, "w") as handle:
            handle.write(text)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def record_answer_times():
    """Note when each call's first final response arrives (the harness keeps only start and end)."""
    original = caller_module.Caller._response

    def _response(self, msg, call):
        if msg.code >= 200 and getattr(call.result, "answered", None) is None:
            call.result.answered = time.monotonic()
        return original(self, msg, call)

    caller_module.Caller._response = _response


def place(caller, destinations):
    """Calls one at a time; setup times in ms."""
    times = []
    for destination in destinations:
        result = caller.call(destination)
        if result.code != 200:
            raise SystemExit("call to %s ended with %s" % (destination, result))
        times.append((result.answered - result.started) * 1000)
    return times


def served_numbers(deck, count, rng):
    prefixes = []
    with open(deck) as handle:
        next(handle)
        for line in handle:
            prefixes.append(line.split(",", 1)[0])
    out = []
    for _ in range(count):
        prefix = rng.choice(prefixes)
        out.append(prefix + "".join(rng.choice("0123456789") for _ in range(max(1, 12 - len(prefix)))))
    return out


def deck_rows(switch, deck):
    """The rows of ``deck`` as fsroute.ctl status reports the deck in force."""
    for line in switch.api("python fsroute.ctl status").splitlines():
        if line.strip().startswith(deck + ": ") and " rows" in line:
            return int(line.split(deck + ": ", 1)[1].split()[0])
    raise SystemExit("fsroute.ctl status does not list %s" % deck)


def calls_during_a_reload(switch, caller, deck, numbers):
    """Setup times (ms) of lcr calls placed one at a time until fsroute has reloaded the changed ``deck``."""
    before = deck_rows(switch, deck)
    return calls_while_changed(deck, b"99999999999,0.12345,,,new\n",
                               lambda: place(caller, ["00" + number for number in numbers]),
                               lambda: deck_rows(switch, deck) != before)


def calls_while_changed(path, extra, place_batch, reloaded, seconds=120):
    """Setup times (ms) of the calls ``place_batch()`` places, batch after batch, from when ``extra`` (bytes)
    is appended to the file at ``path`` until ``reloaded()``; the file is put back as it was after."""
    with open(path, "ab") as handle:
        handle.write(extra)
    aged = time.time() - 10  # already settled: the next call's check starts the reload
    os.utime(path, (aged, aged))
    times = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            times += place_batch()
            if reloaded():
                return times
            if time.monotonic() > deadline:
                raise SystemExit("fsroute did not reload %s within %d s" % (path, seconds))
    finally:
        with open(path, "rb+") as handle:  # the file as generated again
            handle.seek(-len(extra), os.SEEK_END)
            handle.truncate()


def reload_line(what, calm, during, while_what):
    """Setup times before and during a reload, for people."""
    return ("%s, setup time p50 / p99 / longest: %.1f / %.1f / %.1f ms before; %.1f / %.1f / %.1f ms %s (%d calls)"
            % (what, percentile(calm, 0.5), percentile(calm, 0.99), max(calm), percentile(during, 0.5),
               percentile(during, 0.99), max(during), while_what, len(during)))


def bundle_path():
    """The FreeSWITCH bundle FSROUTE_FREESWITCH names, or exit saying so."""
    bundle = os.environ.get("FSROUTE_FREESWITCH")
    if not bundle:
        raise SystemExit("set FSROUTE_FREESWITCH to a FreeSWITCH bundle or install prefix")
    return os.path.abspath(bundle)


def stop_all(caller, switch, gateways):
    """The caller (if any), the switch and the fake gateways, stopped."""
    if caller is not None:
        caller.close()
    switch.stop()
    for gateway in gateways.values():
        gateway.stop()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--prefixes", type=int, default=1000000)
    parser.add_argument("--dir", default=os.path.join("/tmp", "fsroute-lcr-bench"))
    args = parser.parse_args(argv)
    bundle = bundle_path()
    decks = [os.path.join(args.dir, "%s-%d.csv" % (name, args.prefixes)) for name, _ in CARRIERS]
    if not all(os.path.exists(d) for d in decks):
        raise SystemExit("no decks in %s: run benchmarks/lcr.py first" % args.dir)
    database = os.path.join(args.dir, "lcr-%d.db" % args.prefixes)
    build_database(database, decks)
    record_answer_times()

    gateways = {name: FakeGateway(name).start() for name in ("gw1", "gw2", "gw3", "gw4")}
    workdir = os.path.join(args.dir, "switch")
    os.makedirs(workdir, exist_ok=True)
    LcrSwitch.database = database
    switch = LcrSwitch(bundle, workdir, gateways, rules_text(decks))
    caller = None
    try:
        switch.start()
        numbers = served_numbers(decks[0], args.calls + 20, random.Random(3))
        progress("waiting for fsroute's start-up script to load the decks...")
        deadline = time.monotonic() + 600
        while "outcome: route" not in switch.api("python fsroute.ctl test 00%s" % numbers[0]):
            if time.monotonic() > deadline:
                raise SystemExit("the decks did not load within 10 minutes")
            time.sleep(2)
        pid = switch.pid
        caller = Caller(switch.sip_address)
        place(caller, [p + n for p in ("plain", "99", "00", "lcr") for n in numbers[:20]])  # warm-up
        paths = (("XML bridge, no routing", "plain"), ("fsroute static route", "99"),
                 ("fsroute lcr route", "00"), ("mod_lcr (sqlite)", "lcr"))
        cpu = {label: 0.0 for label, _ in paths}
        times = {label: [] for label, _ in paths}
        rounds = 3
        for round_number in range(rounds):  # interleaved, so that a busy moment hits all of them
            part = numbers[20:][round_number::rounds]
            for label, prefix in paths:
                progress("round %d: %d calls through %s..." % (round_number + 1, len(part), label))
                before = cpu_seconds(pid)
                times[label] += place(caller, [prefix + n for n in part])
                cpu[label] += cpu_seconds(pid) - before
        figures = {label: (cpu[label] / len(times[label]) * 1000, percentile(times[label], 0.5),
                           percentile(times[label], 0.99)) for label, _ in paths}
        print("same switch, same decks (3 x %d prefixes), %d calls each, one at a time; FreeSWITCH RSS %.0f MB"
              % (args.prefixes, args.calls, rss_mb(pid)))
        print("%-24s %-22s %s" % ("", "FreeSWITCH CPU / call", "setup time p50 / p99"))
        for label, (per_call, p50, p99) in figures.items():
            print("%-24s %-22s %.1f / %.1f ms" % (label, "%.2f ms" % per_call, p50, p99))
        progress("changing %s; lcr calls until fsroute has reloaded it..." % decks[-1])
        during = calls_during_a_reload(switch, caller, decks[-1], numbers[:10])
        print(reload_line("lcr calls", times["fsroute lcr route"], during, "during a reload of one deck"))
    finally:
        stop_all(caller, switch, gateways)
    return 0


if __name__ == "__main__":
    sys.exit(main())
