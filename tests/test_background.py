"""Background loads share the GIL finely while they run, and put the switch interval back after."""

import sys
import threading

from fsroute.runtime import background


def test_the_switch_interval_is_short_while_any_load_runs_and_restored_after_the_last():
    original = sys.getswitchinterval()
    first_in, second_in, release_first, release_second = (threading.Event() for _ in range(4))
    seen = []

    def load(entered, release):
        entered.set()
        seen.append(sys.getswitchinterval())
        release.wait(10)

    background.start("test-load-1", load, first_in, release_first)
    background.start("test-load-2", load, second_in, release_second)
    assert first_in.wait(10) and second_in.wait(10)
    assert seen == [background.FAST_SWITCH_SECONDS] * 2
    release_first.set()
    _wait_for_threads("test-load-1")
    assert sys.getswitchinterval() == background.FAST_SWITCH_SECONDS  # the second load still runs
    release_second.set()
    _wait_for_threads("test-load-2")
    assert sys.getswitchinterval() == original


def _wait_for_threads(name):
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(10)
