"""Files loaded off the call path (rate decks, number tables): read once per version, freed when unused.

A generation names its decks and tables by path, and building it asks
``FileCache.read`` for each. A file that still has the stat signature it
was read with is reused, whichever generation or rules file read it (for a
table, read with the same layout); a changed file is parsed in the
builder's thread, never in a call's. The cache holds what it read weakly:
the generations hold it, and a file's content that no generation references
any more is freed with the last one that did.

A file written less than SETTLE_SECONDS ago may still be being copied
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
from typing import Any, Callable, Hashable, Optional, Tuple

from fsroute.core import decks
from fsroute.core.collector import young_collections_only
from fsroute.core.model import Problem, RulesError
from .files import file_signature, written_within
from .fslog import INFO, log

SETTLE_SECONDS = 2.0


class NotSettled(Exception):
    """A file changed moments ago: read it once it has been still for SETTLE_SECONDS."""


class LoadedFile:
    """One version of a file as read: its content (a Deck, a Table), and what the file was when read."""

    __slots__ = ("path", "content", "signature", "sha256", "loaded_at", "__weakref__")

    def __init__(self, path: str, content: Any, signature: Tuple[Any, ...], sha256: str,
                 loaded_at: float) -> None:
        self.path = path
        self.content = content
        self.signature = signature
        self.sha256 = sha256
        self.loaded_at = loaded_at  # epoch seconds


def _sha256(path: str, what: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RulesError([Problem(path, 0, 0, "cannot read the %s: %s" % (what, exc.strerror or exc))])
    return digest.hexdigest()


class FileCache:
    """The files read in this process, by path and how they were read, held weakly. ``wall`` (epoch
    seconds) is injectable."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._files: "weakref.WeakValueDictionary[Hashable, LoadedFile]" = weakref.WeakValueDictionary()
        self._lock = threading.Lock()  # one parse at a time: two rules files naming one file read it once

    def read(self, path: str, settle: bool = True, load: Optional[Callable[[str], Any]] = None,
             how: Hashable = None, what: str = "rate deck") -> LoadedFile:
        """The file at ``path`` as it is now, parsed by ``load(path)`` (None: decks.load; ``how`` tells
        apart two ways of
        reading one file; ``what`` it is, for the log); raises RulesError (with file:line) or, with
        ``settle`` (an automatic reload, not one an operator asked for), NotSettled."""
        signature = file_signature(path)
        key = (path, how)
        with self._lock:
            known = self._files.get(key)
            if known is not None and known.signature == signature:
                return known
            if settle and written_within(signature, self._wall(), SETTLE_SECONDS):
                raise NotSettled(path)  # a new or changed file that may still be being copied
            sha256 = _sha256(path, what)
            if known is not None and known.sha256 == sha256:  # the same content, rewritten
                loaded = LoadedFile(path, known.content, signature, sha256, known.loaded_at)
            else:
                started = time.perf_counter()
                with young_collections_only():  # no full GC pass over the process while it reads
                    content = (load or decks.load)(path)
                log(INFO, "fsroute: loaded %s %s rows=%d in %.1f s"
                    % (what, path, len(content), time.perf_counter() - started))
                loaded = LoadedFile(path, content, signature, sha256, self._wall())
                content.loaded_at = loaded.loaded_at  # explanations say which version of a file decided a call
            self._files[key] = loaded
            return loaded
