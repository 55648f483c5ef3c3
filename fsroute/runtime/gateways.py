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

import re
import threading
import time

from cachetools import TTLCache

from . import events, metrics
from .fslog import WARNING, api, log
from fsroute.core.text import describe_error, one_line

# sofia's gateway names: ^[\w.\-_]+$ (mod_sofia parse_gateways)
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
_NOT_A_LIST = ("Invalid Profile", "-ERR", "-USAGE", "+OK")


def parse_gwlist(text):
    """The DOWN gateways in a gwlist answer, or None when it is not such an answer."""
    if not isinstance(text, str) or text.startswith(_NOT_A_LIST):
        return None
    names = text.split()
    if not all(_NAME_RE.match(n) for n in names):
        return None
    return frozenset(names)


def _describe_answer(answer):
    if isinstance(answer, str):
        return "'%s'" % one_line(answer)
    return "a %s, not text" % type(answer).__name__


class _Reading:
    __slots__ = ("started", "done", "result")

    def __init__(self):
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result = None


class GatewayStates:
    """Cached gwlist readings per profile; safe to share between call threads."""

    def __init__(self, ttl=2.0, timeout=0.5, run_api=api):
        self.ttl = ttl
        self.timeout = timeout
        self._run_api = run_api
        self._cache = TTLCache(maxsize=256, ttl=ttl)
        self._pending = {}
        self._last = {}  # profile -> (reading, when): for status, kept past the TTL
        self._known_down = {}  # profile -> the newest usable reading: what state changes are seen against
        self._lock = threading.Lock()

    def down(self, profile):
        """frozenset of DOWN gateway names of ``profile``, or None when unknown."""
        with self._lock:
            cached = self._cache.get(profile, self)
            if cached is not self:
                return cached
            reading = self._pending.get(profile)
            if reading is None:
                reading = self._pending[profile] = _Reading()
                threading.Thread(target=self._read, args=(profile, reading),
                                 name="fsroute-gwlist", daemon=True).start()
            elif time.monotonic() - reading.started > self.timeout:
                return None  # still hung from an earlier call: do not wait again
        if reading.done.wait(self.timeout):
            return reading.result
        with self._lock:
            first = self._pending.get(profile) is reading and profile not in self._cache
            if first:
                self._cache[profile] = None
                self._last[profile] = (None, time.time())
        if first:
            log(WARNING, "fsroute: 'sofia profile %s gwlist down' did not answer within %gs; "
                "taking its gateways as up" % (profile, self.timeout))
        return None

    def _read(self, profile, reading):
        command = "sofia profile %s gwlist down" % profile
        result = None
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
                self._cache[profile] = result
                self._last[profile] = (result, time.time())
                if self._pending.get(profile) is reading:
                    del self._pending[profile]
            reading.result = result
            reading.done.set()
        with self._lock:
            changes = self._changes(profile, result)
        _announce(profile, changes)

    def _changes(self, profile, down):
        """[(gateway, new state, previous state)] since the last usable reading; call with the lock held.

        gwlist names only the DOWN gateways: a gateway is first seen when it
        goes down (previous state "unknown" on a profile's first reading), and
        goes "up" when it leaves the list. An unusable reading changes nothing.
        """
        if down is None:
            return []
        before = self._known_down.get(profile)
        self._known_down[profile] = down
        went_down = [(name, "down", "up" if before is not None else "unknown")
                     for name in sorted(down - (before or frozenset()))]
        return went_down + [(name, "up", "down") for name in sorted((before or frozenset()) - down)]

    def last_readings(self):
        """{profile: (frozenset or None, time.time() of the reading)}: the newest reading of each profile."""
        with self._lock:
            return dict(self._last)


def _announce(profile, changes):
    """Count and fire an fsroute::gateway event per state change; never raises."""
    for gateway, state, previous in changes:
        try:
            metrics.GATEWAY_CHANGES.inc(gateway, profile, state)
        except Exception:
            pass
        events.fire(events.GATEWAY, events.gateway_headers(gateway, profile, state, previous))


_shared = {}
_shared_lock = threading.Lock()


def states_for(defaults):
    """The GatewayStates shared by every rules file with these TTL and timeout settings."""
    key = (defaults.status_ttl, defaults.status_timeout)
    states = _shared.get(key)
    if states is None:
        with _shared_lock:
            states = _shared.setdefault(key, GatewayStates(*key))
    return states


def forget_all():
    """Drop every cached reading (tests and simulations start from a clean switch)."""
    with _shared_lock:
        _shared.clear()
