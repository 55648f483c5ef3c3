"""FreeSWITCH's ``limit`` backends (mod_hash, mod_hiredis) as the emulated switch counts them."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from .session import StubSession

class EmulatedLimits:
    """FreeSWITCH's ``limit`` backends as mod_hash and mod_hiredis count.

    - ``hash``: key ``<realm>_<resource>``; a concurrent limit refuses when
      the count would pass ``max``; a channel counts once per key; a rate
      limit (``max/interval``) counts attempts (refused ones too) in a window
      that restarts with the first attempt after ``interval`` seconds, in whole
      seconds as mod_hash's ``time_t`` does: a window starts at the whole second
      of its first attempt and lasts ``interval - 1`` to ``interval`` seconds.
    - ``hiredis``: key ``<resource>`` (the realm is the hiredis profile and
      not part of it), ``<resource>_<epoch // interval>`` for rate limits;
      INCR (its answer left in ``hiredis_raw_response``), then over ``max`` (a max of 0 or -1, ``-``,
      means no limit, as in mod_hiredis):
      ``hiredis_limit_exceeded=true``, DECR (concurrent) and refuse; a concurrent
      count is held (DECRed at hangup) only when its INCR answered above 0, as
      hiredis_limit_incr does, so a count Redis lost heals as calls come. With
      ``redis_up = False`` every increment fails (the limit is refused
      without ``hiredis_limit_exceeded``) unless ``ignore_connect_fail``.

    Concurrent counts a channel holds are released when it hangs up.
    ``clock`` (epoch seconds) is injectable for rate limits.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.redis_up = True
        self.ignore_connect_fail = False
        self.counts: Dict[Tuple[str, str], int] = {}  # (backend, key) -> concurrent count
        self._rates: Dict[str, List[Any]] = {}  # hash key -> [window start, attempts]
        self._lock = threading.Lock()

    def _key(self, backend: str, realm: Optional[str], resource: str) -> str:
        return resource if backend == "hiredis" else "%s_%s" % (realm, resource)

    def incr(self, session: StubSession, backend: str, realm: str, resource: str, max_calls: int,
             interval: int) -> bool:
        """True when the channel may go on; ``session`` holds what it took until it hangs up."""
        if backend not in ("hash", "hiredis"):
            return False  # switch_limit_incr: no such backend
        key = self._key(backend, realm, resource)
        with self._lock:
            if backend == "hiredis":
                return self._incr_hiredis(session, key, max_calls, interval)
            now = int(self.clock())  # mod_hash: switch_epoch_time_now, a time_t
            held = (backend, key) in session.limits_held
            if interval > 0:
                window = self._rates.setdefault(key, [None, 0])
                if window[0] is None or window[0] <= now - interval:
                    window[:] = [now, 1]
                else:
                    window[1] += 1
                    if max_calls >= 0 and window[1] > max_calls:
                        return False
            elif max_calls >= 0 and self.counts.get((backend, key), 0) + (not held) > max_calls:
                return False
            if not held:
                self.counts[(backend, key)] = self.counts.get((backend, key), 0) + 1
                session.limits_held.append((backend, key))
            session.variables["limit_usage"] = str(self.counts[(backend, key)])
            return True

    def _incr_hiredis(self, session: StubSession, key: str, max_calls: int, interval: int) -> bool:
        if not self.redis_up:
            if not self.ignore_connect_fail:
                session.variables["hiredis_raw_response"] = ""
            return self.ignore_connect_fail
        if interval:
            key = "%s_%d" % (key, int(self.clock()) // interval)
        count = self.counts.get(("hiredis", key), 0) + 1
        self.counts[("hiredis", key)] = count
        session.variables["hiredis_raw_response"] = str(count)  # the INCR's answer
        if max_calls > 0 and count > max_calls:
            session.variables["hiredis_limit_exceeded"] = "true"
            if not interval:
                self.counts[("hiredis", key)] = count - 1
            return False
        if not interval and count > 0:
            session.limits_held.append(("hiredis", key))
        return True

    def release(self, session: StubSession, backend: Optional[str] = None, realm: Optional[str] = None,
                resource: Optional[str] = None) -> None:
        """Give back what ``session`` holds (of one resource, or all of it)."""
        with self._lock:
            for held in list(session.limits_held):
                if resource is None or held == (backend, self._key(backend or "", realm, resource)):
                    session.limits_held.remove(held)
                    if held in self.counts and (held[0] == "hash" or self.redis_up):
                        self.counts[held] -= 1

    def usage(self, backend: str, realm: str, resource: str) -> int:
        """What ``limit_usage`` prints: the concurrent count (hiredis without Redis: -1)."""
        if backend == "hiredis" and not self.redis_up:
            return -1
        with self._lock:
            return self.counts.get((backend, self._key(backend, realm, resource)), 0)
