"""What the switch reports about gateways, read by one background thread and published for calls.

Kamailio's dispatcher keeps one state word per destination, updated by its
prober, and a call only reads it; so does fsroute. One thread per process
(``Poller``) reads ``sofia profile <p> gwlist down`` for every profile a
generation in force names, and ``limit_usage`` for the gateways a
``least_calls`` group counts, every ``status_ttl`` seconds (the smallest of
the generations'), and publishes each reading with one dict assignment.
A call only looks the last reading up: no FreeSWITCH API call on the call
path, and a slow or hung API holds up no call.

A reading is trusted for ``2 * status_ttl + status_timeout`` seconds after it
was taken. An older one (the API hung, the thread died) counts as unknown,
and so does a failed one (an exception, ``Invalid Profile [p]``, ``-ERR``,
anything that is not a list of names): every gateway of that profile is
taken as up, since FreeSWITCH refuses a really-down gateway at once with
GATEWAY_DOWN and failover carries on. A count that cannot be read is 0.
Failures and gateway state changes are logged once per change, not per call,
and the changes of a flapping gateway at most a few per minute (``flaplog``).

A generation registers what it needs (``watch``) while it is built, off the
call path; a profile never read before is read there and then, so a new
generation's first calls see real states.
"""

from __future__ import annotations

import contextvars
import re
import threading
from typing import Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple, TypeVar

from fsroute.core.text import describe_error, one_line
from . import background, events, metrics
from .clock import SYSTEM_CLOCK, SystemClock
from .flaplog import ChangeLog
from .fslog import INFO, WARNING, api, log, survive, switch_running
from .limits import parse_count

# sofia's gateway names: ^[\w.\-_]+$ (mod_sofia parse_gateways)
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
_NOT_A_LIST = ("Invalid Profile", "-ERR", "-USAGE", "+OK")

# A count to read: the arguments of ``limit_usage`` ("backend realm resource").
Counted = str
_T = TypeVar("_T")


def parse_gwlist(text: object) -> Optional[FrozenSet[str]]:
    """The DOWN gateways in a gwlist answer, or None when it is not such an answer."""
    if not isinstance(text, str) or text.startswith(_NOT_A_LIST):
        return None
    names = text.split()
    if not all(_NAME_RE.match(n) for n in names):
        return None
    return frozenset(names)


class Reading(NamedTuple):
    """One gwlist reading of a profile: the DOWN gateways (None: unusable), when (monotonic, wall)."""
    down: Optional[FrozenSet[str]]
    taken: float
    wall: float


class Watch(NamedTuple):
    """What one generation needs read, and how often."""
    profiles: FrozenSet[str]
    counted: FrozenSet[Counted]
    period: float
    timeout: float


_ROUND_FAILED = "a gateway poller round failed"  # keep reading: one bad round must not end the poller


class Poller:
    """The gateway readings of this process; safe to share between call threads.

    ``run_api(command)`` runs a FreeSWITCH API command; ``clock`` gives monotonic and wall time;
    ``start(name, target)`` runs the reading loop in a daemon thread; ``after_round()`` runs in
    that thread after each round (the process frees replaced generations there).
    """

    def __init__(self, run_api: Callable[[str], object] = api, clock: SystemClock = SYSTEM_CLOCK,
                 start: Callable[[str, Callable[[], None]], None] = background.start_plain,
                 after_round: Callable[[], None] = lambda: None, trust_for: Optional[float] = None) -> None:
        self.run_api = run_api  # runs a FreeSWITCH API command (injectable)
        self._after_round = after_round
        self._clock = clock
        self._monotonic = clock.monotonic
        self._start = start
        self._readings: Dict[str, Reading] = {}
        self._announced: Dict[str, FrozenSet[str]] = {}  # the DOWN gateways of each profile's last usable reading
        self._counts: Dict[Counted, int] = {}
        self._started: Dict[Counted, int] = {}     # attempts started since the last count of each
        self._asked: Set[str] = set()              # profiles and counts read (or being read) at least once
        self._watches: Dict[str, Watch] = {}       # owner (a rules file path) -> what it needs
        self._trust_for = trust_for                # seconds a reading is trusted; None: from the watches
        self._trust = self._trust_seconds()        # seconds a reading is trusted (kept up to date by watch)
        self._failing: Set[str] = set()            # commands whose last answer was unusable: logged once
        self._lock = threading.Lock()              # watches and the thread's state
        self._reading_lock = threading.Lock()      # one round of readings at a time
        self._wake = threading.Event()
        self._thread_running = False
        self._stopped = False
        self._count_soon = False                   # count_soon was asked for
        self.announce = True  # log and fire gateway state changes (off for a tool's private poller)
        self._changes = ChangeLog(clock.monotonic)  # the log lines of gateway state changes, rate-limited

    # -- what calls read --------------------------------------------------------------------------
    def is_down(self, profile: str, gateway: str) -> bool:
        """Whether the last trusted reading of ``profile`` reports ``gateway`` DOWN (no reading, an
        unusable one or one too old to trust: unknown, which counts as up). The reading's age is only
        looked at when it says DOWN: most calls find their gateways up and read no clock."""
        reading = self._readings.get(profile)
        return reading is not None and reading.down is not None and gateway in reading.down \
            and self._monotonic() - reading.taken <= self._trust

    def count(self, counted: Counted) -> int:
        """The last ``limit_usage`` count of ``counted`` ("backend realm resource"; 0 when unknown)
        plus the attempts this process started on it since that reading."""
        return self._counts.get(counted, 0) + self._started.get(counted, 0)

    def started(self, counted: Counted) -> None:
        """An attempt on ``counted`` is about to be dialled: count it until the next reading does.

        Calls that end before the next reading stay counted until then (at most one period): between
        readings least_calls sees every call this switch started, and none of the other switches'."""
        with self._lock:
            self._started[counted] = self._started.get(counted, 0) + 1

    def refused(self, counted: Counted) -> None:
        """An attempt counted by ``started`` was refused by its limit and never dialled: uncount it
        (unless a reading came in between, which did not count it either)."""
        with self._lock:
            if self._started.get(counted, 0) > 0:
                self._started[counted] -= 1

    def readings(self) -> Dict[str, Tuple[Optional[FrozenSet[str]], float, bool]]:
        """{profile: (DOWN gateways or None when unusable, wall time of the reading, whether calls
        still trust it)}: for status pages and traces."""
        trusted = self._monotonic() - self._trust
        return {profile: (reading.down, reading.wall, reading.taken >= trusted)
                for profile, reading in self._readings.copy().items()}  # a copy: readers never block

    def _trust_seconds(self) -> float:
        """How long a reading is trusted: two periods of the most frequent watch and its timeout."""
        if self._trust_for is not None:
            return self._trust_for
        watch = self._tightest()
        return 2 * watch.period + watch.timeout if watch is not None else 5.0

    def _tightest(self) -> Optional[Watch]:
        watches = list(self._watches.values())
        return min(watches, key=lambda w: w.period) if watches else None

    # -- what generations register ----------------------------------------------------------------
    def prime(self, profiles: Iterable[str], counted: Iterable[Counted], timeout: float,
              refresh: bool = False) -> None:
        """Read now, in the caller's thread (a generation's builder), what was never read (with
        ``refresh``, an asked-for reload: all of it), waiting ``timeout`` at most."""
        with self._lock:
            unread = [p for p in profiles if refresh or p not in self._asked]
            uncounted = [c for c in counted if refresh or c not in self._asked]
            self._asked.update(unread + uncounted)
        if unread or uncounted:
            self._first_reading(unread, uncounted, timeout)

    def watch(self, owner: str, profiles: Iterable[str], counted: Iterable[Counted], period: float,
              timeout: float) -> None:
        """Read ``profiles`` and ``counted`` for ``owner`` from now on (replacing what it asked before),
        after reading what was never read (``prime``)."""
        wanted = Watch(frozenset(profiles), frozenset(counted), period, timeout)
        self.prime(wanted.profiles, wanted.counted, timeout)
        with self._lock:
            self._watches[owner] = wanted
            self._trust = self._trust_seconds()
        self._ensure_thread()
        self._wake.set()  # a shorter period takes effect now, not after the old one

    def _first_reading(self, profiles: List[str], counted: List[Counted], timeout: float) -> None:
        """Read what a new generation needs, waiting ``timeout`` at most (a hung API then reads as
        unknown: every gateway up, until a reading comes)."""
        done = threading.Event()

        def read() -> None:
            try:
                self._read(profiles, counted)
            finally:
                done.set()
        try:  # in the caller's context: a simulation's reading asks its emulated switch (fslog.talking_to)
            threading.Thread(target=contextvars.copy_context().run, args=(read,), name="fsroute-poller-first",
                             daemon=True).start()
        except Exception:  # no thread to be had: read here, unbounded
            read()
        if not done.wait(timeout):
            log(WARNING, "fsroute: %s did not answer within %gs; taking the gateways as up until it does"
                % (", ".join("'sofia profile %s gwlist down'" % p for p in profiles) or "limit_usage", timeout))

    def poll(self) -> None:
        """One round: read every watched profile and count, publish, announce changes."""
        with self._lock:
            profiles = sorted(set().union(*(w.profiles for w in self._watches.values())))
            counted = sorted(set().union(*(w.counted for w in self._watches.values())))
        self._read(profiles, counted)

    def count_soon(self) -> None:
        """Run ``after_round`` on the reading thread now, without a round of readings (finished calls
        pile up faster than the period counts them: runtime.metrics)."""
        self._count_soon = True
        self._wake.set()

    def stop(self) -> None:
        """End the reading loop (tests; FreeSWITCH's shutdown ends the daemon thread)."""
        self._stopped = True
        self._wake.set()

    # -- the reading loop -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread_running or self._stopped:
                return
            self._thread_running = True
        try:
            self._start("fsroute-poller", self._loop)
        except Exception as exc:  # no thread to be had: calls go on with the readings taken so far
            with self._lock:
                self._thread_running = False  # the next generation (or reload) tries again
            log(WARNING, "fsroute: cannot start the gateway poller (%s); gateway states are read again "
                "at the next reload" % describe_error(exc, 80))

    def _loop(self) -> None:
        last_round = self._clock.monotonic()
        try:
            while not self._stopped:
                watch = self._tightest()
                due = last_round + (watch.period if watch is not None else 1.0)
                if self._wake.wait(max(0.0, due - self._clock.monotonic())):
                    self._wake.clear()  # stopped, a new watch (its period counts from the last round) ...
                    if self._count_soon and not self._stopped:  # ... or asked to count now
                        self._count_soon = False
                        survive(_ROUND_FAILED, self._after_round)
                    continue
                if not switch_running():
                    break
                last_round = self._clock.monotonic()
                survive(_ROUND_FAILED, self._round)
        finally:
            with self._lock:
                self._thread_running = False

    def _round(self) -> None:
        self.poll()
        self._after_round()

    def _read(self, profiles: List[str], counted: List[Counted]) -> None:
        with self._reading_lock:
            for profile in profiles:
                self._read_profile(profile)
            for what in counted:
                found = self._answer("limit_usage %s" % what, parse_count)
                with self._lock:
                    if found is not None:
                        self._counts[what] = found
                    self._started.pop(what, None)
            self._changes.flush()

    def _read_profile(self, profile: str) -> None:
        down = self._answer("sofia profile %s gwlist down" % profile, parse_gwlist)
        self._readings[profile] = Reading(down, self._clock.monotonic(), self._clock.time())
        if down is None or not self.announce:
            return
        known = self._announced.get(profile)  # the last usable reading, across unusable ones
        self._announced[profile] = down
        if known is None:
            went_down = [(name, "unknown") for name in sorted(down)]
            came_up: List[str] = []
        else:
            went_down = [(name, "up") for name in sorted(down - known)]
            came_up = sorted(known - down)
        for name, previous in went_down:
            self._announce(name, profile, "down", previous)
        for name in came_up:
            self._announce(name, profile, "up", "down")

    def _announce(self, gateway: str, profile: str, state: str, previous: str) -> None:
        """One gateway state change: a log line (rate-limited), a count, an fsroute::gateway event;
        never raises."""
        try:
            self._changes.change(gateway, profile, state, previous)
            metrics.GATEWAY_CHANGES.inc(gateway, profile, state)
        except Exception:
            pass
        events.fire(events.GATEWAY, events.gateway_headers(gateway, profile, state, previous))

    def _answer(self, command: str, parse: Callable[[object], Optional[_T]]) -> Optional[_T]:
        """The parsed answer to ``command``, or None; an unusable answer is logged once until it mends."""
        try:
            answer = self.run_api(command)
        except Exception as exc:  # the API is outside our control: never let it escape
            self._unusable(command, "failed (%s)" % describe_error(exc, 80))
            return None
        found = parse(answer)
        if found is None:
            self._unusable(command, "answered %s" % _describe_answer(answer))
            return None
        if command in self._failing:
            self._failing.discard(command)
            log(INFO, "fsroute: %r answers again" % command)
        return found

    def _unusable(self, command: str, what: str) -> None:
        if command not in self._failing:
            self._failing.add(command)
            log(WARNING, "fsroute: %r %s; %s until it answers" % (
                command, what, "taking its gateways as up" if "gwlist" in command else "counting 0"))
        return None


def _describe_answer(answer: object) -> str:
    if isinstance(answer, str):
        return "'%s'" % one_line(answer)
    return "a %s, not text" % type(answer).__name__

