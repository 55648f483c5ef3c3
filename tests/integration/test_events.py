"""Observability in a real FreeSWITCH: CUSTOM events over the event socket, metrics, the per-call trace."""

import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import BASE_RULES
from .harness.esl import ESL, ESLError
from .harness.switch import fsroute_lines

SUBCLASSES = ("fsroute::route", "fsroute::reload", "fsroute::gateway")


class Subscriber(ESL):
    """An event-socket client that asked for fsroute's CUSTOM events; collects them in a thread."""

    def __init__(self, port):
        super().__init__(port)
        self.events = []
        self._changed = threading.Condition()
        self._send("event plain CUSTOM " + " ".join(SUBCLASSES))
        headers, _ = self._read_message()
        assert headers.get("Reply-Text", "").startswith("+OK"), headers
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        try:
            while True:
                headers, body = self._read_message()
                if headers.get("Content-Type") != "text/event-plain":
                    continue
                event = {}
                for line in body.decode("utf-8", "replace").split("\n"):
                    name, sep, value = line.partition(": ")
                    if sep:
                        event[name] = urllib.parse.unquote(value)
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except (OSError, ESLError):
            pass

    def wait_for(self, predicate, timeout=10.0):
        """The first collected event for which ``predicate(event)`` holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no such event within %gs; got %r" % (timeout, self.events))
                self._changed.wait(left)

    def route_event(self, uuid):
        return self.wait_for(lambda e: e.get("Event-Subclass") == "fsroute::route" and e.get("Unique-ID") == uuid)


@pytest.fixture
def events(fs):
    subscriber = Subscriber(fs.switch.ports["esl"])
    yield subscriber
    subscriber.close()


def metrics_page(fs):
    out = {}
    for family in text_string_to_metric_families(fs.switch.api("python fsroute.ctl metrics")):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(page, name, **labels):
    return page.get((name, tuple(sorted(labels.items()))), 0)


PRIORITY_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
acls:
  peers: {default: deny, nodes: [{allow: 127.0.0.0/8}, {deny: 127.0.0.99/32}]}
ingress_acl: peers
groups:
  ordered: {strategy: priority, gateways: [gw2, gw1]}
routes:
  - {name: ordered, match: {destination_number: '^(\\d+)$'}, number: '$1', group: ordered}
"""


def test_route_events_carry_the_documented_headers(fs, events):
    sha = fs.use_rules(PRIORITY_RULES)
    fs.gateways["gw2"].mode = "reject"
    fs.gateways["gw2"].reject_code = 503
    failover = fs.call("5557000")
    denied = fs.call("5557001", source="127.0.0.99")
    assert (failover.code, denied.code) == (200, 603)
    cdr = fs.cdr(failover)
    event = events.route_event(cdr["uuid"])
    expected = {"Event-Name": "CUSTOM", "Event-Subclass": "fsroute::route", "fsroute-result": "bridged",
                "fsroute-route": "ordered", "fsroute-number": "5557000", "fsroute-source": "127.0.0.1",
                "fsroute-rules-sha": sha, "fsroute-acl-verdict": "allow", "fsroute-acl": "peers",
                "fsroute-attempts": "2", "fsroute-attempt-1-gateway": "gw2",
                "fsroute-attempt-1-cause": "NORMAL_TEMPORARY_FAILURE", "fsroute-attempt-2-gateway": "gw1",
                "fsroute-attempt-2-cause": "SUCCESS", "fsroute-tried": "gw2:NORMAL_TEMPORARY_FAILURE,gw1:SUCCESS"}
    assert {k: event.get(k) for k in expected} == expected
    assert sha == cdr["fsroute_rules_sha"]
    for name in ("fsroute-decision-usec", "fsroute-attempt-1-usec", "fsroute-attempt-2-usec"):
        assert event[name].isdigit(), name
    assert int(event["fsroute-decision-usec"]) < 1000000
    refused = events.route_event(fs.cdr(denied)["uuid"])
    assert (refused["fsroute-result"], refused["fsroute-acl-verdict"], refused["fsroute-acl"],
            refused["fsroute-source"], refused["fsroute-hangup-cause"], refused["fsroute-attempts"]) == \
        ("denied", "deny", "peers", "127.0.0.99", "CALL_REJECTED", "0")


def test_reload_events_for_a_good_and_a_refused_file(fs, events):
    sha = fs.use_rules(PRIORITY_RULES)
    good = events.wait_for(lambda e: e.get("Event-Subclass") == "fsroute::reload"
                           and e.get("fsroute-rules-sha") == sha)
    assert (good["fsroute-reload"], good["fsroute-rules"], good["fsroute-routes"]) == \
        ("ok", fs.switch.rules_path, "1")
    fs.switch.write_rules("version: 1\nroutes: [{name: x}]\n")
    assert fs.switch.api("python fsroute.ctl reload %s" % fs.switch.rules_path).startswith("-ERR")
    bad = events.wait_for(lambda e: e.get("Event-Subclass") == "fsroute::reload"
                          and e.get("fsroute-reload") == "error")
    assert bad["fsroute-error"].startswith(fs.switch.rules_path + ":2:")


def test_gateway_events_follow_gwlist(fs, events):
    fs.call("5558000")  # a reading with every gateway up: the baseline
    fs.gateways["gw3"].close()
    fs.switch.wait_gateways(down=["gw3"])
    time.sleep(0.6)  # past status_ttl
    fs.call("5558001")
    down = events.wait_for(lambda e: e.get("Event-Subclass") == "fsroute::gateway"
                           and e.get("fsroute-gateway") == "gw3" and e.get("fsroute-state") == "down")
    assert (down["fsroute-profile"], down["fsroute-previous-state"]) == ("external", "up")
    fs.gateways["gw3"].reopen()
    fs.switch.wait_gateways(down=[], timeout=15)
    time.sleep(0.6)
    fs.call("5558002")
    up = events.wait_for(lambda e: e.get("Event-Subclass") == "fsroute::gateway"
                         and e.get("fsroute-gateway") == "gw3" and e.get("fsroute-state") == "up")
    assert up["fsroute-previous-state"] == "down"


def test_metrics_count_the_calls_made(fs):
    fs.use_rules(PRIORITY_RULES)
    before = metrics_page(fs)
    fs.gateways["gw2"].mode = "reject"
    results = [fs.call("555900%d" % i) for i in range(3)] + [fs.call("5559009", source="127.0.0.99")]
    assert [r.code for r in results] == [200, 200, 200, 603]
    for r in results:
        fs.cdr(r)  # every call is over (its CDR is written)
    after = metrics_page(fs)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("fsroute_calls_total", result="bridged", route="ordered") == 3
    assert grew("fsroute_calls_total", result="denied", route="") == 1
    assert grew("fsroute_bridge_attempts_total", gateway="gw2", cause="NORMAL_TEMPORARY_FAILURE") == 3
    assert grew("fsroute_bridge_attempts_total", gateway="gw1", cause="SUCCESS") == 3
    assert grew("fsroute_attempts_per_call_sum") == 6
    assert grew("fsroute_decision_seconds_count") == 4
    assert grew("fsroute_bridge_attempt_seconds_count", outcome="failed") == 3
    assert value(after, "fsroute_rules_routes", path=fs.switch.rules_path) == 1
    assert value(after, "fsroute_gateway_up", gateway="gw1", profile="external") == 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_http_endpoint_serves_metrics_from_inside_freeswitch(fs):
    port = free_port()
    fs.use_rules(BASE_RULES.replace("status_ttl: 0.5", "status_ttl: 0.5\n  metrics_listen: 127.0.0.1:%d" % port))
    try:
        result = fs.call("91001")
        assert result.code == 200
        fs.cdr(result)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as answer:
            text = answer.read().decode()
        page = {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}
        assert value(page, "fsroute_calls_total", result="bridged", route="prefix") >= 1
    finally:
        fs.use_rules(BASE_RULES)
    with pytest.raises(OSError):  # rules without metrics_listen close it
        urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5)


TRACE_EXTENSION = """
    <extension name="trace" continue="true">
      <condition field="destination_number" expression="^777">
        <action application="set" data="fsroute_trace=true"/>
      </condition>
    </extension>
"""


def test_a_traced_call_logs_its_decision_in_the_switch_log(fs):
    fs.switch.write_config(extra_extensions=TRACE_EXTENSION)
    assert "+OK" in fs.switch.api("reloadxml")
    try:
        traced = fs.call("7771234")
        plain = fs.call("5551234")
        assert (traced.code, plain.code) == (200, 200)
        uuid, plain_uuid = fs.cdr(traced)["uuid"], fs.cdr(plain)["uuid"]
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")
    log = fs.switch.log_since(fs.log_mark)
    marker = "fsroute trace uuid=%s " % uuid
    lines = [line[line.index(marker) + len(marker):] for line in log.splitlines() if marker in line]
    assert all("[NOTICE]" in line for line in log.splitlines() if marker in line)
    assert lines[0] == "rules %s sha=%s" % (fs.switch.rules_path, fs.cdr(traced)["fsroute_rules_sha"])
    assert lines[1] == ("1 route not looked at (the index: 7771234 does not start with its literal prefix): "
                        "'prefix' (line 10)")
    assert lines[2] == "route 'default' (line 14): every condition holds; it takes the call"
    assert lines[3].startswith("gateway states of profile external: down: none (read ")
    assert lines[4].startswith("group split, strategy weighted_round_robin: gw1 (weight 1, up), gw2 (weight 2, up)")
    assert lines[5].startswith("decision route (")
    assert lines[6].startswith("attempt 1: sofia/gateway/gw") and lines[6].endswith("(answered)")
    assert lines[-1] == "result bridged"
    assert fsroute_lines(log, uuid)  # the usual line too
    assert "fsroute trace uuid=%s" % plain_uuid not in log


def test_freeswitch_shuts_down_cleanly_with_the_endpoint_running(fs):
    port = free_port()
    fs.use_rules(BASE_RULES.replace("status_ttl: 0.5", "status_ttl: 0.5\n  metrics_listen: 127.0.0.1:%d" % port))
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as answer:
        assert answer.status == 200
    process = fs.switch.process
    mark = fs.switch.log_mark()
    began = time.monotonic()
    fs.switch.stop()
    took = time.monotonic() - began
    log = fs.switch.log_since(mark)
    fs.switch.write_rules(BASE_RULES)
    fs.switch.start()
    assert process.returncode == 0  # it exited by itself after 'fsctl shutdown', not by SIGTERM/SIGKILL
    assert took < 10
    assert "fsroute: FreeSWITCH is shutting down; metrics endpoint on 127.0.0.1:%d closed" % port in log
