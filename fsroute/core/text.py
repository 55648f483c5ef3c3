"""Untrusted text made safe for one log or error line."""

from __future__ import annotations

import difflib
from typing import Iterable, Optional


def one_line(text: str | None, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with unprintable ones escaped: never a newline,
    never a megabyte. None reads as "(none)"."""
    if text is None:
        return "(none)"
    head = text[:limit]
    if not head.isprintable():
        head = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in head)
    return head if len(text) <= limit else head + "...(%d chars)" % len(text)


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` on one line, even for an exception whose str() fails."""
    try:
        message = one_line(str(exc), limit)
    except Exception:
        message = "(unprintable)"
    return "%s: %s" % (type(exc).__name__, message)


def closest(word: object, choices: Iterable[object]) -> Optional[str]:
    """The one of ``choices`` closest to a misspelt ``word``, or None when none is close."""
    close = difflib.get_close_matches(str(word), sorted(str(c) for c in choices), n=1)
    return close[0] if close else None


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, else ""."""
    close = closest(word, choices)
    return " (did you mean '%s'?)" % close if close else ""
