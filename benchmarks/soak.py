#!/usr/bin/env python3
"""Soak: many calls through a real FreeSWITCH running fsroute while everything that may change does.

    FSROUTE_FREESWITCH=/work/fs python benchmarks/soak.py --calls 100000 --rate 40

A private FreeSWITCH (tests/integration/harness) on loopback, two fake gateways, SIPp (the bundle's
bin/sipp) placing ``--calls`` calls at ``--rate`` cps to an LCR route over two carriers (gw1, gw2)
with ``max_calls`` limits (mod_hash). Meanwhile the rules file is replaced every ``--reload-every``
seconds, a valid version and a broken one in turn, while calls will come to read it (a call is
what has the switch look at the file: none is written in a leg's last 2 s); a rate deck every
``--deck-every`` seconds (which carrier is cheaper flips); gw2's SIP port is closed and opened again
every ``--flap-every`` seconds. A real Prometheus server (Debian's ``prometheus``, started here on
loopback with a private config and data dir) scrapes fsroute's metrics endpoint every second.

At the end it checks and prints: SIPp's successful and failed calls == fsroute's calls by result as
Prometheus has them == the CDRs by fsroute_result; the limit counts back to 0; fsroute ERROR lines
== the broken versions written (one each); FreeSWITCH RSS and thread count sampled every 5 s, and
their growth per 10,000 calls after the first fifth of the calls (least squares). RSS also holds
what the C allocator keeps of freed memory, which wanders with the calls up; so the calls are placed
in two legs, the first fifth and the rest, and when each has drained a ``python`` API script in the
switch reads the bytes the C allocator has handed out and not had back (glibc's ``mallinfo2``) and
the objects Python's collector tracks: their growth between the two idle moments, per 10,000 calls,
is the leak figure. At the end it also gives the allocator's free memory back (``malloc_trim``) and
reads RSS again. ``run()`` is what tests/integration/test_soak.py calls with a small N.

``--handler xml`` or ``--handler floor`` runs the same calls, gw2 flapping alike, without fsroute: the
XML dialplan bridging to gw2 then gw1, or a two-line mod_python3 handler doing the same (the
mod_python3 floor). Their RSS and thread growth is the baseline fsroute's is judged against; there are
no rules, decks or metrics to check, and calls are counted from the CDRs.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.integration.harness import FakeGateway, Switch  # noqa: E402
from tests.integration.harness.net import free_port  # noqa: E402
from tests.integration.harness.switch import clean_env  # noqa: E402

RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  reload_check: 0.5
  metrics_listen: 127.0.0.1:%(metrics)d
  limits: {backend: hash, realm: soak}
gateways:
  gw1: {max_calls: 500}
  gw2: {max_calls: 500}
carriers:
  a: {deck: soak_a.csv, gateway: gw1, currency: USD}
  b: {deck: soak_b.csv, gateway: gw2, currency: USD}
routes:
  - {name: lcr_%(version)s, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [a, b]}}
"""
BROKEN = "  - {name: broken\n"
DESTINATION = "0049123"
BASELINE = """    <extension name="baseline">
      <condition field="destination_number" expression="^00(\\d+)$">
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="%s" data="%s"/>
      </condition>
    </extension>
"""
BASELINES = {  # --handler: the dialplan extension placed ahead of fsroute's
    "xml": BASELINE % ("bridge", "sofia/gateway/gw2/$1|sofia/gateway/gw1/$1"),
    "floor": BASELINE % ("python", "soak_floor"),
}
FLOOR_HANDLER = """\
def handler(session, args):
    number = session.getVariable("destination_number")[2:]
    session.execute("bridge", "sofia/gateway/gw2/%s|sofia/gateway/gw1/%s" % (number, number))
"""
PROBE = """\
import ctypes, gc


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


def fsapi(session, stream, env, args):
    libc = ctypes.CDLL(None)
    if args == "trim":
        libc.malloc_trim(0)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    gc.collect()
    with open("/proc/self/status") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    stream.write("heap=%d free=%d objects=%d rss=%d" % (info.uordblks + info.hblkhd, info.fordblks,
                                                         len(gc.get_objects()), rss))
"""  # the soak's probe inside the switch: "python soak_probe [trim]"
PROMETHEUS_CONFIG = """\
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: fsroute
    static_configs: [{targets: ['127.0.0.1:%d']}]
"""


def log(text):
    sys.stderr.write("[soak %s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def replace(path, text):
    """Write ``text`` to a temp file and rename it over ``path`` (as an editor or rsync does)."""
    with open(path + ".tmp", "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


class Prometheus:
    """A private Prometheus server on loopback scraping one target; stopped by PID."""

    def __init__(self, workdir, target_port):
        self.port = free_port(also_tcp=True)
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as handle:
            handle.write(PROMETHEUS_CONFIG % target_port)
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"), "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "prometheus.log"), "wb"))
        deadline = time.monotonic() + 60
        while True:  # up, and the target scraped once
            try:
                if self.query('up{job="fsroute"} == 1'):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("prometheus did not come up; see %s/prometheus.log" % workdir)
            time.sleep(0.3)

    def query(self, expression):
        """{labels as a tuple of the vector's label values: value} of an instant query."""
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.port, urllib.parse.quote(expression))
        answer = json.loads(urllib.request.urlopen(url, timeout=10).read())
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in answer["data"]["result"]}

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


def proc_status(pid):
    """(RSS in KiB, thread count) of a process."""
    with open("/proc/%d/status" % pid) as handle:
        fields = dict(line.split(":", 1) for line in handle if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def slope_per_10k(points):
    """Least-squares growth of y per 10,000 calls over (calls, y) points."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return 10000 * sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


def fsroute_calls(metrics_port):
    """fsroute_calls_total summed, read from the endpoint directly (progress only)."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=2).read().decode()
    except OSError:
        return None
    return sum(float(m.group(1)) for m in re.finditer(r"^fsroute_calls_total\{.*\} (\S+)$", text, re.M))


def cdr_count(switch):
    """Lines in the switch's CDR file (calls ended so far): the baselines' progress, having no metrics."""
    try:
        with open(switch.cdr_path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


def run(switch, gateways, workdir, calls, rate, reload_every=10.0, deck_every=60.0, flap_every=15.0,
        handler="fsroute"):
    """The soak on a running ``switch`` whose gateways gw1 and gw2 are ``gateways``; returns the figures.

    With ``handler`` "xml" or "floor" the switch's dialplan routes without fsroute (see main): only gw2
    flaps, and the figures are SIPp's, the CDRs' and the RSS and threads.
    """
    routed = handler == "fsroute"
    directory = os.path.dirname(switch.rules_path)
    metrics = free_port(also_tcp=True)
    decks = [("soak_a.csv", "0.02"), ("soak_b.csv", "0.01")]
    versions = [RULES % {"metrics": metrics, "version": v} for v in ("v1", "v2")]
    if routed:
        for name, rate_of in decks:
            replace(os.path.join(directory, name), "prefix,rate\n49,%s\n" % rate_of)
        replace(switch.rules_path, versions[0])
        answer = switch.api("python fsroute.ctl reload %s" % switch.rules_path)
        assert answer.startswith("+OK"), answer
    mark = switch.log_mark()
    prometheus = Prometheus(workdir, metrics) if routed else None
    calls_by_result = "sum by (result) (fsroute_calls_total)"
    before = prometheus.query(calls_by_result) if prometheus else {}  # a shared test switch's earlier calls
    progress = (lambda: fsroute_calls(metrics)) if routed else (lambda: cdr_count(switch))
    cdrs_before = len(switch.cdrs())
    done = threading.Event()
    written = {"broken": 0, "valid": 0, "decks": 0, "flaps": 0}
    samples = []

    writes_until = [0.0]  # rules files are written only while calls will come after them (a call reads it)

    def churn():
        last_write = last_deck = last_flap = last_sample = time.monotonic()
        n = 0
        while not done.wait(0.25):
            now = time.monotonic()
            if routed and now - last_write >= reload_every and now < writes_until[0]:
                last_write = now
                n += 1
                if n % 2:
                    replace(switch.rules_path, versions[n // 2 % 2] + BROKEN)
                    written["broken"] += 1
                else:
                    replace(switch.rules_path, versions[n // 2 % 2])
                    written["valid"] += 1
            if routed and now - last_deck >= deck_every:
                last_deck = now
                written["decks"] += 1
                cheap = written["decks"] % 2
                replace(os.path.join(directory, "soak_a.csv"), "prefix,rate\n49,%s\n" % ("0.01" if cheap else "0.02"))
                replace(os.path.join(directory, "soak_b.csv"), "prefix,rate\n49,%s\n" % ("0.02" if cheap else "0.01"))
            if now - last_flap >= flap_every:
                last_flap = now
                written["flaps"] += 1
                gw2 = gateways["gw2"]
                gw2.close() if gw2.is_open else gw2.reopen()
            if now - last_sample >= 5:
                last_sample = now
                count = progress()
                if count is not None:
                    samples.append((count,) + proc_status(switch.pid))

    churner = threading.Thread(target=churn, name="soak-churn", daemon=True)
    with open(os.path.join(switch.dir("scripts"), "soak_probe.py"), "w") as handle:
        handle.write(PROBE)
    warmup = max(1, calls // 5)
    legs, idle = [], []
    started = time.monotonic()
    churner.start()
    try:
        for n in (warmup, calls - warmup):
            writes_until[0] = time.monotonic() + n / rate - 2  # the last rules file has 2 s of calls to read it
            legs.append(place(switch, os.path.join(workdir, "sipp-stat-%d.csv" % len(legs)), n, rate))
            drained(switch, cdrs_before + sum(ok + failed for ok, failed in legs))
            idle.append(probe(switch))
    finally:
        done.set()
        churner.join()
        gateways["gw2"].reopen()
    seconds = time.monotonic() - started
    sipp_ok, sipp_failed = (sum(leg[i] for leg in legs) for i in (0, 1))
    try:
        time.sleep(3)  # a scrape after the last calls
        scraped = prometheus.query(calls_by_result) if prometheus else {}
    finally:
        if prometheus:
            prometheus.stop()
    trimmed = probe(switch, "trim")
    by_result = {dict(labels).get("result", ""): int(value - before.get(labels, 0))
                 for labels, value in scraped.items() if value > before.get(labels, 0)}
    cdrs = {}
    for row in switch.cdrs()[cdrs_before:]:
        result = row["fsroute_result"] or row.get("hangup_cause", "")
        cdrs[result] = cdrs.get(result, 0) + 1
    text = switch.log_since(mark)
    errors = [line for line in text.splitlines() if "[ERR]" in line]
    fsroute_errors = [line for line in errors if "fsroute:" in line]
    warm = [s for s in samples if s[0] >= calls / 5]
    return {
        "handler": handler, "calls": calls, "rate": rate, "seconds": round(seconds, 1),
        "sipp": {"successful": sipp_ok, "failed": sipp_failed},
        "prometheus": by_result, "cdrs": cdrs,
        "limits": {gw: switch.api("limit_usage hash soak soak.gw.%s" % gw).strip() for gw in ("gw1", "gw2")},
        "written": written,
        "fsroute_errors": len(fsroute_errors), "broken_errors": sum("invalid YAML" in l for l in fsroute_errors),
        "other_errors": sorted({re.sub(r"^.*\[ERR\] \S+ ", "", l) for l in errors if "fsroute:" not in l}),
        "rss_kib": {"first": samples[0][1] if samples else None, "last": samples[-1][1] if samples else None,
                    "per_10k_calls_after_warmup": round(slope_per_10k([(s[0], s[1]) for s in warm]), 1)},
        "threads": {"min": min((s[2] for s in warm), default=None), "max": max((s[2] for s in warm), default=None),
                    "per_10k_calls_after_warmup": round(slope_per_10k([(s[0], s[2]) for s in warm]), 2)},
        "samples": len(samples),
        "idle": {"after_warmup": idle[0], "end": idle[1], "end_trimmed": trimmed,
                 "heap_per_10k_calls_kib": round(per_10k(idle, "heap", calls - warmup) / 1024, 1),
                 "objects_per_10k_calls": round(per_10k(idle, "objects", calls - warmup), 1)},
    }


def per_10k(idle, figure, calls):
    """Growth of ``figure`` between the two idle probes, per 10,000 of the ``calls`` between them."""
    return (idle[1][figure] - idle[0][figure]) * 10000 / calls


def place(switch, stat, calls, rate):
    """SIPp places ``calls`` calls at ``rate`` cps and waits for them; (successful, failed)."""
    host, port = switch.sip_address
    sipp = [os.path.join(switch.prefix, "bin", "sipp"), "%s:%d" % (host, port), "-sn", "uac", "-s", DESTINATION,
            "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m", str(calls), "-l", str(max(20, rate * 2)),
            "-d", "0", "-nostdin", "-recv_timeout", "10000", "-timeout", "%ds" % (calls // rate * 4 + 120),
            "-trace_stat", "-stf", stat, "-fd", "5"]
    subprocess.run(sipp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
                   timeout=calls // rate * 4 + 300)
    with open(stat) as handle:
        rows = [line.rstrip("\n").split(";") for line in handle if line.strip()]
    last = dict(zip(rows[0], rows[-1]))
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])


def drained(switch, cdrs, timeout=30.0):
    """Wait until the switch has written ``cdrs`` CDRs and no call is up (at most ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(switch.cdrs()) >= cdrs and switch.api("show calls count").strip().startswith("0 total"):
            break
        time.sleep(0.5)
    time.sleep(2)  # the last hangups' own clean-up


def probe(switch, args=""):
    """What the switch holds now: {heap: C allocator bytes in use, free: kept free, objects: Python's, rss: KiB}."""
    answer = switch.api(("python soak_probe " + args).strip())
    return {k: int(v) for k, v in (word.split("=") for word in answer.split())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100000)
    parser.add_argument("--rate", type=int, default=40)
    parser.add_argument("--reload-every", type=float, default=10.0)
    parser.add_argument("--deck-every", type=float, default=60.0)
    parser.add_argument("--flap-every", type=float, default=15.0)
    parser.add_argument("--handler", choices=("fsroute",) + tuple(BASELINES), default="fsroute",
                        help="xml or floor: the same calls without fsroute, as a baseline")
    args = parser.parse_args()
    bundle = os.environ.get("FSROUTE_FREESWITCH")
    if not bundle:
        sys.exit("set FSROUTE_FREESWITCH=<dir> (docs/integration.md)")
    workdir = tempfile.mkdtemp(prefix="fsroute-soak-")
    gateways = {name: FakeGateway(name).start() for name in ("gw1", "gw2")}
    switch = Switch(os.path.abspath(bundle), os.path.join(workdir, "fs"), gateways, "version: 1\nroutes: []\n",
                    log_level="warning", preload=args.handler == "fsroute")
    if args.handler != "fsroute":
        switch.write_config(extra_extensions=BASELINES[args.handler])
        with open(os.path.join(switch.dir("scripts"), "soak_floor.py"), "w") as handle:
            handle.write(FLOOR_HANDLER)
    try:
        switch.start()
        switch.wait_gateways(down=(), timeout=30)
        log("switch up (pid %d, %s): %d calls at %d cps" % (switch.pid, args.handler, args.calls, args.rate))
        figures = run(switch, gateways, workdir, args.calls, args.rate, args.reload_every, args.deck_every,
                      args.flap_every, args.handler)
    finally:
        switch.stop()
        for gw in gateways.values():
            gw.stop()
    figures["machine"] = "%s, %d cores, %s" % (platform.platform(), os.cpu_count() or 0, platform.python_version())
    figures["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps(figures, indent=2, sort_keys=True))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
