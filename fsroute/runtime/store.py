"""The current generation of one rules file: built aside while calls flow, made current in one step.

A call asks ``RulesStore.current()``. At most once per ``reload_check``
seconds that call stats the rules file and every deck and table of the generation in
force (mtime_ns, size, inode); on a change a background thread builds a new
generation (the rules parsed, every deck and table read, the poller's first readings
taken) while calls keep routing on the current one, and a complete one is
made current with one assignment. A bad rules file, deck or table keeps the last
good generation and is logged once per distinct change, with file:line.
Only the very first load of a file is done in the calling thread: there is
nothing else to route with (a deck that fails then leaves its carrier out, a
table its routes without rows, until its file changes; every later error
keeps the last good generation).

Loads are numbered as they start, and a load that finishes after a newer one
has settled the store changes nothing: a ``ctl reload`` can overtake a slow
background build, and the older reading of the files must not win.

A stat cannot see two writes of the same size within one mtime tick, and an
in-place rewrite is briefly empty or half written. So while the rules file's
mtime is younger than RACY_SECONDS its content hash is compared at every
check, and a parse error of such a young file is not reported yet: the writer
may not be done. A young rules file with new content is not even parsed by an
automatic reload while it may still be being written: when it was rewritten
in place (``cp`` over it: a half copy can parse as valid, shorter rules), or
when it changed since the previous check (a file renamed or linked into place
is complete and still, so it goes live one check later). A deck written
moments ago waits until it is still (filecache.SETTLE_SECONDS).

A replaced generation is not freed by whichever call drops it last (freeing
100,000 routes takes tens of milliseconds): it is handed to ``retire``, and
the poller's thread frees it once no call uses it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Tuple

from fsroute.core import loader, model, tables
from fsroute.core.tablerows import BoundTable, bind, known_of
from fsroute.core.text import describe_error, one_line
from . import background, events, metrics
from .clock import SYSTEM_CLOCK, SystemClock
from .accounts import TableState, read_table
from .filecache import FileCache, LoadedFile, NotSettled
from .files import file_signature, hold, same_inode, written_within
from .fslog import ERROR, INFO, WARNING, log
from .generation import Generation
from .poller import Poller

RACY_SECONDS = 2.0

# The stat signatures of the rules file and every deck a generation was built from, by path.
Signatures = Dict[str, Tuple[Any, ...]]

# How a store runs a background build: start(target, args).
Starter = Callable[[Callable[..., None], Tuple[Any, ...]], None]


def _start_thread(target: Callable[..., None], args: Tuple[Any, ...]) -> None:
    background.start("fsroute-reload", target, *args)


class RulesStore:
    """The generations of one rules file path, kept current while calls flow.

    ``clock`` gives the time (SYSTEM_CLOCK unless a test moves it by hand);
    ``start(target, args)`` runs a background build (a daemon thread);
    ``poller`` and ``decks`` are the process's; ``swapped(store)`` is told
    of every new current generation (process-wide things follow it).
    """

    def __init__(self, path: str, poller: Poller, decks: FileCache, clock: SystemClock = SYSTEM_CLOCK,
                 start: Starter = _start_thread, swapped: Callable[[RulesStore], None] = lambda store: None,
                 retire: Callable[[Generation], None] = lambda generation: None) -> None:
        self.path = path
        self._poller = poller
        self._decks = decks
        self._clock = clock
        self._start = start
        self._swapped = swapped
        self._retire = retire
        self._current: Optional[Generation] = None
        self._tried: Signatures = {}  # of the files as last built or tried
        self._refused_paths: List[str] = []  # decks and tables a refused version names: watched until one loads
        self._held: Optional[int] = None  # the rules file of _tried, open: its inode number stays its own
        self._seen: Tuple[Any, ...] = ()  # of the rules file at the previous load or check of it
        self._deferred = False  # the newest automatic load waited for a writer: check again, whatever the stat
        self._next_check = 0.0
        self._loading = False
        self._started = 0           # loads started so far; each load's number orders it
        self._settled = 0           # number of the newest load that settled the store's state
        self._lock = threading.Lock()
        self._first_load = threading.Lock()
        self.last_error: Optional[model.RulesError] = None  # of the newest failed load, None after a good one
        self.routes_calls = False  # a call has named it (not only a ctl command or the start-up preload)

    @property
    def generation(self) -> Optional[Generation]:
        """The generation in force, or None before the first good load."""
        return self._current

    def current(self) -> Generation:
        """The generation to route this call with; raises RulesError if no good rules ever loaded."""
        current = self._current
        if current is None:
            return self._load_first()
        now = self._clock.monotonic()
        if now >= self._next_check:
            self._next_check = now + current.rules.defaults.reload_check
            self._maybe_start_reload(current)
        return current

    def reload(self) -> Generation:
        """Build the generation now, in this thread; returns it or raises RulesError."""
        return self._forced_load()

    def _young(self, signature: Tuple[Any, ...]) -> bool:
        """Whether the file was written less than RACY_SECONDS ago (it may change unseen)."""
        return written_within(signature, self._clock.time(), RACY_SECONDS)

    def _being_written(self, signature: Tuple[Any, ...], seen: Tuple[Any, ...]) -> bool:
        """Whether the rules file, young with new content, may still be being written: rewritten
        in place (same inode as last tried), or changed since the previous check."""
        if not self._young(signature):
            return False
        return same_inode(signature, self._tried.get(self.path)) or signature != seen

    def _tried_now(self, signatures: Signatures) -> None:
        """``_tried = signatures`` (the caller holds the lock), its rules file held open in place of
        the one before, so that _being_written never takes a new file for it."""
        self._tried = signatures
        held, self._held = self._held, hold(self.path, signatures[self.path])
        if held is not None:
            os.close(held)

    def close(self) -> None:
        """Let go of the rules file held open (the store is being dropped)."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            os.close(held)

    def _load_first(self) -> Generation:
        with self._first_load:
            if self._current is not None:
                return self._current
            if self.last_error is not None and self._signatures(None) == self._tried:
                raise self.last_error  # unchanged broken file: do not parse it on every call
            return self._forced_load()

    def _forced_load(self) -> Generation:
        """A load that answers: the generation in force after it, or its RulesError."""
        generation = self._load(force=True)
        assert generation is not None  # a forced load raises rather than returning nothing
        return generation

    def _signatures(self, generation: Optional[Generation]) -> Signatures:
        """The stat signatures now of the rules file and of every deck and table ``generation``'s rules
        name (also one that failed at the first load: its file's next change is tried again)."""
        paths = [self.path]
        if generation is not None:
            paths += generation.rules.deck_paths() + generation.rules.table_paths()
        paths += self._refused_paths
        return {path: file_signature(path) for path in paths}

    def _maybe_start_reload(self, current: Generation) -> None:
        signatures = self._signatures(current)
        with self._lock:
            if self._loading:
                return
            tried = {path: self._tried.get(path) for path in signatures}
            if signatures == tried and not self._young(signatures[self.path]) and not self._deferred:
                return
            self._loading = True
        try:
            self._start(self._background_load, ())
        except Exception as exc:  # no thread to be had: try again at the next check
            with self._lock:
                self._loading = False
            log(WARNING, "fsroute: cannot start a reload of %s (%s); trying again in %gs"
                % (self.path, describe_error(exc, 80), current.rules.defaults.reload_check))

    def _background_load(self) -> None:
        try:
            self._load(force=False)
        except model.RulesError:
            pass  # already logged; the last good generation stays in force
        except Exception as exc:  # never let a reload thread die with a traceback
            signatures = self._signatures(self._current)
            with self._lock:  # the same files are not read again until one of them changes
                self._tried_now(signatures)
            log(ERROR, "fsroute: reloading %s failed unexpectedly: %s" % (self.path, describe_error(exc)))
        finally:
            with self._lock:
                self._loading = False

    def _settle(self, number: int) -> bool:
        """Whether a load may change the store (the caller holds the lock): no newer load has already.

        A background build can outlast a ``ctl reload`` started after it; its
        older reading of the files must not replace what the newer one found.
        """
        if number < self._settled:
            return False
        self._settled = number
        return True

    def _load(self, force: bool) -> Optional[Generation]:
        """Build a generation from the files as they are now; make it current if complete and valid."""
        with self._lock:
            self._started += 1
            number = self._started
        previous = self._current
        rules_signature = file_signature(self.path)
        ruleset: Optional[model.RuleSet] = None
        try:
            data = loader.read(self.path)
            seen, self._seen, self._deferred = self._seen, rules_signature, False
            if previous is not None and previous.rules.sha256 == hashlib.sha256(data).hexdigest():
                ruleset = previous.rules  # same content (rewritten, or a reload asked for): decks may differ
            elif not force and previous is not None and self._being_written(rules_signature, seen):
                self._deferred = True  # built again at the next check, once the writer is done
                return previous
            else:
                ruleset = loader.parse(data, self.path)
            decks, bound, table_files, deck_errors = self._read_files(ruleset, first=previous is None,
                                                                      settle=not force)
            account_table = self._read_account_table(ruleset, first=previous is None)
        except NotSettled:
            return previous  # a deck is still being written: built again at the next check
        except model.RulesError as exc:
            self._refused_paths = ruleset.deck_paths() + ruleset.table_paths() if ruleset is not None else []
            signatures = self._signatures(previous)
            signatures[self.path] = rules_signature
            self._refused(exc, number, signatures, force)
            raise
        self._refused_paths = []
        signatures = {self.path: rules_signature}
        signatures.update((path, deck.signature) for path, deck in decks.items())
        signatures.update((path, table.signature) for path, table in table_files.items())
        signatures.update(deck_errors)
        if ruleset.accounts is not None and ruleset.accounts.table:
            signatures[ruleset.accounts.table] = account_table[1]
        if previous is not None and ruleset is previous.rules and _same_decks(decks, previous.decks) \
                and _same_tables(bound, previous.tables) and account_table[1] == previous.account_table[1]:
            with self._lock:  # nothing changed: keep the generation, its counters and state
                if self._settle(number):
                    self._tried_now(signatures)
                    self.last_error = None
                current = self._current
            if force and current is not None:  # an asked-for reload is reported even when nothing changed
                profiles, counted = current.watched()
                self._poller.prime(profiles, counted, current.rules.defaults.status_timeout, refresh=True)
                _loaded_news(self.path, current)
            return current
        generation = Generation(ruleset, decks, self._poller, previous, self._clock, tables=bound,
                                table_files=table_files, account_table=account_table)
        defaults = ruleset.defaults
        profiles, counted = generation.watched()
        # its first calls see real gateway states; an asked-for reload reads them all again
        self._poller.prime(profiles, counted, defaults.status_timeout, refresh=force)
        with self._lock:
            if not self._settle(number) and self._current is not None:
                return self._current  # older than what a newer load settled (with none yet, better this)
            self._poller.watch(self.path, profiles, counted, defaults.status_ttl, defaults.status_timeout)
            self._tried_now(signatures)
            self.last_error = None
            self._next_check = self._clock.monotonic() + defaults.reload_check
            replaced, self._current = self._current, generation
        if replaced is not None:
            self._retire(replaced)
        log(INFO, "fsroute: loaded %s sha=%s routes=%d%s%s" % (
            self.path, ruleset.sha, len(ruleset.routes), " decks=%d" % len(decks) if decks else "",
            " tables=%d" % len(bound) if bound else ""))
        _loaded_news(self.path, generation)
        self._swapped(self)
        return generation

    def _read_files(self, ruleset: model.RuleSet, first: bool, settle: bool
                    ) -> Tuple[Dict[str, LoadedFile], Dict[str, BoundTable], Dict[str, LoadedFile], Signatures]:
        """({path: LoadedFile} of every deck ``ruleset`` names, {name: BoundTable} of every table,
        {path: LoadedFile} of the tables' files, the signatures of the files that failed).

        A failing deck or table raises RulesError, except at the very first load, where its carrier
        is left out, or its table has no row for any number (logged), rather than failing every call.
        """
        found: Dict[str, LoadedFile] = {}
        bound: Dict[str, BoundTable] = {}
        table_files: Dict[str, LoadedFile] = {}
        failed: Signatures = {}
        problems: List[model.Problem] = []
        for path in ruleset.deck_paths():
            try:
                found[path] = self._decks.read(path, settle)
            except model.RulesError as exc:
                problems.extend(exc.problems)
                failed[path] = file_signature(path)
        known = known_of(ruleset)
        for name, spec in sorted(ruleset.tables.items()):
            try:
                loaded = self._decks.read(spec.path, settle, partial(tables.load, layout=spec.layout),
                                          spec.layout, "table")
                bound[name] = bind(spec, loaded.content, known)
                table_files[spec.path] = loaded
            except model.RulesError as exc:
                problems.extend(exc.problems)
                failed[spec.path] = file_signature(spec.path)
        if problems and not first:
            raise model.RulesError(problems)
        if problems:
            _log_refusal(model.RulesError(problems), None,
                         "carrier not offered until its deck is fixed, table routes pass calls on until theirs is")
        return found, bound, table_files, failed

    def _read_account_table(self, ruleset: model.RuleSet, first: bool) -> TableState:
        """The accounts table the rules name; a broken one raises RulesError, except at the very first
        load, where every account gets the default limits (logged) rather than every call failing."""
        try:
            return read_table(ruleset.accounts, ruleset.sell_decks)
        except model.RulesError as exc:
            if not first:
                raise
            _log_refusal(exc, None, "every account has the default limits (and no sell deck of its own) until "
                         "its table is fixed")
            assert ruleset.accounts is not None and ruleset.accounts.table is not None  # what failed
            return TableState({}, file_signature(ruleset.accounts.table))

    def _refused(self, exc: model.RulesError, number: int, signatures: Signatures, force: bool) -> None:
        """Record a refused load, and log it unless the same files were refused before."""
        with self._lock:
            if not self._settle(number):
                return  # a newer load has spoken since this one read the files
            self.last_error = exc
            in_rules = exc.problems[0].file == self.path
            if not force and self._young(signatures[self.path]) and in_rules:
                return  # maybe still being written: check again, report later
            # a refused rules file is news once, whatever decks change under it meanwhile
            first_time = force or (signatures[self.path] != self._tried.get(self.path) if in_rules
                                   else signatures != self._tried)
            self._tried_now(signatures)
        if first_time:
            metrics.RELOADS.inc(self.path, "error")
            events.fire(events.RELOAD, events.reload_headers(self.path, error=exc))
            _log_refusal(exc, self._current, None)


def _same_decks(decks: Dict[str, LoadedFile], before: Dict[str, LoadedFile]) -> bool:
    return decks.keys() == before.keys() and all(decks[p].content is before[p].content for p in decks)


def _same_tables(bound: Dict[str, BoundTable], before: Dict[str, BoundTable]) -> bool:
    return bound.keys() == before.keys() and all(bound[n].table is before[n].table for n in bound)


def _log_refusal(exc: model.RulesError, kept: Optional[Generation], otherwise: Optional[str]) -> None:
    more = len(exc.problems) - 1
    log(ERROR, "fsroute: %s%s (%s)" % (
        one_line(str(exc.problems[0]), 400), " (and %d more: fsroute check lists them)" % more if more else "",
        "keeping sha=%s" % kept.rules.sha if kept is not None else otherwise or "no rules in force"))


def _loaded_news(path: str, generation: Generation) -> None:
    """Count a good load and fire its fsroute::reload event."""
    metrics.RELOADS.inc(path, "ok")
    rules = generation.rules
    events.fire(events.RELOAD, events.reload_headers(path, sha=rules.sha, routes=len(rules.routes)))


def absolute(path: str) -> str:
    """The key of a rules file: spellings of one path (relative, with ``..``) share a store; symlinks
    are not resolved, so a link that config management re-points is followed."""
    return os.path.abspath(path)
