"""The circuit breaker of one gateway: closed, benched (open) until a time, half-open.

Pure: every method takes ``now`` (seconds on a monotonic clock), so tests
drive it with a number and the runtime passes ``time.monotonic()``.

- closed: every call may use the gateway; ``failures`` failures within
  ``window`` seconds bench it for the current cooldown;
- benched: no call uses it until the cooldown has passed;
- half-open: after the cooldown ONE call at a time (the probe) may use it.
  The probe's success closes the breaker and resets the cooldown; its
  failure benches the gateway again with the cooldown doubled, never beyond
  ``max_cooldown``; a neutral end (the caller hung up) frees the probe slot.

Outcomes are "success" (the gateway answered the call with anything that is
not a failover cause: 200, busy, no answer...), "failure" (a failover cause)
or "neutral" (says nothing about the gateway).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Deque, Optional, Tuple

if TYPE_CHECKING:
    from .model import BreakerSettings

CLOSED, BENCHED, HALF_OPEN = "closed", "benched", "half-open"
SUCCESS, FAILURE, NEUTRAL = "success", "failure", "neutral"


class Breaker:
    """One gateway's breaker; safe to share between call threads."""

    def __init__(self, settings: BreakerSettings) -> None:
        self.settings = settings
        self._failures: Deque[float] = deque()  # times of the failures inside the window (closed state)
        self._benched_until: Optional[float] = None  # set while benched or half-open
        self._cooldown = settings.cooldown
        self._probe_out = False
        self._lock = threading.Lock()

    def _state(self, now: float) -> str:
        if self._benched_until is None:
            return CLOSED
        return BENCHED if now < self._benched_until else HALF_OPEN

    def available(self, now: float) -> bool:
        """Whether a call may pick this gateway now (does not take the probe slot)."""
        with self._lock:
            state = self._state(now)
            return state == CLOSED or (state == HALF_OPEN and not self._probe_out)

    def acquire(self, now: float) -> Optional[str]:
        """Take the gateway for one attempt: CLOSED (a normal call), HALF_OPEN (this call is the
        probe) or None (benched, or another call holds the probe). Pass it back to ``record``."""
        with self._lock:
            state = self._state(now)
            if state == CLOSED:
                return CLOSED
            if state == HALF_OPEN and not self._probe_out:
                self._probe_out = True
                return HALF_OPEN
            return None

    def record(self, outcome: str, now: float, taken: Optional[str]) -> Optional[str]:
        """Account one attempt's outcome (``taken``: what ``acquire`` gave it).

        Returns a description of the state change, or None.
        """
        with self._lock:
            state = self._state(now)
            if taken != HALF_OPEN:
                if state != CLOSED or outcome != FAILURE:
                    return None  # not a failure, or a call that started before the bench
                failures = self._failures
                failures.append(now)
                while failures and failures[0] <= now - self.settings.window:
                    failures.popleft()
                if len(failures) < self.settings.failures:
                    return None
                return self._bench(now, "%d failures within %gs" % (len(failures), self.settings.window))
            self._probe_out = False
            if outcome == SUCCESS:
                self._benched_until = None
                self._cooldown = self.settings.cooldown
                self._failures.clear()
                return "closed: the probe call succeeded"
            if outcome == FAILURE:
                self._cooldown = min(self._cooldown * 2, self.settings.max_cooldown)
                return self._bench(now, "the probe call failed")
            return None

    def _bench(self, now: float, why: str) -> str:
        self._benched_until = now + self._cooldown
        self._failures.clear()
        return "benched for %gs: %s" % (self._cooldown, why)

    def snapshot(self, now: float) -> Tuple[str, Optional[float], int]:
        """(state, seconds until the bench ends or None, failures in the window) for status."""
        with self._lock:
            state = self._state(now)
            left = self._benched_until - now if state == BENCHED and self._benched_until is not None else None
            recent = sum(1 for t in self._failures if t > now - self.settings.window)
            return state, left, recent
