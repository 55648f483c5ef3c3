"""Which gateways are down: ``sofia profile <p> gwlist down``, read at most once per TTL.

A reading that fails (an exception, ``Invalid Profile [p]``, ``-ERR ...``,
anything that is not a list of names, no answer within the timeout) means
"unknown": every gateway of that profile is taken as up, since FreeSWITCH
refuses a really-down gateway with GATEWAY_DOWN and failover carries on.
Unknown readings are cached like good ones, so the warning about them is
written once per TTL, not once per call.

Readings run in a worker thread that callers wait on for at most
``timeout`` seconds. Inside FreeSWITCH ``API.executeString`` keeps the GIL
while it runs, so a hung command still stalls Python there; the bound holds
for anything that releases the GIL.
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from . import events, metrics
from .clock import SYSTEM_CLOCK, SystemClock
from .fslog import WARNING, api, log
from fsroute.core.text import describe_error, one_line

# sofia's gateway names: ^[\w.\-_]+$ (mod_sofia parse_gateways)
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
_NOT_A_LIST = ("Invalid Profile", "-ERR", "-USAGE", "+OK")

# One gateway state change: (gateway, new state, previous state); states are "up", "down", "unknown".
Change = Tuple[str, str, str]


def parse_gwlist(text: object) -> Optional[FrozenSet[str]]:
    """The DOWN gateways in a gwlist answer, or None when it is not such an answer."""
    if not isinstance(text, str) or text.startswith(_NOT_A_LIST):
        return None
    names = text.split()
    if not all(_NAME_RE.match(n) for n in names):
        return None
    return frozenset(names)


def _describe_answer(answer: object) -> str:
    if isinstance(answer, str):
        return "'%s'" % one_line(answer)
    return "a %s, not text" % type(answer).__name__


class _Reading:
    __slots__ = ("started", "done", "result")

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = threading.Event()
        self.result: Optional[FrozenSet[str]] = None


class GatewayStates:
    """Cached gwlist readings per profile, owned by one loaded rule set; safe to share between call threads.

    At most one reading per profile runs at a time; a reading is reused for
    ``ttl`` seconds by the ``clock``'s monotonic time.
    """

    def __init__(self, ttl: float = 2.0, timeout: float = 0.5, run_api: Callable[[str], object] = api,
                 clock: SystemClock = SYSTEM_CLOCK, announce: bool = True) -> None:
        self.ttl = ttl
        self.announce = announce  # count and fire gateway state changes (off for a tool's private readings)
        self.timeout = timeout
        self._run_api = run_api
        self._clock = clock
        self._fresh: Dict[str, Tuple[Optional[FrozenSet[str]], float]] = {}  # profile -> (reading, expiry)
        self._pending: Dict[str, _Reading] = {}
        self._last: Dict[str, Tuple[Optional[FrozenSet[str]], float]] = {}  # profile -> (reading, when), kept
        # past the TTL for status
        # profile -> the newest usable reading: what gateway state changes are seen against
        self._known_down: Dict[str, FrozenSet[str]] = {}
        self._lock = threading.Lock()

    def down(self, profile: str) -> Optional[FrozenSet[str]]:
        """frozenset of DOWN gateway names of ``profile``, or None when unknown."""
        fresh = self._fresh.get(profile)
        now = self._clock.monotonic()
        if fresh is not None and now < fresh[1]:
            return fresh[0]
        with self._lock:
            reading = self._pending.get(profile)
            if reading is None:
                reading = self._pending[profile] = _Reading(now)
                # in this call's context: a simulated call's reading asks its emulated switch (fslog.talking_to)
                threading.Thread(target=contextvars.copy_context().run, args=(self._read, profile, reading),
                                 name="fsroute-gwlist", daemon=True).start()
            elif now - reading.started > self.timeout:
                return None  # still hung from an earlier call: do not wait again
        if reading.done.wait(self.timeout):
            return reading.result
        with self._lock:
            first = self._pending.get(profile) is reading and profile not in self._fresh
            if first:
                self._record(profile, None)  # unknown: no state change to announce
        if first:
            log(WARNING, "fsroute: 'sofia profile %s gwlist down' did not answer within %gs; "
                "taking its gateways as up" % (profile, self.timeout))
        return None

    def _record(self, profile: str, result: Optional[FrozenSet[str]]) -> List[Change]:
        """Keep a reading for the TTL (the caller holds the lock); returns the gateway state changes it shows.

        gwlist names only the DOWN gateways: a gateway is first seen when it
        goes down (previous state "unknown" on a profile's first reading), and
        goes "up" when it leaves the list. An unusable reading changes nothing.
        The caller announces the changes (``_announce``) once it has let go of the lock.
        """
        self._fresh[profile] = (result, self._clock.monotonic() + self.ttl)
        self._last[profile] = (result, self._clock.time())
        if result is None:
            return []
        before = self._known_down.get(profile)
        self._known_down[profile] = result
        went_down = [(name, "down", "up" if before is not None else "unknown")
                     for name in sorted(result - (before or frozenset()))]
        return went_down + [(name, "up", "down") for name in sorted((before or frozenset()) - result)]

    def _read(self, profile: str, reading: _Reading) -> None:
        command = "sofia profile %s gwlist down" % profile
        result = None
        changes: List[Change] = []
        try:
            answer = self._run_api(command)
            result = parse_gwlist(answer)
            if result is None:
                log(WARNING, "fsroute: %r answered %s; taking its gateways as up"
                    % (command, _describe_answer(answer)))
        except Exception as exc:  # the API is outside our control: never let it escape
            try:
                log(WARNING, "fsroute: %r failed (%s); taking its gateways as up"
                    % (command, describe_error(exc, 80)))
            except Exception:
                pass  # even logging failed: the reading below must still be recorded
        finally:
            # Always record the reading and wake the waiters, or this profile's
            # pending entry would stay forever and nobody would read it again.
            with self._lock:
                changes = self._record(profile, result)
                if self._pending.get(profile) is reading:
                    del self._pending[profile]
            reading.result = result
            reading.done.set()
        if self.announce:
            _announce(profile, changes)  # after the waiters are woken: events never hold up a call

    def last_readings(self) -> Dict[str, Tuple[Optional[FrozenSet[str]], float]]:
        """{profile: (frozenset or None, time.time() of the reading)}: the newest reading of each profile."""
        with self._lock:
            return dict(self._last)


def _announce(profile: str, changes: List[Change]) -> None:
    """Count and fire an fsroute::gateway event per state change; never raises."""
    for gateway, state, previous in changes:
        try:
            metrics.GATEWAY_CHANGES.inc(gateway, profile, state)
        except Exception:
            pass
        events.fire(events.GATEWAY, events.gateway_headers(gateway, profile, state, previous))

