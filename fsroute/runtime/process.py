"""What belongs to the FreeSWITCH process rather than to one rules file.

The rules stores (one per rules file path), the gateway poller, the deck
cache, the metrics endpoint and the freeing of replaced generations. Each
rules file has its own generations; the endpoint serves what every file in
force asks for, and the poller reads what every one of them needs.
``forget_all`` starts afresh, as a FreeSWITCH restart does.
"""

from __future__ import annotations

import sys
import threading
import time
from array import array
from typing import Any, Dict, List

from fsroute.core.routetable import chunks_of

from . import fraud, metrics, metrics_http, scrape
from .clock import SYSTEM_CLOCK, SystemClock
from .filecache import FileCache
from .generation import Generation
from .poller import Poller
from .store import RulesStore, Starter, _start_thread, absolute


class _Process:
    """The process-wide state; one instance, replaced by ``forget_all``."""

    def __init__(self) -> None:
        self.stores: Dict[str, RulesStore] = {}
        self.lock = threading.Lock()
        self.decks = FileCache()  # rate decks and number tables
        self.retired: List[Generation] = []
        self.poller = Poller(after_round=self.after_round)
        metrics.count_soon = self.poller.count_soon  # records piling up are counted on its thread

    def after_round(self) -> None:
        """The poller's thread, after each round: count the finished calls, free what no call uses."""
        metrics.count_pending()
        self.free_retired()

    def _rules_unused(self, generation: Generation) -> bool:
        """Whether no call record waiting for an observer still holds ``generation``'s rule set (it
        is then freed with it, in steps); a newer generation of an unchanged file sharing it does
        not count (the rules stay, the generation and its replaced decks go)."""
        rules = generation.rules
        return sys.getrefcount(rules) <= 3 or any(  # 3: the generation's, this function's, the argument
            store.generation is not None and store.generation.rules is rules for store in self.stores.values())

    def free_retired(self) -> None:
        """Free the replaced generations no call uses any more, here in the poller's thread rather
        than in whichever call thread would drop the last reference, and a few thousand routes at
        a time: freeing 100,000 routes in one go holds the GIL for tens of milliseconds."""
        with self.lock:  # comprehensions: no loop variable outlives them to hold a generation
            unused = [g for g in self.retired if sys.getrefcount(g) <= _UNUSED_REFS and self._rules_unused(g)]
            self.retired = [g for g in self.retired if not any(g is u for u in unused)]
        if unused:
            _free_in_steps(unused)


# Seen by sys.getrefcount for a generation only the retired list holds: the list's reference,
# the comprehension's variable and getrefcount's own argument.
_UNUSED_REFS = 3

ARRAY_STEP = 1 << 20  # items of a deck's or table's column given back between two such chances


def _free_in_steps(generations: List[Generation]) -> None:
    """Drop ``generations`` (the list holds their last references, and they their rule sets'): the
    routes and the big columns of decks and tables no other generation uses go last, in steps."""
    chunks = [chunk for generation in generations for chunk in chunks_of(generation.rules.routes)]
    columns = [column for generation in generations for loaded in generation.files()
               for column in _big_arrays(loaded.content)]
    del generations[:]  # the generations, rule sets and indexes go; each chunk of routes still has one here
    while chunks:  # a few thousand routes at a time (routetable.CHUNK)
        del chunks[-1]
        time.sleep(0)  # let a waiting call thread run
    while columns:  # 80 MB handed back in one free() holds the GIL for 8-17 ms: a few MiB at a time
        column = columns.pop()
        if sys.getrefcount(column) <= _ONLY_HERE:  # else still in use: it goes with its user
            while len(column) > ARRAY_STEP:
                del column[-ARRAY_STEP:]  # a shrink by more than a few items gives the tail back
                time.sleep(0)
        del column


def _big_arrays(content: Any) -> List["array[int]"]:
    """The columns of a loaded deck or table (its attributes, and one level into tuples such as its
    index) longer than ARRAY_STEP."""
    found = []
    for value in vars(content).values():
        for item in value if type(value) is tuple else (value,):
            if type(item) is array and len(item) > ARRAY_STEP:
                found.append(item)
    return found


# Seen by sys.getrefcount for a column only the loop above holds: its variable and getrefcount's argument.
_ONLY_HERE = 2

_process = _Process()


def store_for(path: str, clock: SystemClock = SYSTEM_CLOCK, start: Starter = _start_thread) -> RulesStore:
    """The RulesStore of ``path``, shared by every call thread (``clock``, ``start``: see RulesStore;
    they apply to a store made by this call)."""
    process = _process
    store = process.stores.get(path)
    if store is None:
        key = absolute(path)
        with process.lock:
            store = process.stores.get(key)
            if store is None:
                store = process.stores[key] = RulesStore(key, process.poller, process.decks, clock, start,
                                                         swapped=_swapped, retire=_retire)
            process.stores[path] = store
    return store


def loaded_stores() -> List[RulesStore]:
    """Every store whose rules are in force, or that calls name and cannot load, by path (not one a ctl
    command with a mistyped path, or the start-up preload of a file no call uses, tried and failed)."""
    with _process.lock:
        unique = {id(s): s for s in _process.stores.values()
                  if s.generation is not None or s.last_error and s.routes_calls}
    return sorted(unique.values(), key=lambda s: s.path)


def poller() -> Poller:
    """The process's gateway poller."""
    return _process.poller


def retired_count() -> int:
    """Replaced generations still used by a call (or not yet freed)."""
    with _process.lock:
        return len(_process.retired)


def _retire(generation: Generation) -> None:
    with _process.lock:
        _process.retired.append(generation)


_serving = threading.Lock()


def _swapped(store: RulesStore) -> None:
    """A rules file has a new generation: serve the metrics endpoints every file in force asks for.

    Under one lock from reading the stores to serving, so that two files swapping at once cannot
    serve an older list after a newer one (and close the other file's endpoint)."""
    with _serving:
        listens = [s.generation.rules.defaults.metrics_listen for s in loaded_stores() if s.generation is not None]
        metrics_http.serve([listen for listen in listens if listen is not None], _render)


def _render() -> str:
    return scrape.text(loaded_stores(), _process.poller)


def forget_all() -> None:
    """Drop every store, deck, reading and endpoint (tests; the next call loads afresh)."""
    global _process
    old = _process
    for store in set(old.stores.values()):
        store.close()
    old.poller.stop()
    metrics_http.stop()
    fraud.forget()
    _process = _Process()

