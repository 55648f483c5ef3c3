"""The clocks the runtime reads (cachetools' ``timer=`` idea): tests pass one they move by hand."""

from __future__ import annotations

import time


class SystemClock:
    """Monotonic time for intervals and TTLs, wall time for what operators read."""

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)


SYSTEM_CLOCK = SystemClock()
