"""Building a big rule set without full passes of the cyclic garbage collector.

A full (oldest-generation) pass walks every tracked object of the process
while holding the GIL: 30-80 ms with a 100,000-route rule set in memory,
and a parse allocates enough to start several. Inside FreeSWITCH every call
thread waits through each one. While rules, decks or tables are built, only the young
generations are collected (they stay short); the oldest is left for later.
The collector stays enabled throughout.

What a full pass still walks is every object alive: the interpreter's own
(its modules, classes and functions: 25,000 or so, 15-20 ms a pass on a
shared machine) as well as the rules. Those never become garbage, so the
runtime takes them out of the collector's sight once, when the call handler
is first imported (``leave_loaded_objects_out``).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

_lock = threading.Lock()
_builds = 0                                  # builds under way (several rules files may load at once)
_saved: Optional[Tuple[int, int, int]] = None  # the thresholds before the first of them
_NEVER = 2 ** 30                               # young passes between full ones: none while building


def leave_loaded_objects_out() -> None:
    """Collect, then freeze every object alive now (gc.freeze): later full passes skip them.

    Frozen objects are still freed when nothing refers to them; only a cycle
    among them would never be collected, and what is alive when fsroute is first
    imported (modules, classes, functions) lives as long as the interpreter.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def young_collections_only() -> Iterator[None]:
    """No full collection starts inside the block; the thresholds are put back when the last build ends."""
    global _builds, _saved
    with _lock:
        if _builds == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], _NEVER)
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _saved is not None:
                gc.set_threshold(*_saved)
