"""Background loads (the rules file, rate decks) that leave the call threads their turn at the GIL.

A load is pure Python for seconds. A call thread that wants the GIL
meanwhile waits for CPython's switch interval (5 ms by default) at every
hand-over, and a call needs the GIL several times (entering Python, after
each FreeSWITCH application). While any background load runs, the switch
interval is FAST_SWITCH_SECONDS: in the real switch, calls set up while a
million-row deck reloaded took 7 ms more at the median instead of 13 ms
(benchmarks/lcr_switch.py). The interval is put back when the last load
ends, unless something else changed it meanwhile (then that change stands).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

FAST_SWITCH_SECONDS = 0.001

_lock = threading.Lock()
_running = 0
_saved_interval = 0.0  # the interval before the first running load set ...
_set_interval = 0.0    # ... this one


def start(name: str, target: Callable[..., None], *args: Any) -> None:
    """Run ``target(*args)`` in a daemon thread named ``name``, sharing the GIL finely while it runs."""
    threading.Thread(target=_run, args=(target, args), name=name, daemon=True).start()


def start_plain(name: str, target: Callable[[], None]) -> None:
    """Run ``target()`` in a daemon thread named ``name`` that leaves the switch interval alone (a
    thread that lives as long as the process, such as the gateway poller)."""
    threading.Thread(target=target, name=name, daemon=True).start()


def _run(target: Callable[..., None], args: Any) -> None:
    global _running, _saved_interval, _set_interval
    with _lock:
        if _running == 0:
            _saved_interval = sys.getswitchinterval()
            _set_interval = min(_saved_interval, FAST_SWITCH_SECONDS)
            sys.setswitchinterval(_set_interval)
        _running += 1
    try:
        target(*args)
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and sys.getswitchinterval() == _set_interval:
                sys.setswitchinterval(_saved_interval)
