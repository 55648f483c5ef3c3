"""Rate decks kept loaded while calls flow: background reload, last good deck kept.

A deck is read once per file, whatever rules files name it, and reloaded
on its own, independently of the rules file. A call asks ``deck_of(carrier)``:
at most once per CHECK_SECONDS that call stats the file, and on a change a
background thread parses it while calls keep using the deck in force; a
valid deck is swapped in with one assignment. A deck is only reloaded once
its file has been still for SETTLE_SECONDS (a carrier's deck is tens of
megabytes, and a half-copied file can parse as a valid but shorter deck).
A broken deck keeps the last good one and logs one ERROR, with file:line,
per distinct change. Calls never wait for a deck: before its first load
the carrier is simply not offered (``preload`` loads them at start-up).
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from fsroute.core import decks
from fsroute.core.model import Carrier, RuleSet
from fsroute.core.model import Problem, RulesError
from fsroute.core.text import describe_error, one_line
from . import background
from .fslog import ERROR, INFO, log
from .files import file_signature, written_within

CHECK_SECONDS = 1.0
SETTLE_SECONDS = 2.0


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DeckStore:
    """One deck file, kept current. ``clock`` (monotonic) and ``wall`` (epoch) are injectable."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = path
        self.deck: Optional[decks.Deck] = None  # the Deck in force, None before the first good load
        self.sha256: Optional[str] = None       # of the file the deck in force was read from
        self.loaded_at: Optional[float] = None
        self.last_error: Optional[RulesError] = None  # of the newest failed load, None after a good one
        self._clock = clock
        self._wall = wall
        self._signature: Optional[Tuple[Any, ...]] = None  # of the file as last loaded or tried
        self._next_check = 0.0
        self._loading = False
        self._lock = threading.Lock()

    def current(self) -> Optional[decks.Deck]:
        """The deck in force (None if none yet); may start a background load. Never blocks."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + CHECK_SECONDS
            self._maybe_start_load()
        return self.deck

    def reload(self) -> Optional[decks.Deck]:
        """Load the file now, in this thread; returns the Deck or raises RulesError."""
        return self._load(file_signature(self.path), report=True)

    def ensure(self) -> Optional[decks.Deck]:
        """Load the file now unless the deck in force was read from it as it is; raises RulesError."""
        signature = file_signature(self.path)
        if self.deck is not None and signature == self._signature:
            return self.deck
        return self._load(signature, report=True)

    def _maybe_start_load(self) -> None:
        signature = file_signature(self.path)
        with self._lock:
            if signature == self._signature or self._loading:
                return
            if self.deck is not None and self._young(signature):
                return  # maybe still being written: look again at a later check
            self._loading = True
        background.start("fsroute-deck", self._background_load, signature)

    def _young(self, signature: Tuple[Any, ...]) -> bool:
        return written_within(signature, self._wall(), SETTLE_SECONDS)

    def _background_load(self, signature: Tuple[Any, ...]) -> None:
        try:
            self._load(signature, report=False)
        except RulesError:
            pass  # logged; the last good deck stays in force
        except Exception as exc:  # never let a reload thread die with a traceback
            log(ERROR, "fsroute: loading the rate deck %s failed unexpectedly: %s"
                % (self.path, describe_error(exc)))
        finally:
            with self._lock:
                self._loading = False

    def _load(self, signature: Tuple[Any, ...], report: bool) -> Optional[decks.Deck]:
        """Parse the file and swap it in if valid; ``report``: log even an error logged before."""
        started = time.perf_counter()
        try:
            try:
                sha256 = _sha256(self.path)
            except OSError as exc:
                raise RulesError([Problem(self.path, 0, 0, "cannot read the rate deck: %s"
                                                % (exc.strerror or exc))])
            if sha256 == self.sha256:
                with self._lock:  # same content rewritten: nothing to parse
                    self._signature, self.last_error = signature, None
                return self.deck
            deck = decks.load(self.path)
        except RulesError as exc:
            with self._lock:
                self.last_error = exc
                first_time = report or signature != self._signature
                self._signature = signature
            if first_time:
                more = len(exc.problems) - 1
                log(ERROR, "fsroute: rate deck %s%s%s" % (
                    one_line(str(exc.problems[0]), 400),
                    " (and %d more: fsroute check lists them)" % more if more else "",
                    " (keeping the deck loaded at %s)" % time.strftime("%H:%M:%S", time.localtime(self.loaded_at))
                    if self.deck is not None and self.loaded_at is not None else " (carrier not offered until it is fixed)"))
            raise
        with self._lock:
            self._signature, self.last_error = signature, None
            self.sha256, self.loaded_at = sha256, self._wall()
            deck.loaded_at = self.loaded_at
            self.deck = deck
        log(INFO, "fsroute: loaded rate deck %s rows=%d in %.1f s"
            % (self.path, len(deck), time.perf_counter() - started))
        return deck


_stores: Dict[str, DeckStore] = {}
_stores_lock = threading.Lock()


def store_for(path: str) -> DeckStore:
    """The DeckStore of the deck file ``path`` (absolute), shared by every call thread."""
    store = _stores.get(path)
    if store is None:
        with _stores_lock:
            store = _stores.get(path)
            if store is None:
                store = _stores[path] = DeckStore(path)
    return store


def deck_of(carrier: Carrier) -> Optional[decks.Deck]:
    """The Deck in force for ``carrier`` (model.Carrier), or None: what router.decide asks."""
    store = _stores.get(carrier.deck)
    if store is None:
        store = store_for(carrier.deck)
    return store.current()


def preload(rules: RuleSet) -> List[RulesError]:
    """Load every deck ``rules`` names now, in this thread (start-up, ``fsroute lcr``, tests).

    Returns the RulesErrors of the decks that failed (each also logged).
    """
    errors: List[RulesError] = []
    for path in sorted({c.deck for c in rules.carriers.values()}):
        try:
            store_for(path).ensure()
        except RulesError as exc:
            errors.append(exc)
    return errors


def forget_all() -> None:
    """Drop every deck (tests; the next call loads afresh)."""
    with _stores_lock:
        _stores.clear()
