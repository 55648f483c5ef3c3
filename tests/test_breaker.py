"""The breaker's state machine, driven by a number for a clock (no sleeping)."""

import threading

from hypothesis import given, settings, strategies as st

from fsroute.core.breaker import BENCHED, CLOSED, FAILURE, HALF_OPEN, NEUTRAL, SUCCESS, Breaker
from fsroute.core.model import BreakerSettings

SETTINGS = BreakerSettings(failures=3, window=10.0, cooldown=30.0, max_cooldown=100.0)


def fail(breaker, now, times=1):
    for _ in range(times):
        taken = breaker.acquire(now)
        assert taken == CLOSED
        change = breaker.record(FAILURE, now, taken)
    return change


def test_failures_within_the_window_bench_the_gateway_for_the_cooldown():
    b = Breaker(SETTINGS)
    assert fail(b, 0.0, 2) is None
    assert b.available(9.0)
    assert fail(b, 9.0) == "benched for 30s: 3 failures within 10s"
    assert not b.available(9.0) and b.acquire(38.9) is None
    assert b.snapshot(20.0) == (BENCHED, 19.0, 0)
    assert b.snapshot(39.0)[0] == HALF_OPEN


def test_failures_spread_wider_than_the_window_never_bench():
    b = Breaker(SETTINGS)
    for t in range(0, 100, 5):  # one failure every 5 s: at most 2 in any 10 s
        assert fail(b, float(t)) is None
    assert b.snapshot(100.0) == (CLOSED, None, 1)


def test_successes_and_neutral_ends_do_not_bench():
    b = Breaker(SETTINGS)
    for t in range(20):
        taken = b.acquire(float(t))
        assert b.record(SUCCESS if t % 2 else NEUTRAL, float(t), taken) is None
    assert b.available(20.0)


def test_half_open_lets_one_probe_through_and_its_success_closes():
    b = Breaker(SETTINGS)
    fail(b, 0.0, 3)
    assert b.acquire(30.0) == HALF_OPEN
    assert not b.available(30.0) and b.acquire(30.0) is None  # one probe at a time
    assert b.record(SUCCESS, 31.0, HALF_OPEN) == "closed: the probe call succeeded"
    assert b.acquire(31.0) == CLOSED and b.snapshot(31.0) == (CLOSED, None, 0)
    assert fail(b, 40.0, 3) == "benched for 30s: 3 failures within 10s"  # cooldown back at its base


def test_failed_probes_double_the_cooldown_up_to_max_cooldown():
    b = Breaker(SETTINGS)
    fail(b, 0.0, 3)
    now, seen = 0.0, []
    for _ in range(4):
        _, left, _ = b.snapshot(now)
        now += left
        assert b.acquire(now) == HALF_OPEN
        seen.append(b.record(FAILURE, now, HALF_OPEN))
    assert seen == ["benched for 60s: the probe call failed", "benched for 100s: the probe call failed",
                    "benched for 100s: the probe call failed", "benched for 100s: the probe call failed"]


def test_a_neutral_probe_frees_the_slot_without_deciding():
    b = Breaker(SETTINGS)
    fail(b, 0.0, 3)
    assert b.acquire(30.0) == HALF_OPEN
    assert b.record(NEUTRAL, 30.5, HALF_OPEN) is None
    assert b.acquire(30.5) == HALF_OPEN


def test_a_call_started_before_the_bench_does_not_count_after_it():
    b = Breaker(SETTINGS)
    early = b.acquire(0.0)
    fail(b, 1.0, 3)
    assert b.record(FAILURE, 2.0, early) is None  # late news of the old failure: bench unchanged
    assert b.snapshot(2.0) == (BENCHED, 29.0, 0)
    assert b.acquire(31.0) == HALF_OPEN
    assert b.record(SUCCESS, 31.0, early) is None  # nor may it close the breaker for the probe
    assert b.snapshot(31.0)[0] == HALF_OPEN and b.acquire(31.0) is None


def test_sixteen_threads_bench_once_and_let_one_probe_through():
    b = Breaker(BreakerSettings(failures=100, window=10.0, cooldown=30.0, max_cooldown=60.0))
    changes, probes = [], []
    start = threading.Barrier(16)

    def worker():
        start.wait()
        for _ in range(50):
            taken = b.acquire(1.0)
            if taken is not None:
                change = b.record(FAILURE, 1.0, taken)
                if change:
                    changes.append(change)
        start.wait()
        taken = b.acquire(40.0)
        if taken is not None:
            probes.append(taken)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert changes == ["benched for 30s: 100 failures within 10s"]
    assert probes == [HALF_OPEN]

STEPS = st.lists(st.one_of(
    st.tuples(st.just("wait"), st.floats(0.0, 40.0)),
    st.tuples(st.just("acquire"), st.just(None)),
    st.tuples(st.just("end"), st.sampled_from((SUCCESS, FAILURE, NEUTRAL))),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_any_sequence_keeps_the_bounds(steps):
    """However calls come and go: one probe at most, benches between cooldown and max_cooldown."""
    b = Breaker(SETTINGS)
    now, out = 0.0, []  # out: what acquire gave the calls still in progress
    for op, arg in steps:
        if op == "wait":
            now += arg
        elif op == "acquire":
            taken = b.acquire(now)
            if taken is not None:
                out.append(taken)
        elif out:
            change = b.record(arg, now, out.pop(0))
            if change is not None and change.startswith("benched for "):
                seconds = float(change.split()[2].rstrip("s:"))
                assert SETTINGS.cooldown <= seconds <= SETTINGS.max_cooldown
        assert out.count(HALF_OPEN) <= 1
        state, left, recent = b.snapshot(now)
        assert recent < SETTINGS.failures
        assert left is None or 0 < left <= SETTINGS.max_cooldown
        if state == HALF_OPEN:  # available only while no call holds the probe
            assert b.available(now) == (HALF_OPEN not in out)
        else:
            assert b.available(now) == (state == CLOSED)
