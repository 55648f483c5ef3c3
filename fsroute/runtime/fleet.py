"""A fleet's fraud counts and blocks on its Redis, through FreeSWITCH's ``hiredis_raw`` API.

No Redis client in Python: mod_hiredis, the one the fleet's ``limit``
counts already use, through ``hiredis_raw <profile> <command>``. Calls only
queue what they counted; one background thread per profile sends it:

- a windowed count: ``INCRBYFLOAT <profile>.fraud.<rule>.<key>.<measure>.<window> <amount>`` (the
  key expires after two windows); the level is judged on the total it answers, the fleet's;
- a block: ``APPEND <profile>.fraud.blocks "rule|key|until;"`` (a lift appends until 0);
  every second the thread reads that key and takes in what other switches appended.

When a command fails (Redis unreachable: mod_hiredis answers an error), the
level is judged on this switch's own count instead, one WARNING says so,
and one NOTICE when Redis answers again: a switch keeps protecting itself.
"""

from __future__ import annotations

import queue
import threading
import time
from functools import partial
from typing import Any, Callable, Optional, Tuple

from fsroute.core import fraud as decide
from fsroute.core.model import FraudRule
from . import background
from .fslog import NOTICE, WARNING, api, log, survive, switch_running

POLL_SECONDS = 1.0
RETRY_SECONDS = 5.0  # after a failure, Redis is tried again this much later (the API holds the GIL while it waits)


class RedisFleet:
    """The fleet sharing one hiredis profile's Redis. ``run_api``: FreeSWITCH's API (injectable)."""

    def __init__(self, profile: str, state: Any, on_reached: Callable[..., None], run_api: Callable[[str], str] = api,
                 start: Callable[[Callable[[], None]], None] = lambda target: background.start_plain(
                     "fsroute-fraud-fleet", target)) -> None:
        self.profile = profile
        self.state = state
        self.on_reached = on_reached  # fraud.level_reached: the warning or block, shared back with the fleet
        self.run_api = run_api
        self.blocks_key = "%s.fraud.blocks" % profile
        self.healthy = True
        self._queue: "queue.SimpleQueue[Tuple[Any, ...]]" = queue.SimpleQueue()
        self._seen = 0  # how much of the blocks key was taken in
        self._retry_at = 0.0
        self._started = False
        self._start_failed = False  # the last try to start the thread failed (logged once until one works)
        self._start = start
        self._lock = threading.Lock()

    # -- what calls do (queue only) ------------------------------------------------------
    def count(self, rule: FraudRule, key: str, measure: str, amount: float, now: float,
              local: Tuple[float, float]) -> bool:
        """Queue a count for the fleet, which judges its levels; False: no thread to send it (none could be
        started), so the caller judges them on this switch's counts."""
        return self._put(("count", rule, key, measure, amount, now, local))

    def announce(self, rule: str, key: str, until: float) -> None:
        self._put(("block", rule, key, until))

    def lift(self, rule: str, key: str) -> None:
        self._put(("block", rule, key, 0.0))

    def _put(self, item: Tuple[Any, ...]) -> bool:
        if not self._ensure_started():
            return False  # not queued: nothing would ever send it
        self._queue.put(item)
        return True

    def _ensure_started(self) -> bool:
        """Whether the thread runs, started now if need be; a start that fails is tried again next time."""
        if not self._started:
            with self._lock:
                if not self._started:
                    try:
                        self._start(self.run)
                    except Exception as exc:  # no thread to be had: the calls judge on local counts
                        if not self._start_failed:
                            self._start_failed = True
                            log(WARNING, "fsroute: cannot start the fraud fleet thread (hiredis profile %s: %s); "
                                "judging levels on this switch's own counts" % (self.profile, exc))
                        return False
                    self._started, self._start_failed = True, False
        return True

    # -- the thread ------------------------------------------------------------------------
    def run(self) -> None:
        next_poll = 0.0
        while switch_running():
            try:
                item: Optional[Tuple[Any, ...]] = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                item = None
            # one bad item or answer (another switch's malformed block entry) must not end the thread
            failed = "the fraud fleet thread (hiredis profile %s) failed a step" % self.profile
            if item is not None:
                survive(failed, partial(self.handle, item))
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
                survive(failed, self.poll)

    def handle(self, item: Tuple[Any, ...]) -> None:
        """Send one queued count or block (the thread; tests call it directly)."""
        if item[0] == "count":
            _, rule, key, measure, amount, now, local = item
            name = "%s.fraud.%s.%s.%s.%d" % (self.profile, rule.name, key, measure, decide.window_of(rule, now))
            total = self._number(self._redis("INCRBYFLOAT %s %s" % (name, _amount(amount))))
            if total is not None and abs(total - amount) < 1e-6:
                self._redis("EXPIRE %s %d" % (name, int(rule.window * 2)))
            before, after = (total - amount, total) if total is not None else local
            for reached in decide.reached(rule, key, measure, before, after):
                self.on_reached(rule, reached, now, self)
        else:
            _, rule_name, key, until = item
            answer = self._redis("APPEND %s %s|%s|%d;" % (self.blocks_key, rule_name, key, until))
            if self._number(answer) is not None:
                self._redis("EXPIRE %s %d" % (self.blocks_key, 86400 * 7))

    def poll(self) -> None:
        """Take in the blocks and lifts other switches appended since the last look."""
        text = self._redis("GET %s" % self.blocks_key, numeric=False)  # no key yet: ""
        if not text:
            return
        if len(text) < self._seen:
            self._seen = 0  # the key expired or was rewritten: read it all again
        fresh, self._seen = text[self._seen:], len(text)
        now = self.state.clock()
        for entry in fresh.split(";"):
            parts = entry.strip().split("|")
            if len(parts) != 3 or not parts[2].isdigit():
                continue
            rule, key, until = parts[0], parts[1], int(parts[2])
            if until == 0:
                if rule == "*":
                    self.state.unblock(key)
                else:
                    self.state.lift(rule, key)
            elif until > now and self.state.block(rule, key, until, "blocked by another switch of the fleet"):
                log(WARNING, "fsroute: fraud %s of %s blocked by the fleet until %s"
                    % (rule, key, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(until))))

    def _redis(self, command: str, numeric: bool = True) -> Optional[str]:
        """The answer of one Redis command, or None when it failed (logged once until it works again).

        mod_hiredis answers nothing usable when a command fails (it logs why), and nothing for a nil
        reply either: a command that answers a number (INCRBYFLOAT, APPEND, EXPIRE) failed unless it
        did; ``GET`` (``numeric`` False) may answer anything. After a failure nothing is sent for
        RETRY_SECONDS: ``hiredis_raw`` holds Python's GIL while it waits for an unreachable server, and
        every call thread would wait with it."""
        if not self.healthy and time.monotonic() < self._retry_at:
            return None
        try:
            answer: Optional[str] = self.run_api("hiredis_raw %s %s" % (self.profile, command))
        except Exception as exc:
            answer, why = None, str(exc)
        else:
            why = (answer or "").strip()[:200] or "no answer; the switch's log says why"
            if answer is None or answer.startswith("-") or (numeric and self._number(answer) is None):
                answer = None
        if answer is None:
            self.unreachable(why)
        elif not self.healthy:
            self.healthy = True
            log(NOTICE, "fsroute: fraud counts reach Redis again (hiredis profile %s)" % self.profile)
        return answer

    def unreachable(self, why: str) -> None:
        """Redis failed a command (this thread's, or a call's ``limit`` count): judge on this switch's own
        counts, and try Redis again RETRY_SECONDS later (logged once until it answers)."""
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if self.healthy:
            self._ensure_started()  # its reading of the blocks finds out when Redis answers again
            self.healthy = False
            log(WARNING, "fsroute: fraud counts cannot reach Redis (hiredis profile %s: %r); judging levels "
                "on this switch's own counts" % (self.profile, why))

    @staticmethod
    def _number(text: Optional[str]) -> Optional[float]:
        try:
            return float((text or "").strip())
        except ValueError:
            return None


def _amount(value: float) -> str:
    return ("%.6f" % value).rstrip("0").rstrip(".") or "0"
