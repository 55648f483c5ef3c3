"""Events, metrics and the metrics endpoint, through stub calls under the fake switch."""

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fsroute import ctl
from fsroute.core.explain import explain
from fsroute.core.loader import parse
from fsroute.core.model import RulesError
from fsroute.runtime.events import GATEWAY, RELOAD, ROUTE

from rulesdata import BASE_RULES

ACL_ROUTE_RULES = """\
version: 1
acls:
  peers: {default: deny, nodes: [{allow: 10.0.0.0/8}]}
routes:
  - name: peers only
    acl: peers
    match: {destination_number: '^(\\d+)$'}
    gateway: gw1
"""


@pytest.fixture
def rules_path(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return write_rules(BASE_RULES)


def samples(text):
    """{(sample name, sorted label items): value} of a metrics page, parsed by the official parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(page, name, **labels):
    return page.get((name, tuple(sorted(labels.items()))), 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- fsroute::route -------------------------------------------------------------------------

def test_one_route_event_per_call_with_every_attempt(call, rules_path, fake_freeswitch):
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE"})
    [event] = fake_freeswitch.fired(ROUTE)
    assert event["Event-Name"] == "CUSTOM"
    assert event["Unique-ID"] == session.uuid
    expected = {"fsroute-result": "bridged", "fsroute-route": "default", "fsroute-number": "5551234",
                "fsroute-source": "172.16.221.33", "fsroute-rules-sha": session.variables["fsroute_rules_sha"],
                "fsroute-acl-verdict": "allow", "fsroute-acl": "trunk_peers", "fsroute-attempts": "2",
                "fsroute-attempt-1-gateway": "gw2", "fsroute-attempt-1-cause": "SERVICE_UNAVAILABLE",
                "fsroute-attempt-2-gateway": "gw1", "fsroute-attempt-2-cause": "SUCCESS",
                "fsroute-tried": "gw2:SERVICE_UNAVAILABLE,gw1:SUCCESS"}
    assert {k: event.get(k) for k in expected} == expected
    for name in ("fsroute-decision-usec", "fsroute-attempt-1-usec", "fsroute-attempt-2-usec"):
        assert event[name].isdigit()
    assert "fsroute-hangup-cause" not in event and "fsroute-attempt-3-gateway" not in event


def test_a_denied_call_names_the_acl_that_refused(call, rules_path, fake_freeswitch):
    session = call(rules_path, "5551234", src="172.16.221.99")
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-result"], event["fsroute-acl-verdict"], event["fsroute-acl"],
            event["fsroute-hangup-cause"], event["fsroute-attempts"]) == \
        ("denied", "deny", "trunk_peers", "CALL_REJECTED", "0")
    assert event["fsroute-source"] == "172.16.221.99" and session.hangup_cause == "CALL_REJECTED"
    assert "fsroute-route" not in event and "fsroute-tried" not in event


def test_a_route_acl_refusal_is_named_and_no_acl_means_no_verdict(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = write_rules(ACL_ROUTE_RULES)
    call(path, "100", src="192.0.2.1")
    call(path, "100", src="10.1.2.3")
    denied, allowed = fake_freeswitch.fired(ROUTE)
    assert (denied["fsroute-result"], denied["fsroute-acl-verdict"], denied["fsroute-acl"],
            denied["fsroute-route"]) == ("denied", "deny", "peers", "peers only")
    assert (allowed["fsroute-result"], allowed["fsroute-acl-verdict"], allowed["fsroute-acl"]) == \
        ("bridged", "allow", "peers")
    fake_freeswitch.events.clear()
    call(write_rules("version: 1\nroutes: []\n", "none.yaml"), "100")
    [event] = fake_freeswitch.fired(ROUTE)
    assert event["fsroute-result"] == "no_route"
    assert "fsroute-acl-verdict" not in event and "fsroute-acl" not in event


def test_a_failing_event_never_breaks_the_call(call, rules_path, fake_freeswitch):
    def broken(*args):
        raise RuntimeError("event system gone")
    fake_freeswitch.module.Event = broken
    session = call(rules_path, "91001")
    assert session.variables["fsroute_result"] == "bridged" and session.hangup_cause is None
    assert [m for m in fake_freeswitch.log_lines("info") if m.startswith("fsroute uuid=")]


def test_a_crashed_call_still_fires_its_event(call, rules_path, fake_freeswitch):
    class Exploding(dict):
        def get(self, name, default=None):
            if name == "destination_number":
                raise RuntimeError("boom")
            return dict.get(self, name, default)
    from fsroute import route
    from fsroute.testing import StubSession
    session = StubSession({"network_addr": "172.16.221.33"}, fake=fake_freeswitch)
    session.variables = Exploding(session.variables)
    route.handler(session, rules_path)
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["Unique-ID"], event["fsroute-result"], event["fsroute-hangup-cause"]) == \
        (session.uuid, "error", "NORMAL_TEMPORARY_FAILURE")


# -- fsroute::reload and fsroute::gateway -------------------------------------------------------

def test_reload_events_for_a_good_and_a_refused_file(write_rules, fake_freeswitch):
    path = write_rules(BASE_RULES)
    assert ctl.command("reload %s" % path).startswith("+OK")
    with open(path, "w") as f:
        f.write("version: 1\nroutes: [{name: x}]\n")
    assert ctl.command("reload %s" % path).startswith("-ERR")
    ok, error = fake_freeswitch.fired(RELOAD)
    sha = ctl.command("status %s" % path).split("sha: ")[1].split()[0]
    assert (ok["fsroute-rules"], ok["fsroute-reload"], ok["fsroute-rules-sha"], ok["fsroute-routes"]) == \
        (path, "ok", sha, "2")
    assert (error["fsroute-rules"], error["fsroute-reload"], error["fsroute-problems"]) == (path, "error", "1")
    assert error["fsroute-error"].startswith("%s:2:" % path) and "exactly one of" in error["fsroute-error"]


def test_gateway_events_when_gwlist_readings_change(write_rules, fake_freeswitch, stub_session, clock):
    from fsroute import route
    from fsroute.runtime import process
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    path = write_rules(BASE_RULES)
    process.store_for(path, clock)

    def one_call():
        route.handler(stub_session({"destination_number": "5551234", "network_addr": "172.16.221.33"}), path)

    one_call()
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    process.poller().poll()  # the poller's next round
    one_call()
    fake_freeswitch.set_gateways("external", up=["gw2"], down=["gw1"])
    process.poller().poll()
    one_call()
    process.poller().poll()
    one_call()  # the same reading again: no change, no event
    changes = [(e["fsroute-gateway"], e["fsroute-profile"], e["fsroute-state"], e["fsroute-previous-state"])
               for e in fake_freeswitch.fired(GATEWAY)]
    assert changes == [("gw2", "external", "down", "unknown"), ("gw2", "external", "up", "down"),
                       ("gw1", "external", "down", "up")]
    page = samples(ctl.command("metrics"))
    assert metric(page, "fsroute_gateway_state_changes_total", gateway="gw2", profile="external", state="down") == 1
    assert metric(page, "fsroute_gateway_state_changes_total", gateway="gw2", profile="external", state="up") == 1
    assert metric(page, "fsroute_gateway_up", gateway="gw1", profile="external") == 0
    assert metric(page, "fsroute_gateway_up", gateway="gw2", profile="external") == 1
    assert metric(page, "fsroute_gwlist_readable", profile="external") == 1


def test_an_unreadable_gwlist_changes_no_state(write_rules, fake_freeswitch, stub_session):
    from fsroute import route
    fake_freeswitch.answers["sofia profile external gwlist down"] = "Invalid Profile [external]"
    path = write_rules(BASE_RULES)
    route.handler(stub_session({"destination_number": "5551234", "network_addr": "172.16.221.33"}), path)
    assert fake_freeswitch.fired(GATEWAY) == []
    page = samples(ctl.command("metrics"))
    assert metric(page, "fsroute_gwlist_readable", profile="external") == 0
    assert not [k for k in page if k[0] == "fsroute_gateway_up"]


# -- metrics ------------------------------------------------------------------------------------

def test_metrics_agree_with_the_calls_made(call, rules_path, fake_freeswitch):
    for _ in range(30):
        call(rules_path, "5551234")                                     # 10 gw1, 20 gw2 (1:2)
    for _ in range(4):
        call(rules_path, "91001", bridge_outcomes={"gw1": "USER_BUSY"})  # failed, no failover
    for _ in range(3):
        call(rules_path, "91001", src="172.16.221.99")                  # denied by the ingress acl
    call(rules_path, "9x")                                              # no route
    fsapi_stream = fake_freeswitch.module.Stream()
    ctl.fsapi("na", fsapi_stream, None, "metrics")
    text = fsapi_stream.get_data()
    page = samples(text)
    calls = {labels: value for (name, labels), value in page.items() if name == "fsroute_calls_total"}
    assert calls == {(("result", "bridged"), ("route", "default")): 30,
                     (("result", "failed"), ("route", "out through gw1")): 4,
                     (("result", "denied"), ("route", "")): 3,
                     (("result", "no_route"), ("route", "")): 1}
    assert metric(page, "fsroute_bridge_attempts_total", gateway="gw1", cause="SUCCESS") == 10
    assert metric(page, "fsroute_bridge_attempts_total", gateway="gw2", cause="SUCCESS") == 20
    assert metric(page, "fsroute_bridge_attempts_total", gateway="gw1", cause="USER_BUSY") == 4
    assert metric(page, "fsroute_call_ends_total", gateway="gw1", cause="USER_BUSY") == 4
    assert metric(page, "fsroute_call_ends_total", gateway="", cause="CALL_REJECTED") == 3
    assert metric(page, "fsroute_call_ends_total", gateway="", cause="NO_ROUTE_DESTINATION") == 1
    assert metric(page, "fsroute_call_ends_total", gateway="gw2", cause="SUCCESS") == 20
    assert metric(page, "fsroute_attempts_per_call_count") == 38
    assert metric(page, "fsroute_attempts_per_call_sum") == 34
    assert metric(page, "fsroute_attempts_per_call_bucket", le="0") == 4
    assert metric(page, "fsroute_attempts_per_call_bucket", le="1") == 38
    assert metric(page, "fsroute_decision_seconds_count") == 38
    assert metric(page, "fsroute_decision_seconds_bucket", le="+Inf") == 38
    assert 0 < metric(page, "fsroute_decision_seconds_sum") < 38
    assert metric(page, "fsroute_bridge_attempt_seconds_count", outcome="answered") == 30
    assert metric(page, "fsroute_bridge_attempt_seconds_count", outcome="failed") == 4
    sha = fake_freeswitch.fired(ROUTE)[0]["fsroute-rules-sha"]
    assert metric(page, "fsroute_rules_info", path=rules_path, sha=sha) == 1
    assert metric(page, "fsroute_rules_routes", path=rules_path) == 2
    assert abs(metric(page, "fsroute_rules_loaded_timestamp_seconds", path=rules_path) - time.time()) < 60
    assert metric(page, "fsroute_rules_reload_error", path=rules_path) == 0
    assert metric(page, "fsroute_rules_reloads_total", path=rules_path, outcome="ok") == 1


def test_a_refused_reload_shows_in_the_metrics(call, rules_path, fake_freeswitch):
    call(rules_path, "91001")
    with open(rules_path, "w") as f:
        f.write("version: 2\nroutes: []\n")
    ctl.command("reload %s" % rules_path)
    page = samples(ctl.command("metrics"))
    assert metric(page, "fsroute_rules_reload_error", path=rules_path) == 1
    assert metric(page, "fsroute_rules_reloads_total", path=rules_path, outcome="error") == 1
    assert metric(page, "fsroute_rules_routes", path=rules_path) == 2  # the last good rules stay


def test_label_values_are_escaped(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = write_rules("version: 1\nroutes:\n  - {name: 'a \\ b', gateway: gw1}\n")
    call(path, "100")
    page = samples(ctl.command("metrics"))
    assert metric(page, "fsroute_calls_total", result="bridged", route="a \\ b") == 1


# -- the HTTP endpoint --------------------------------------------------------------------------

def listening_rules(port):
    return BASE_RULES.replace("status_ttl: 60", "status_ttl: 60\n  metrics_listen: 127.0.0.1:%d" % port)


def get(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as answer:
        return answer.headers["Content-Type"], answer.read().decode()


def test_the_endpoint_serves_what_ctl_metrics_shows(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    port = free_port()
    path = write_rules(listening_rules(port))
    call(path, "91001")
    kind, text = get(port)
    assert kind.startswith("text/plain; version=0.0.4")
    page = samples(text)
    assert metric(page, "fsroute_calls_total", result="bridged", route="out through gw1") == 1
    assert page == samples(ctl.command("metrics"))
    with pytest.raises(urllib.error.HTTPError) as failed:
        get(port, "/")
    assert failed.value.code == 404


def test_the_endpoint_stops_when_freeswitch_stops_running(write_rules, fake_freeswitch):
    port = free_port()
    path = write_rules(listening_rules(port))
    ctl.command("reload %s" % path)
    assert get(port)[1]
    [thread] = [t for t in threading.enumerate() if t.name == "fsroute-metrics"]
    fake_freeswitch.module.running = lambda: False  # FreeSWITCH began to shut down
    thread.join(5)
    assert not thread.is_alive()
    assert "fsroute: FreeSWITCH is shutting down; metrics endpoint on 127.0.0.1:%d closed" % port \
        in fake_freeswitch.log_lines("info")
    with pytest.raises(OSError):
        get(port)


def test_a_client_trickling_its_request_is_cut_off_and_a_stop_frees_the_port(fake_freeswitch, monkeypatch):
    # the 2 s timeout bounded each read only: a byte a second held the endpoint's one thread for ever, no
    # scrape was answered, and a stop left the port bound ('Address already in use' when asked again)
    from fsroute.runtime import metrics_http

    monkeypatch.setattr(metrics_http, "CLIENT_TIMEOUT", 0.5)
    port = free_port()
    metrics_http.serve([("127.0.0.1", port)], lambda: "up 1\n")
    trickling = socket.create_connection(("127.0.0.1", port))
    done = threading.Event()

    def trickle():
        for byte in b"GET /metrics HTTP/1.0":
            try:
                trickling.send(bytes([byte]))
            except OSError:
                break
            if done.wait(0.3):
                break

    threading.Thread(target=trickle, daemon=True).start()
    time.sleep(0.1)
    try:
        assert get(port)[1] == "up 1\n"  # answered once the trickler is cut off (0.5 s here)
    finally:
        done.set()
    trickling2 = socket.create_connection(("127.0.0.1", port))
    trickling2.send(b"GET /met")
    time.sleep(0.1)
    metrics_http.serve([], None)  # stopped while a slow request is being read
    [server] = metrics_http.serve([("127.0.0.1", port)], lambda: "up 2\n")  # the port is free at once
    assert get(port)[1] == "up 2\n"
    metrics_http.stop()
    trickling.close()
    trickling2.close()


def test_the_endpoint_does_not_spin_when_accept_runs_out_of_descriptors(monkeypatch):
    # accept() failing with EMFILE leaves the client waiting and the socket readable: the loop went round
    # at full CPU, holding the GIL from call threads
    import errno

    from fsroute.runtime import metrics_http

    slept = []
    monkeypatch.setattr(metrics_http.time, "sleep", slept.append)
    class OutOfDescriptors:
        def accept(self):
            raise OSError(errno.EMFILE, "Too many open files")

    server = metrics_http._Server(("127.0.0.1", 0), lambda: "")
    listening, server.socket = server.socket, OutOfDescriptors()
    try:
        with pytest.raises(OSError):
            server.get_request()
        assert slept == [metrics_http.POLL_SECONDS]
    finally:
        listening.close()


def test_the_endpoint_belongs_to_the_process_not_to_the_rules_file_that_loaded_last(write_rules, fake_freeswitch):
    # Issue 19, defect 4: loading a second rules file without metrics_listen stopped the first one's endpoint.
    port = free_port()
    first = write_rules(listening_rules(port), name="first.yaml")
    second = write_rules(BASE_RULES, name="second.yaml")
    assert ctl.command("reload %s" % first).startswith("+OK")
    assert ctl.command("reload %s" % second).startswith("+OK")
    page = samples(get(port)[1])
    assert {labels["path"] for name, labels in _labels(page, "fsroute_rules_info")} == {first, second}


def test_two_files_swapping_at_once_both_keep_their_endpoints(write_rules, fake_freeswitch, monkeypatch):
    # The first file's swap reads the stores, then is held before it serves; the second file's
    # swap must not be overtaken by the first one's older list (which closed the second's port).
    from fsroute.runtime import metrics_http, process
    first_port, second_port = free_port(), free_port()
    first = write_rules(listening_rules(first_port), name="first.yaml")
    second = write_rules(listening_rules(second_port), name="second.yaml")
    entered, release = threading.Event(), threading.Event()
    serve = metrics_http.serve

    def held_once(listens, render):
        if not entered.is_set():
            entered.set()
            release.wait(5)
        return serve(listens, render)

    monkeypatch.setattr(process.metrics_http, "serve", held_once)
    loads = [threading.Thread(target=ctl.command, args=("reload %s" % first,))]
    loads[0].start()
    assert entered.wait(5)
    loads.append(threading.Thread(target=ctl.command, args=("reload %s" % second,)))
    loads[1].start()
    time.sleep(0.3)  # time for the second swap to serve, were it not waiting for the first
    release.set()
    for thread in loads:
        thread.join(10)
    for port in (first_port, second_port):
        assert "fsroute_rules_info" in get(port)[1]


def _labels(page, family):
    return [(name, dict(labels)) for name, labels in page if name == family]


def test_rules_without_metrics_listen_stop_the_endpoint_and_a_busy_port_is_logged(write_rules, fake_freeswitch):
    port = free_port()
    path = write_rules(listening_rules(port))
    ctl.command("reload %s" % path)
    assert get(port)[1]
    with open(path, "w") as f:
        f.write(BASE_RULES)
    ctl.command("reload %s" % path)
    with pytest.raises(OSError):
        get(port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        with open(path, "w") as f:
            f.write(listening_rules(taken))
        assert ctl.command("reload %s" % path).startswith("+OK")
    assert [m for m in fake_freeswitch.log_lines("err") if "cannot serve metrics on 127.0.0.1:%d" % taken in m]
    assert [t for t in threading.enumerate() if t.name == "fsroute-metrics" and t.is_alive()] == []


@pytest.mark.parametrize("value, listen", [("127.0.0.1:9466", ("127.0.0.1", 9466)),
                                           ("localhost:9466", ("127.0.0.1", 9466)),
                                           ("127.0.0.2:80", ("127.0.0.2", 80)),
                                           ("'[::1]:9466'", ("::1", 9466))])
def test_metrics_listen_takes_loopback_addresses(value, listen):
    rules = parse(("version: 1\ndefaults: {metrics_listen: %s}\nroutes: []\n" % value).encode(), "r.yaml")
    assert rules.defaults.metrics_listen == listen


@pytest.mark.parametrize("value, message", [
    ("0.0.0.0:9466", "0.0.0.0 is not a loopback address"),
    ("192.0.2.1:9466", "192.0.2.1 is not a loopback address; the metrics endpoint has no authentication"),
    ("'[2001:db8::1]:9466'", "2001:db8::1 is not a loopback address"),
    ("127.0.0.1", "must be HOST:PORT"),
    ("127.0.0.1:0", "port must be from 1 to 65535"),
    ("127.0.0.1:70000", "port must be from 1 to 65535"),
    ("example.com:9466", "'example.com' is not an IP address"),
])
def test_metrics_listen_refuses_other_addresses(value, message):
    with pytest.raises(RulesError) as refused:
        parse(("version: 1\ndefaults: {metrics_listen: %s}\nroutes: []\n" % value).encode(), "r.yaml")
    assert message in str(refused.value) and str(refused.value).startswith("r.yaml:2:")


# -- the per-call trace -------------------------------------------------------------------------

def trace_lines(fake, uuid):
    prefix = "fsroute trace uuid=%s " % uuid
    return [m[len(prefix):] for m in fake.log_lines("notice") if m.startswith(prefix)]


def test_a_traced_call_logs_its_whole_decision_at_notice(call, rules_path, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"], down=["gw3"])
    session = call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE"}, fsroute_trace="true")
    lines = trace_lines(fake_freeswitch, session.uuid)
    sha = session.variables["fsroute_rules_sha"]
    assert lines[0] == "rules %s sha=%s" % (rules_path, sha)
    explained = explain(parse(open(rules_path, "rb").read(), rules_path), session.variables.get)
    assert lines[1:1 + len(explained)] == explained  # what simulate --explain prints
    assert lines[1].startswith("ingress acl 'trunk_peers': source 172.16.221.33 matches node 1 (allow 172.16.221.0/24")
    assert lines[2] == ("1 route not looked at (the index: 5551234 does not start with its literal prefix): "
                        "'out through gw1' (line 18)")
    assert lines[3] == "route 'default' (line 22): every condition holds; it takes the call"
    assert any(line.startswith("gateway states of profile external: down: gw3 (read ") for line in lines)
    assert ("group gw_group_1, strategy weighted_round_robin: gw1 (weight 1, up), gw2 (weight 2, up); "
            "order gw2, gw1 (the strategy's pick first, then the other up gateways as failover candidates, "
            "at most max_attempts=3 dialled)") in lines
    assert any(line.startswith("decision route (") for line in lines)
    attempts = [line for line in lines if line.startswith("attempt ")]
    assert len(attempts) == 2
    assert attempts[0].startswith("attempt 1: sofia/gateway/gw2/5551234 -> SERVICE_UNAVAILABLE after ")
    assert attempts[0].endswith("(in failover_on: next gateway)")
    assert attempts[1].startswith("attempt 2: sofia/gateway/gw1/5551234 -> SUCCESS after ")
    assert lines[-1] == "result bridged"


def test_a_traced_denied_call_says_which_acl_and_an_untraced_call_logs_no_trace(call, rules_path, fake_freeswitch):
    denied = call(rules_path, "5551234", src="172.16.221.99", fsroute_trace="yes")
    quiet = call(rules_path, "5551234", fsroute_trace="false")
    lines = trace_lines(fake_freeswitch, denied.uuid)
    assert any(line.startswith("ingress acl") and "172.16.221.99" in line for line in lines)
    assert any(line.startswith("decision denied: source 172.16.221.99 refused by ingress acl trunk_peers")
               for line in lines)
    assert lines[-1] == "result denied, hangup CALL_REJECTED"
    assert trace_lines(fake_freeswitch, quiet.uuid) == []
    assert [m for m in fake_freeswitch.log_lines("notice") if "trace" in m and quiet.uuid in m] == []


def test_a_failing_trace_never_breaks_the_call(call, rules_path, fake_freeswitch):
    real = fake_freeswitch.module.consoleLog

    def refuse_notice(level, message):
        if level == "notice":
            raise RuntimeError("log gone")
        real(level, message)
    fake_freeswitch.module.consoleLog = refuse_notice
    session = call(rules_path, "91001", fsroute_trace="true")
    assert session.variables["fsroute_result"] == "bridged"
    assert [m for m in fake_freeswitch.log_lines("info") if m.startswith("fsroute uuid=")]


def test_events_false_fires_no_route_event_but_still_counts(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules(BASE_RULES.replace("status_ttl: 60", "status_ttl: 60\n  events: false"))
    call(path, "91001")
    assert fake_freeswitch.fired(ROUTE) == []
    assert metric(samples(ctl.command("metrics")), "fsroute_calls_total", result="bridged", route="out through gw1") == 1
    with pytest.raises(RulesError) as refused:
        parse(b"version: 1\ndefaults: {events: 'no'}\nroutes: []\n", "r.yaml")
    assert "defaults.events must be true or false" in str(refused.value)


def test_the_docs_and_the_dashboard_name_only_metrics_that_exist(fake_freeswitch):
    import json
    import re
    from rulesdata import ROOT
    page = ctl.command("metrics")
    names = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
    dashboard = json.loads((ROOT / "examples" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    doc = (ROOT / "docs" / "observability.md").read_text()
    for text in (exprs, doc):
        used = set(re.findall(r"\bfsroute_[a-z_]+", text)) - {"fsroute_trace", "fsroute_result", "fsroute_rules_sha"}
        assert used and used <= names, used - names
    documented = set(re.findall(r"^\| `(fsroute_[a-z_]+)`", doc, re.M))
    assert documented == {n for n in names if not n.endswith(("_bucket", "_sum", "_count"))}


def test_every_event_header_is_documented(call, rules_path, write_rules, fake_freeswitch):
    import re
    from rulesdata import ROOT
    doc = (ROOT / "docs" / "observability.md").read_text()
    documented = set(re.findall(r"`((?:fsroute-[a-z-]+)|Unique-ID|fsroute-attempt-N-[a-z]+)`", doc))
    call(rules_path, "5551234", bridge_outcomes={"gw2": "SERVICE_UNAVAILABLE", "gw1": "USER_BUSY"})
    ctl.command("reload %s" % write_rules("version: 1\nroutes: [{name: x}]\n", "bad.yaml"))
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    seen = set()
    fake_freeswitch.fired(ROUTE)  # every route event fired by now
    for event in fake_freeswitch.events:
        seen.update(re.sub(r"-attempt-\d+-", "-attempt-N-", name) for name in event
                    if not name.startswith("Event-"))
    assert "fsroute-hangup-cause" in seen and "fsroute-error" in seen
    assert seen <= documented, seen - documented


def test_route_events_of_calls_refused_before_any_attempt(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", down=["gw1", "gw2"])
    path = write_rules(BASE_RULES)
    call(path, "5551234")
    call(path, "9" * 200)
    all_down, invalid = fake_freeswitch.fired(ROUTE)
    assert (all_down["fsroute-result"], all_down["fsroute-route"], all_down["fsroute-hangup-cause"],
            all_down["fsroute-attempts"], all_down["fsroute-detail"]) == \
        ("all_down", "default", "NORMAL_TEMPORARY_FAILURE", "0", "every gateway of the route is down")
    assert (invalid["fsroute-result"], invalid["fsroute-hangup-cause"], invalid["fsroute-acl-verdict"]) == \
        ("invalid_number", "INVALID_NUMBER_FORMAT", "allow")
    assert "fsroute-route" not in invalid and "fsroute-tried" not in all_down


def test_an_asked_for_reload_of_an_unchanged_file_is_reported(write_rules, fake_freeswitch):
    # The store keeps the loaded rules (and their counters) when the content is the same;
    # 'ctl reload' still says so on the event socket.
    path = write_rules(BASE_RULES)
    assert ctl.command("reload %s" % path).startswith("+OK")
    assert ctl.command("reload %s" % path).startswith("+OK")
    assert [e["fsroute-reload"] for e in fake_freeswitch.fired(RELOAD)] == ["ok", "ok"]


def test_route_events_are_fired_off_the_calls_thread_in_the_order_calls_ended(call, write_rules, fake_freeswitch):
    import threading
    from fsroute.runtime import events
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    threads = []
    real_event = fake_freeswitch.module.Event

    def event(kind, subclass):
        if subclass == ROUTE:
            threads.append(threading.current_thread().name)
        return real_event(kind, subclass)

    fake_freeswitch.module.Event = event
    path = write_rules(BASE_RULES)
    numbers = ["5551%03d" % n for n in range(20)]
    for number in numbers:
        call(path, number)
    assert events.flush()
    assert [e["fsroute-number"] for e in fake_freeswitch.fired(ROUTE)] == numbers
    assert set(threads) == {"fsroute-events"}


def test_calls_outrunning_the_events_thread_drop_their_events_and_count_them(call, write_rules, fake_freeswitch,
                                                                           monkeypatch):
    # Queued records were unbounded: the stub benchmark's back-to-back calls grew one process to 5.8 GB.
    import threading
    from fsroute.runtime import events
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    monkeypatch.setattr(events, "MAX_UNFIRED", 3)
    started, release = threading.Event(), threading.Event()
    real_event = fake_freeswitch.module.Event

    def held_event(kind, subclass):
        if subclass == ROUTE:
            started.set()
            assert release.wait(10)  # the events thread is stuck building the first call's event
        return real_event(kind, subclass)

    fake_freeswitch.module.Event = held_event
    path = write_rules(BASE_RULES)
    dropped_before = events.dropped()
    numbers = ["5551%03d" % n for n in range(6)]
    call(path, numbers[0])
    assert started.wait(10)
    for number in numbers[1:]:
        call(path, number)
    assert events.dropped() - dropped_before == 3  # 3 waiting (one of them being built): the rest dropped
    release.set()
    assert events.flush()
    assert [e["fsroute-number"] for e in fake_freeswitch.fired(ROUTE)] == numbers[:3]
    families = {f.name: f for f in text_string_to_metric_families(ctl.command("metrics"))}
    assert families["fsroute_route_events_dropped"].samples[0].value == events.dropped()
