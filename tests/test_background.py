"""Background loads share the GIL finely while they run, and put the switch interval back after."""

import sys
import threading

import pytest

from fsroute.runtime import background


@pytest.fixture
def default_interval():
    """CPython's default switch interval for the test (another test may have left a different one)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield 0.005
    sys.setswitchinterval(before)


def start_load(name):
    """A background load that runs until its event is set; returns (entered, release, interval seen)."""
    entered, release, seen = threading.Event(), threading.Event(), []

    def load():
        seen.append(sys.getswitchinterval())
        entered.set()
        release.wait(10)

    background.start(name, load)
    assert entered.wait(10)
    return release, seen


def finish(name, release):
    release.set()
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(10)


def test_the_switch_interval_is_short_while_any_load_runs_and_restored_after_the_last(default_interval):
    release_first, seen_first = start_load("test-load-1")
    release_second, seen_second = start_load("test-load-2")
    assert seen_first + seen_second == [background.FAST_SWITCH_SECONDS] * 2
    finish("test-load-1", release_first)
    assert sys.getswitchinterval() == background.FAST_SWITCH_SECONDS  # the second load still runs
    finish("test-load-2", release_second)
    assert sys.getswitchinterval() == default_interval


def test_an_interval_someone_else_sets_during_a_load_stands(default_interval):
    release, _ = start_load("test-load-3")
    sys.setswitchinterval(0.002)
    finish("test-load-3", release)
    assert sys.getswitchinterval() == 0.002
