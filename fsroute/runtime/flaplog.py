"""Gateway state changes in the log, rate-limited: a gateway flapping UP/DOWN every few seconds must
not flood the switch's log (issue 21).

Each change of one gateway is one log line until BURST lines were logged for it within WINDOW
seconds. Its next change logs one line saying it flaps; from then on its changes are held back and
one line per WINDOW says the state it is in and how many changes were not logged, until a whole
WINDOW passes without a change. The metrics and the ``fsroute::gateway`` events still count every
change: only the log is limited.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Deque, Dict, Tuple

from .fslog import INFO, WARNING, log

BURST = 4        # change lines per gateway within WINDOW before it counts as flapping
WINDOW = 60.0    # seconds

# (gateway, profile)
Key = Tuple[str, str]


class _Held:
    """What one flapping gateway did since its last line: how many changes, and its state now."""

    __slots__ = ("count", "state", "since")

    def __init__(self, since: float) -> None:
        self.count = 0
        self.state = ""
        self.since = since  # monotonic time of the last line about it


class ChangeLog:
    """Logs gateway state changes, at most BURST per gateway per WINDOW, then one summary per WINDOW.
    ``monotonic`` is injectable; safe to call from several threads."""

    def __init__(self, monotonic: Callable[[], float], burst: int = BURST, window: float = WINDOW) -> None:
        self._monotonic = monotonic
        self._burst = burst
        self._window = window
        self._logged: Dict[Key, Deque[float]] = {}   # when recent change lines of each gateway went out
        self._held: Dict[Key, _Held] = {}
        self._lock = threading.Lock()

    def change(self, gateway: str, profile: str, state: str, previous: str) -> None:
        """One change of ``gateway``: its line now, or held back while it flaps."""
        key = (gateway, profile)
        now = self._monotonic()
        with self._lock:
            held = self._held.get(key)
            recent = self._logged.setdefault(key, collections.deque())
            while recent and now - recent[0] >= self._window:
                recent.popleft()
            if held is None and len(recent) < self._burst:
                recent.append(now)
                level = WARNING if previous == "up" else INFO
                line = "fsroute: gateway %s (%s) is %s (was %s)" % (gateway, profile, state, previous)
            elif held is None:
                level = WARNING
                held = self._held[key] = _Held(now)
                line = ("fsroute: gateway %s (%s) is flapping (%d changes in %gs): is %s now; its state is "
                        "logged once per %gs while it changes (metrics and events count every change)"
                        % (gateway, profile, self._burst + 1, self._window, state, self._window))
            else:
                held.count += 1
                held.state = state
                return
        log(level, line)

    def flush(self) -> None:
        """Say, once per WINDOW, the state of each gateway whose changes were held back; a gateway
        that did not change for a whole WINDOW is logged change by change again."""
        now = self._monotonic()
        lines = []
        with self._lock:
            for key, held in list(self._held.items()):
                if now - held.since < self._window:
                    continue
                if held.count:
                    lines.append((held.state, "fsroute: gateway %s (%s) is %s (%d changes not logged in the "
                                  "last %gs)" % (key[0], key[1], held.state, held.count, now - held.since)))
                    held.count, held.since = 0, now
                else:
                    del self._held[key]
                    self._logged.pop(key, None)
        for state, line in lines:
            log(WARNING if state == "down" else INFO, line)
