"""The live rule set of each rules file: hot reload, last good rules, counters.

A call asks ``RulesStore.current()``. At most once per ``reload_check``
seconds that call stats the file (mtime_ns, size, inode); on a change a
background thread parses the new file while calls keep routing on the
current rules, and a valid result is swapped in with one assignment. A bad
file keeps the last good rules and is logged once per distinct change.
Only the very first load of a file is done in the calling thread: there is
nothing else to route with.

Loads are numbered as they start, and a load that finishes after a newer one
has settled the store changes nothing: a ``ctl reload`` can overtake a slow
background parse, and the older reading of the file must not win.

A stat cannot see two writes of the same size within one mtime tick (a few
milliseconds on some kernels), and an in-place rewrite is briefly empty or
half written. So while the file's mtime is younger than RACY_SECONDS its
content hash is compared at every check, and a parse error of such a young
file is not reported yet: the writer may not be done. Once the file has
been still for that long, a remaining error is logged, once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

from fsroute.core import loader, model
from fsroute.core.router import DeckOf
from fsroute.core.selection import Selector
from fsroute.core.text import describe_error, one_line
from . import background, deckstore, events, metrics, metrics_http, scrape
from .files import file_signature, written_within
from .clock import SYSTEM_CLOCK, SystemClock
from .fslog import ERROR, INFO, log
from .gateways import GatewayStates
from .breakers import Breakers
from .health import Health


class Loaded:
    """One loaded version of the rules and the state that belongs to it.

    Round-robin positions and gateway readings carry over from the version
    before when their settings are unchanged; call counters start afresh.
    ``observed``: whether its calls and gateway state changes reach the
    process's metrics and events (False for a tool's private rules, e.g. a simulation).
    ``deck_of(carrier)`` gives a carrier's rate deck: the process's shared,
    background-reloaded decks (runtime.deckstore) unless a tool passes its own.
    """

    def __init__(self, ruleset: model.RuleSet, previous: Optional[Loaded] = None,
                 clock: SystemClock = SYSTEM_CLOCK, observed: bool = True,
                 deck_of: Optional[DeckOf] = None) -> None:
        self.rules = ruleset
        self.clock = clock
        self.observed = observed
        self.loaded_at = clock.time()
        self.deck_of: DeckOf = deck_of if deck_of is not None else deckstore.deck_of
        self.selector: Selector = Selector(previous.selector if previous else None, ruleset.groups.values())
        defaults = ruleset.defaults
        self.gateways: GatewayStates
        carried = previous.gateways if previous is not None else None
        if carried is not None and (carried.ttl, carried.timeout) == (defaults.status_ttl, defaults.status_timeout):
            self.gateways = carried
        else:
            self.gateways = GatewayStates(defaults.status_ttl, defaults.status_timeout, clock=clock,
                                          announce=observed)
        # breakers: kept per gateway while its settings are unchanged, on the clock they started with
        self.breakers: Breakers = Breakers(ruleset, previous.breakers if previous else None, clock=clock.monotonic)
        self.health: Health = Health(self)  # what the router asks besides is_up: benched, last resort, active calls
        self.results: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def is_up(self, gateway: str) -> bool:
        """Whether ``gateway`` may be tried: its profile's gwlist does not report it DOWN (unknown: up)."""
        down = self.gateways.down(self.rules.profile_of(gateway))
        return down is None or gateway not in down

    def count(self, result: str, route_name: Optional[str]) -> None:
        with self._lock:
            self.results[result] += 1
            if route_name:
                self.routes[route_name] += 1

    def counts(self) -> Tuple[Dict[str, int], Dict[str, int]]:
        """(per-result, per-route) copies of the counters."""
        with self._lock:
            return dict(self.results), dict(self.routes)


RACY_SECONDS = 2.0


# How a store runs a background reload: start(target, args).
Starter = Callable[[Callable[..., None], Tuple[Any, ...]], None]


def _start_thread(target: Callable[..., None], args: Tuple[Any, ...]) -> None:
    background.start("fsroute-reload", target, *args)


class RulesStore:
    """The rules of one file path, kept current while calls flow.

    ``clock`` gives the time (SYSTEM_CLOCK unless a test moves it by hand);
    ``start(target, args)`` runs a background reload (a daemon thread).
    """

    def __init__(self, path: str, clock: SystemClock = SYSTEM_CLOCK, start: Starter = _start_thread) -> None:
        self.path = path
        self._clock = clock
        self._start = start
        self._loaded: Optional[Loaded] = None
        self._signature: Optional[Tuple[Any, ...]] = None      # of the file as last loaded or tried
        self._next_check = 0.0
        self._loading = False
        self._started = 0           # loads started so far; each load's number is its generation
        self._settled = 0           # generation of the newest load that settled the store's state
        self._lock = threading.Lock()
        self._first_load = threading.Lock()
        self.last_error: Optional[model.RulesError] = None  # of the newest failed load, None after a good one

    @property
    def loaded(self) -> Optional[Loaded]:
        """The Loaded in force, or None before the first good load."""
        return self._loaded

    def current(self) -> Loaded:
        """The Loaded to route this call with; raises RulesError if no good rules ever loaded."""
        loaded = self._loaded
        if loaded is None:
            return self._load_first()
        now = self._clock.monotonic()
        if now >= self._next_check:
            self._next_check = now + loaded.rules.defaults.reload_check
            self._maybe_start_reload()
        return loaded

    def reload(self) -> Loaded:
        """Load the file now, in this thread; returns the Loaded or raises RulesError."""
        return self._forced_load(file_signature(self.path))

    def _young(self, signature: Tuple[Any, ...]) -> bool:
        """Whether the file was written less than RACY_SECONDS ago (it may change unseen)."""
        return written_within(signature, self._clock.time(), RACY_SECONDS)

    def _load_first(self) -> Loaded:
        with self._first_load:
            if self._loaded is not None:
                return self._loaded
            signature = file_signature(self.path)
            if self.last_error is not None and signature == self._signature:
                raise self.last_error  # unchanged broken file: do not parse it on every call
            return self._forced_load(signature)

    def _forced_load(self, signature: Tuple[Any, ...]) -> Loaded:
        """A load that answers: the Loaded in force after it, or its RulesError."""
        loaded = self._load(signature, force=True)
        assert loaded is not None  # a forced load raises rather than returning nothing
        return loaded

    def _maybe_start_reload(self) -> None:
        signature = file_signature(self.path)
        with self._lock:
            if (signature == self._signature and not self._young(signature)) or self._loading:
                return
            self._loading = True
        self._start(self._background_load, (signature,))

    def _background_load(self, signature: Tuple[Any, ...]) -> None:
        try:
            self._load(signature, force=False)
        except model.RulesError:
            pass  # already logged; the last good rules stay in force
        except Exception as exc:  # never let a reload thread die with a traceback
            log(ERROR, "fsroute: reloading %s failed unexpectedly: %s" % (self.path, describe_error(exc)))
        finally:
            with self._lock:
                self._loading = False

    def _settle(self, generation: int) -> bool:
        """Whether a load may change the store (the caller holds the lock): no newer load has already.

        A background parse can outlast a ``ctl reload`` started after it; its
        older reading of the file must not replace what the newer one found.
        """
        if generation < self._settled:
            return False
        self._settled = generation
        return True

    def _load(self, signature: Tuple[Any, ...], force: bool) -> Optional[Loaded]:
        """Parse the file; swap it in if valid. ``signature`` is the stat taken before reading."""
        with self._lock:
            self._started += 1
            generation = self._started
        try:
            data = loader.read(self.path)
            previous = self._loaded
            if previous is not None and previous.rules.sha256 == hashlib.sha256(data).hexdigest():
                with self._lock:  # same content (rewritten, or a reload asked for): keep counters and state
                    if self._settle(generation):
                        self._signature, self.last_error = signature, None
                    current = self._loaded
                if force and current is not None:  # an asked-for reload is reported even when nothing changed
                    self._loaded_news(current)
                return current
            ruleset = loader.parse(data, self.path)
        except model.RulesError as exc:
            with self._lock:
                if not self._settle(generation):
                    if force:
                        raise
                    return None  # a newer load has spoken since this one read the file
                self.last_error = exc
                if not force and self._young(signature):
                    return None  # maybe still being written: check again, report later
                first_time = force or signature != self._signature
                self._signature = signature
            if first_time:
                metrics.RELOADS.inc(self.path, "error")
                events.fire(events.RELOAD, events.reload_headers(self.path, error=exc))
                more = len(exc.problems) - 1
                log(ERROR, "fsroute: %s%s%s" % (
                    one_line(str(exc.problems[0]), 400),
                    " (and %d more: fsroute check lists them)" % more if more else "",
                    " (keeping sha=%s)" % self._loaded.rules.sha if self._loaded else " (no rules in force)"))
            raise
        with self._lock:
            if not self._settle(generation) and self._loaded is not None:
                return self._loaded  # older than what a newer load settled (with no rules yet, better these)
            self._signature = signature
            self.last_error = None
            self._next_check = self._clock.monotonic() + ruleset.defaults.reload_check
            loaded = Loaded(ruleset, self._loaded, self._clock)
            self._loaded = loaded
        log(INFO, "fsroute: loaded %s sha=%s routes=%d" % (self.path, ruleset.sha, len(ruleset.routes)))
        self._loaded_news(loaded)
        return loaded

    def _loaded_news(self, loaded: Loaded) -> None:
        """Count a good load, fire its fsroute::reload event, and serve metrics where its rules say."""
        metrics.RELOADS.inc(self.path, "ok")
        events.fire(events.RELOAD, events.reload_headers(self.path, loaded))
        metrics_http.serve(loaded.rules.defaults.metrics_listen, scrape.text)


_stores: Dict[str, RulesStore] = {}
_stores_lock = threading.Lock()


def store_for(path: str, clock: SystemClock = SYSTEM_CLOCK, start: Starter = _start_thread) -> RulesStore:
    """The RulesStore of ``path``, shared by every call thread (``clock``, ``start``: see RulesStore;
    they apply to a store made by this call).

    Spellings of one path (relative, with ``..``) share a store; symlinks are
    not resolved, so a link that config management re-points is followed.
    """
    store = _stores.get(path)
    if store is None:
        key = os.path.abspath(path)
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = RulesStore(key, clock, start)
            _stores[path] = store
    return store


def loaded_stores() -> List[RulesStore]:
    """Every store that has loaded rules, by path."""
    with _stores_lock:
        unique = {id(s): s for s in _stores.values() if s.loaded is not None or s.last_error}
    return sorted(unique.values(), key=lambda s: s.path)


def forget_all() -> None:
    """Drop every store (tests; the next call loads afresh)."""
    with _stores_lock:
        _stores.clear()
