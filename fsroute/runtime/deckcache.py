"""Rate decks for generations: read off the call path, once per version of a file, freed when unused.

A generation names its decks by path, and building it asks ``DeckCache.read``
for each. A deck whose file still has the stat signature it was read with is
reused, whichever generation or rules file read it; a changed file is parsed
in the builder's thread, never in a call's. The cache holds decks weakly:
the generations hold them, and a deck that no generation references any
more is freed with the last one that did.

A deck file written less than SETTLE_SECONDS ago may still be being copied
(a carrier's deck is tens of megabytes, and a half-copied file can parse as
a valid but shorter deck). An automatic reload does not read such a file yet
(``NotSettled``): the generation is built again at a later check. The very
first load and ``ctl reload`` read it at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from typing import Any, Callable, Tuple

from fsroute.core import decks
from fsroute.core.model import Problem, RulesError
from .files import file_signature, written_within
from .fslog import INFO, log

SETTLE_SECONDS = 2.0


class NotSettled(Exception):
    """A deck file changed moments ago: read it once it has been still for SETTLE_SECONDS."""


class LoadedDeck:
    """One version of a deck file as read: the Deck, and what the file was when it was read."""

    __slots__ = ("path", "deck", "signature", "sha256", "loaded_at", "__weakref__")

    def __init__(self, path: str, deck: decks.Deck, signature: Tuple[Any, ...], sha256: str,
                 loaded_at: float) -> None:
        self.path = path
        self.deck = deck
        self.signature = signature
        self.sha256 = sha256
        self.loaded_at = loaded_at  # epoch seconds


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RulesError([Problem(path, 0, 0, "cannot read the rate deck: %s" % (exc.strerror or exc))])
    return digest.hexdigest()


class DeckCache:
    """The decks read in this process, by path, held weakly. ``wall`` (epoch seconds) is injectable."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._decks: "weakref.WeakValueDictionary[str, LoadedDeck]" = weakref.WeakValueDictionary()
        self._lock = threading.Lock()  # one parse at a time: two rules files naming one deck read it once

    def read(self, path: str, settle: bool = True) -> LoadedDeck:
        """The deck at ``path`` as the file is now; raises RulesError (with file:line) or, with
        ``settle`` (an automatic reload, not one an operator asked for), NotSettled."""
        signature = file_signature(path)
        with self._lock:
            known = self._decks.get(path)
            if known is not None and known.signature == signature:
                return known
            if settle and written_within(signature, self._wall(), SETTLE_SECONDS):
                raise NotSettled(path)  # a new or changed file that may still be being copied
            sha256 = _sha256(path)
            if known is not None and known.sha256 == sha256:  # the same content, rewritten
                loaded = LoadedDeck(path, known.deck, signature, sha256, known.loaded_at)
            else:
                started = time.perf_counter()
                deck = decks.load(path)
                log(INFO, "fsroute: loaded rate deck %s rows=%d in %.1f s"
                    % (path, len(deck), time.perf_counter() - started))
                loaded = LoadedDeck(path, deck, signature, sha256, self._wall())
                deck.loaded_at = loaded.loaded_at  # explanations say which version of a deck ranked a call
            self._decks[path] = loaded
            return loaded
