"""Gateway states: one poller per process reads gwlist and counts; calls only look the last reading up."""

import threading

import pytest

from fsroute import route
from fsroute.runtime import process
from fsroute.runtime.poller import Poller, parse_gwlist

GWLIST = "sofia profile external gwlist down"


@pytest.mark.parametrize("text, expected", [
    ("gw2 gw1 ", frozenset({"gw1", "gw2"})),
    ("", frozenset()),
    ("gw1 ", frozenset({"gw1"})),
    ("Invalid Profile [external]", None),
    ("-ERR no reply", None),
    ("<html>garbage</html>", None),
    (None, None),
    (42, None),
])
def test_parse_gwlist(text, expected):
    assert parse_gwlist(text) == expected


def no_thread(name, target):
    pass


def test_a_watch_reads_what_was_never_read_and_calls_read_nothing(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    fake_freeswitch.set_gateways("internal", down=["gw3"])
    poller = Poller(start=no_thread)
    poller.watch("a.yaml", ["external", "internal"], [], period=60, timeout=1)
    for _ in range(50):
        assert poller.is_down("external", "gw2") and not poller.is_down("external", "gw1")
        assert poller.is_down("internal", "gw3")
    assert sorted(fake_freeswitch.api_calls) == [GWLIST, "sofia profile internal gwlist down"]
    poller.watch("b.yaml", ["external"], [], period=60, timeout=1)  # already read: not again
    assert len(fake_freeswitch.api_calls) == 2


def test_a_reading_too_old_to_trust_counts_as_unknown(fake_freeswitch, clock):
    fake_freeswitch.set_gateways("external", down=["gw2"])
    poller = Poller(clock=clock, start=no_thread)
    poller.watch("a.yaml", ["external"], [], period=2, timeout=1)
    clock.advance(2 * 2 + 1)  # 2 periods and the timeout: still trusted
    assert poller.is_down("external", "gw2") and not poller.is_down("external", "gw1")
    clock.advance(0.1)  # the poller stopped reading (hung API, dead thread): every gateway is up
    assert not poller.is_down("external", "gw2")
    assert poller.readings()["external"][0] == {"gw2"} and poller.readings()["external"][2] is False
    poller.poll()
    assert poller.is_down("external", "gw2") and not poller.is_down("external", "gw1")


def test_failures_mean_unknown_and_are_logged_once_until_they_mend(fake_freeswitch):
    fake_freeswitch.answers[GWLIST] = RuntimeError("boom")
    poller = Poller(start=no_thread)
    poller.watch("a.yaml", ["external"], [], period=60, timeout=1)
    for _ in range(5):
        poller.poll()
        assert not poller.is_down("external", "gw2")
    warnings = fake_freeswitch.log_lines("warning")
    assert len(warnings) == 1 and "RuntimeError: boom" in warnings[0]
    del fake_freeswitch.answers[GWLIST]
    fake_freeswitch.set_gateways("external", down=["gw1"])
    poller.poll()
    poller.poll()
    assert poller.is_down("external", "gw1") and not poller.is_down("external", "gw2")
    assert [line for line in fake_freeswitch.log_lines("info") if "answers again" in line] == [
        "fsroute: %r answers again" % GWLIST]


def test_a_poller_that_cannot_start_its_thread_says_so_and_tries_again(fake_freeswitch):
    started = []

    def refuse_then_start(name, target):
        if not started:
            started.append("refused")
            raise RuntimeError("can't start new thread")
        started.append(name)

    fake_freeswitch.set_gateways("external", down=["gw2"])
    poller = Poller(start=refuse_then_start)
    poller.watch("a.yaml", ["external"], [], period=60, timeout=1)
    assert poller.is_down("external", "gw2") and not poller.is_down("external", "gw1")  # the first reading is taken all the same
    assert any("cannot start the gateway poller" in line for line in fake_freeswitch.log_lines("warning"))
    poller.watch("a.yaml", ["external"], [], period=60, timeout=1)  # the next generation tries again
    assert started == ["refused", "fsroute-poller"]


def test_the_poller_thread_reads_every_period_and_stops(fake_freeswitch):
    fake_freeswitch.set_gateways("external", down=["gw2"])
    poller = Poller()
    try:
        poller.watch("a.yaml", ["external"], [], period=0.5, timeout=0.1)
        fake_freeswitch.set_gateways("external", down=["gw1"])
        done = threading.Event()
        for _ in range(100):
            if poller.is_down("external", "gw1"):
                done.set()
                break
            done.wait(0.05)
        assert done.is_set(), "the poller thread did not read again"
    finally:
        poller.stop()



def test_count_soon_runs_after_round_on_the_thread_without_reading_again(fake_freeswitch):
    counted = threading.Event()
    poller = Poller(after_round=counted.set)
    try:
        poller.watch("a.yaml", ["external"], [], period=3600, timeout=0.1)  # read once, then not for an hour
        readings = len(fake_freeswitch.api_calls)
        poller.count_soon()
        assert counted.wait(5), "count_soon did not run after_round"
        assert len(fake_freeswitch.api_calls) == readings
    finally:
        poller.stop()


def test_finished_calls_piling_up_are_counted_on_the_poller_thread_not_the_call(monkeypatch):
    from fsroute.runtime import metrics
    from fsroute.runtime.record import CallRecord
    from fsroute.core.model import Outcome
    asked = []
    monkeypatch.setattr(metrics, "MAX_PENDING", 3)
    monkeypatch.setattr(metrics, "HARD_MAX_PENDING", 5)
    monkeypatch.setattr(metrics, "count_soon", lambda: asked.append(len(metrics._pending)))
    metrics.reset()
    record = CallRecord("u", Outcome.BRIDGED, None, None, None)
    for _ in range(4):
        metrics.record_call(record)
    assert asked == [3, 4] and len(metrics._pending) == 4  # asked, not counted on the call's thread
    metrics.record_call(record)  # past the hard bound (no poller thread counted them): the call counts
    assert asked == [3, 4] and not metrics._pending
    assert 'fsroute_calls_total{result="bridged",route=""} 5' in metrics.text()
    metrics.reset()


RULES = """\
version: 1
defaults: {status_ttl: 60}
groups:
  g: {strategy: least_calls, gateways: [gw1, gw2, gw3]}
routes:
  - {name: r, group: g}
"""


def call(path, fake):
    from fsroute.testing import StubSession
    session = StubSession({"destination_number": "100", "network_addr": "127.0.0.1"}, fake=fake)
    route.handler(session, path)
    return session


def test_calls_make_no_api_call_for_gateway_state_even_after_the_ttl(fake_freeswitch, write_rules, clock):
    # Issue 19, defect 2: a call arriving after status_ttl used to wait for a fresh gwlist reading.
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    path = write_rules(RULES)
    process.store_for(path, clock)
    call(path, fake_freeswitch)
    fake_freeswitch.api_calls.clear()
    release = threading.Event()
    fake_freeswitch.answers[GWLIST] = lambda command: release.wait(10) and ""  # the switch's API hangs
    try:
        clock.advance(61)
        for _ in range(5):
            assert call(path, fake_freeswitch).variables["fsroute_result"] == "bridged"
        assert [c for c in fake_freeswitch.api_calls if "gwlist" in c] == []
    finally:
        release.set()


def test_least_calls_reads_the_poller_counts_not_the_backend_per_call(fake_freeswitch, write_rules):
    # Issue 19, defect 3: least_calls ran limit_usage for every member on every call.
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    fake_freeswitch.answers["limit_usage hash fsroute fsroute.gw.gw1"] = "4"
    fake_freeswitch.answers["limit_usage hash fsroute fsroute.gw.gw2"] = "1"
    fake_freeswitch.answers["limit_usage hash fsroute fsroute.gw.gw3"] = RuntimeError("redis gone")
    path = write_rules(RULES)
    sessions = [call(path, fake_freeswitch) for _ in range(20)]
    usage_calls = [c for c in fake_freeswitch.api_calls if c.startswith("limit_usage")]
    assert sorted(usage_calls) == ["limit_usage hash fsroute fsroute.gw.%s" % g for g in ("gw1", "gw2", "gw3")]
    # gw3's count is unknown (0): it goes first; then each call started counts until the next reading
    picks = [s.variables["fsroute_gateway"] for s in sessions]
    assert picks[:3] == ["gw3", "gw2", "gw3"] and picks.count("gw1") < picks.count("gw2") < picks.count("gw3")
    warnings = [line for line in fake_freeswitch.log_lines("warning") if "limit_usage" in line]
    assert len(warnings) == 1 and "redis gone" in warnings[0]


def test_an_attempt_refused_at_its_limit_is_not_counted_by_least_calls(fake_freeswitch, write_rules):
    # gw1 is full (another channel holds its one call): its attempt is refused by the limit and
    # never dialled, so least_calls must not count it as a call this switch started on gw1.
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    fake_freeswitch.limits.counts[("hash", "fsroute_fsroute.gw.gw1")] = 1
    fake_freeswitch.answers["limit_usage hash fsroute fsroute.gw.gw1"] = "0"  # read before that call came
    path = write_rules(RULES.replace("gateways: [gw1, gw2, gw3]", "gateways: [gw1, gw2]")
                       .replace("routes:", "gateways:\n  gw1: {max_calls: 1}\nroutes:"))
    session = call(path, fake_freeswitch)
    assert session.variables["fsroute_gateway"] == "gw2"
    assert [data.split()[2] for app, data in session.executed if app == "limit_execute"] == \
        ["fsroute.gw.gw1", "fsroute.gw.gw2"]
    counted = "hash fsroute fsroute.gw.%s"
    assert [process.poller().count(counted % g) for g in ("gw1", "gw2")] == [0, 1]


def test_a_gateway_back_up_after_an_unreadable_reading_is_announced_up_once(fake_freeswitch):
    # the change was worked out against the reading just before, unusable ('Invalid Profile' while the
    # profile restarts): no "up" line, event or count; a gateway still down was announced down again
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2", "gw3"])
    poller = Poller(start=no_thread)
    poller.watch("a.yaml", ["external"], [], period=60, timeout=1)
    fake_freeswitch.answers[GWLIST] = "Invalid Profile [external]"
    poller.poll()
    del fake_freeswitch.answers[GWLIST]
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"], down=["gw3"])
    poller.poll()
    assert not poller.is_down("external", "gw2")
    events = [(e["fsroute-gateway"], e["fsroute-state"], e["fsroute-previous-state"])
              for e in fake_freeswitch.fired("fsroute::gateway")]
    assert events == [("gw2", "down", "unknown"), ("gw3", "down", "unknown"), ("gw2", "up", "down")]
