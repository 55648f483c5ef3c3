"""What a stat says of a watched file: the rules file and the rate decks reload when it changes."""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple


def file_signature(path: str) -> Tuple[Any, ...]:
    """(mtime_ns, size, inode, mode) of ``path``, or ("unreadable", errno): any change means reload
    (the mode too: a file made readable again is read again, though its content did not change)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return ("unreadable", exc.errno)
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)


def same_inode(signature: Tuple[Any, ...], other: Optional[Tuple[Any, ...]]) -> bool:
    """Whether two signatures are of one file (rewritten in place), not of a file renamed over it
    (reliable only while the file of ``other`` is held open: see ``hold``)."""
    return other is not None and len(signature) > 2 and len(other) > 2 and signature[2] == other[2]


def written_within(signature: Tuple[Any, ...], now: float, seconds: float) -> bool:
    """Whether the file of ``signature`` was written less than ``seconds`` before ``now`` (epoch
    seconds): a writer may still be at it, or a same-size rewrite in one mtime tick may go unseen."""
    mtime = signature[0]
    return isinstance(mtime, int) and abs(now - mtime / 1e9) < seconds


def hold(path: str, signature: Tuple[Any, ...]) -> Optional[int]:
    """A descriptor of ``path`` while it is still the file of ``signature``, else None.

    Kept open, it keeps the file's inode number from going to another file:
    filesystems give a freed number to the next new file at once, and an
    editor's save (a new file renamed over the old) would then look like the
    old file rewritten in place (same_inode).
    """
    if len(signature) < 3:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never waits, whatever the path is (a FIFO)
    except OSError:
        return None
    if os.fstat(fd).st_ino != signature[2]:
        os.close(fd)  # replaced since the stat: nothing to hold
        return None
    return fd
