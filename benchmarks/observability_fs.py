#!/usr/bin/env python3
"""What fsroute's observability costs inside a real FreeSWITCH (the stub's figures are in run.py).

    FSROUTE_FREESWITCH=/tmp/fsb python benchmarks/observability_fs.py [--n N]

Starts a private FreeSWITCH (tests/integration/harness), and inside it, on
mod_python3's embedded interpreter, times per call: building the
fsroute::route headers of a call with two attempts, firing that event
(``freeswitch.Event`` + addHeader + fire) with no event-socket subscriber
and then with one subscribed to it, and the metrics update. Then, for
scale, how many events FreeSWITCH itself fires for one call routed by
fsroute to a fake gateway (counted by a subscriber to ALL events), of which
fsroute's is one. Prints one table.
"""

import argparse
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.integration.harness import Caller, FakeGateway, Switch  # noqa: E402
from tests.integration.harness.esl import ESL, ESLError  # noqa: E402

# Runs inside FreeSWITCH: ``python fsroute_obs_bench <what> <n>``.
PROBE = '''
import json, time
from fsroute.core.model import Outcome
from fsroute.core.legs import Dial
from fsroute.runtime import events, metrics
from fsroute.runtime.record import Attempt, CallRecord


def _record():
    attempts = tuple(Attempt(gw, cause, seconds, Dial(gw, "5551234", "sofia/gateway/%s/5551234" % gw, (), ()))
                     for gw, cause, seconds in (("gw2", "SERVICE_UNAVAILABLE", 0.012), ("gw1", "SUCCESS", 31.5)))
    return CallRecord("00000000-0000-4000-8000-000000000001", Outcome.BRIDGED, None, "0123456789ab", None,
                      route="default", number="5551234", source="172.16.221.33", attempts=attempts,
                      decision_seconds=0.00002)


def fsapi(session, stream, env, args):
    what, n = args.split()
    n = int(n)
    record = _record()
    headers = events.route_headers(record)
    work = {"headers": lambda: events.route_headers(record),
            "fire": lambda: events.fire(events.ROUTE, headers),
            "metrics": lambda: metrics.record_call(record)}[what]
    for _ in range(100):
        work()
    began = time.perf_counter()
    for _ in range(n):
        work()
    stream.write(json.dumps((time.perf_counter() - began) / n * 1e6))
'''


RULES = """\
version: 1
routes:
  - {name: all, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
"""


def drain(port, ready, stop, subscription="CUSTOM fsroute::route", seen=None):
    """An event-socket client subscribed to ``subscription``, reading every event (into ``seen``)."""
    esl = ESL(port)
    esl._send("event plain " + subscription)
    esl._read_message()
    esl.sock.settimeout(0.5)
    ready.set()
    while not stop.is_set():
        try:
            headers, body = esl._read_message()
        except (OSError, ESLError):
            continue
        if seen is not None and headers.get("Content-Type") == "text/event-plain":
            seen.append(body.decode("utf-8", "replace"))
    esl.sock.close()


def events_per_call(switch, calls=5):
    """Mean events FreeSWITCH fired per call (both legs, every kind but heartbeats), and fsroute's share."""
    seen = []
    ready, stop = threading.Event(), threading.Event()
    reader = threading.Thread(target=drain, args=(switch.ports["esl"], ready, stop, "ALL", seen), daemon=True)
    reader.start()
    ready.wait(10)
    caller = Caller(switch.sip_address)
    try:
        for i in range(calls):
            assert caller.call("55512%02d" % i).code == 200
        time.sleep(1.0)  # the last channel's destroy events
    finally:
        caller.close()
        stop.set()
        reader.join(5)
    kept = [body for body in seen if "Event-Name: HEARTBEAT" not in body and "Event-Name: RE_SCHEDULE" not in body]
    ours = [body for body in kept if "Event-Subclass: fsroute%3A%3Aroute" in body]
    return len(kept) / calls, len(ours) / calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="repetitions per measurement")
    options = parser.parse_args(argv)
    bundle = os.environ.get("FSROUTE_FREESWITCH")
    if not bundle:
        sys.exit("set FSROUTE_FREESWITCH=<dir of a FreeSWITCH build>")
    with tempfile.TemporaryDirectory(prefix="fsroute-obs-bench-") as tmp:
        gateway = FakeGateway("gw1").start()
        switch = Switch(bundle, tmp, {"gw1": gateway}, RULES)
        with open(os.path.join(switch.dir("scripts"), "fsroute_obs_bench.py"), "w") as f:
            f.write(PROBE)
        switch.start()
        try:
            def run(what):
                return float(switch.api("python fsroute_obs_bench %s %d" % (what, options.n)))
            rows = [("route headers (2 attempts)", run("headers")),
                    ("metrics.record_call", run("metrics")),
                    ("fire fsroute::route, no subscriber", run("fire"))]
            ready, stop = threading.Event(), threading.Event()
            reader = threading.Thread(target=drain, args=(switch.ports["esl"], ready, stop), daemon=True)
            reader.start()
            ready.wait(10)
            rows.append(("fire fsroute::route, one ESL subscriber", run("fire")))
            stop.set()
            reader.join(5)
            switch.wait_gateways(down=())
            total, ours = events_per_call(switch)
        finally:
            switch.stop()
            gateway.stop()
    print("inside FreeSWITCH (%s), mod_python3, mean over %d repetitions" % (bundle, options.n))
    for what, us in rows:
        print("%-42s %8.2f us" % (what, us))
    print("events FreeSWITCH fired per call routed by fsroute: %.1f, of which fsroute::route: %.1f" % (total, ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
