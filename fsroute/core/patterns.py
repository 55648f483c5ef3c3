"""Route regexes, compiled when first searched rather than at load.

Python's ``re.compile`` costs 20-80 us a pattern: two to eight seconds and
~100 MB for a table of 100,000 prefix routes, most of which a given day's
traffic never touches. Patterns of the plain shape such tables use
(``^00(44\\d{6,12})$``: literals, ``\\d``, simple classes, groups and
quantifiers, no alternation) are checked by a small scanner that knows they
compile and how many groups they have; they compile on their first search.
Anything else is compiled at load, so a bad regex is always reported then.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple, Union

FLAGS = re.ASCII  # \d is [0-9], as in FreeSWITCH's PCRE

_LITERALS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#_-")
_ESCAPABLE = frozenset("+*.#-?()[]{}$^\\")
_CLASS_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# sre's parser recurses per nested group, and FreeSWITCH's threads allow
# about 240 frames: deeper patterns are compiled (and refused) at load.
MAX_DEPTH = 8
_LITERAL_RUN_RE = re.compile(r"[0-9A-Za-z#_-]+")  # _LITERALS, several at a time
_REPEAT_RE = re.compile(r"\{([0-9]{1,4})(?:(,)([0-9]{0,4}))?\}")
# The shape most routes of a carrier table have, read in one match instead of by the scanners:
# ^00(4420\d{5,11})$, ^\+(\d{7,15})$, ^(\d+)$. One group; its literal prefix is the digits.
_USUAL_RE = re.compile(r"\^((?:\\\+)?[0-9]*)\(([0-9]*)\\d(?:\{([0-9]{1,4}),([0-9]{1,4})\}|[+*])\)\$")


def _class_end(pattern: str, i: int) -> int:
    """Index past a plain class ``[0-9a-f...]`` starting at ``i``, or -1 if it is not one."""
    end = pattern.find("]", i + 1)
    body = pattern[i + 1:end] if end > 0 else ""
    if not body:
        return -1
    j = 0
    while j < len(body):
        if body[j] not in _CLASS_CHARS:
            return -1
        if j + 2 < len(body) and body[j + 1] == "-":
            if body[j + 2] not in _CLASS_CHARS or body[j + 2] < body[j]:
                return -1
            j += 3
        else:
            j += 1
    return end + 1


def simple_groups(pattern: str) -> Optional[int]:
    """The number of capturing groups if ``pattern`` is of the plain shape (so surely valid), else None."""
    i = 1 if pattern.startswith("^") else 0
    n = len(pattern)
    groups = 0
    depth = 0
    can_repeat = False  # whether a quantifier may follow here
    while i < n:
        c = pattern[i]
        if c in _LITERALS:
            i = _LITERAL_RUN_RE.match(pattern, i).end()  # type: ignore[union-attr]  # c is one
            can_repeat = True
        elif c == "\\":
            if i + 1 >= n or not (pattern[i + 1] in _ESCAPABLE or pattern[i + 1] == "d"):
                return None
            i += 2
            can_repeat = True
        elif c == "[":
            i = _class_end(pattern, i)
            if i < 0:
                return None
            can_repeat = True
        elif c == "(":
            if pattern.startswith("(?:", i):
                i += 3
            elif pattern.startswith("(?", i):
                return None
            else:
                groups += 1
                i += 1
            depth += 1
            if depth > MAX_DEPTH:
                return None
            can_repeat = False
        elif c == ")":
            if depth == 0:
                return None
            depth -= 1
            i += 1
            can_repeat = True
        elif c in "?*+":
            if not can_repeat:
                return None
            i += 1
            can_repeat = False
        elif c == "{":
            found = _REPEAT_RE.match(pattern, i)
            if not can_repeat or not found:
                return None
            low, comma, high = found.groups()
            if comma and high and int(high) < int(low):
                return None
            i = found.end()
            can_repeat = False
        elif c == "$" and i == n - 1:
            i += 1
        else:
            return None
    return groups if depth == 0 else None


class LazyPattern:
    """A plain-shaped regex that compiles on its first ``search`` (see the module doc)."""

    __slots__ = ("pattern", "groups", "prefix", "_compiled")
    flags = FLAGS

    def __init__(self, pattern: str, groups: int, prefix: Optional[str] = None) -> None:
        self.pattern = pattern
        self.groups = groups
        self.prefix = prefix  # the literal text every match starts with, when known (index.literal_prefix)
        self._compiled: Optional[re.Pattern[str]] = None

    def __eq__(self, other: object) -> bool:  # as re.Pattern's: the same pattern is the same regex
        return type(other) is LazyPattern and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def search(self, text: str) -> Optional[re.Match[str]]:
        compiled = self._compiled
        if compiled is None:  # two threads may both compile: the same result either way
            compiled = self._compiled = re.compile(self.pattern, FLAGS)
        return compiled.search(text)


# Constructs Python's re accepts but FreeSWITCH's PCRE2 reads differently (measured
# with the switch's `regex` API: tests/integration/test_regex_differential.py).
_PCRE_DIFFERENCES: Tuple[Tuple["re.Pattern[str]", str], ...] = (
    (re.compile(r"\[:\^?[A-Za-z]+:\]"), "POSIX class %s: Python's re reads it as a set of characters, "
     "FreeSWITCH's PCRE2 as a character class; write [0-9], [A-Za-z]..."),
    (re.compile(r"(?<!\\)\{,[0-9]*\}"), "%s: Python's re reads it as {0,n}, FreeSWITCH's PCRE2 as the "
     "literal text; write {0,n}"),
    (re.compile(r"(?<!\\)\\[uUN]"), "escape %s: Python's re reads it as a character, FreeSWITCH's PCRE2 "
     "refuses it (the condition never matches); write the character class you mean"),
    (re.compile(r"[^\x00-\x7f]"), "non-ASCII character %r: FreeSWITCH's PCRE2 matches bytes, Python's re "
     "characters, so '.', classes and counts differ; use ASCII only"),
)


def pcre_difference(pattern: str) -> Optional[str]:
    """Why ``pattern`` means something else to FreeSWITCH's PCRE2 than to Python's re, or None."""
    for finder, message in _PCRE_DIFFERENCES:
        found = finder.search(pattern)
        if found:
            return message % (found.group(0),)
    return None


# What a route matches with: a LazyPattern, or a pattern compiled at load.
Regex = Union[LazyPattern, "re.Pattern[str]"]


def compile_route_regex(pattern: str) -> Regex:
    """A LazyPattern for a plain-shaped pattern, else ``re.compile`` (raises re.error).

    Constructs whose meaning differs in FreeSWITCH's PCRE2 raise re.error too.
    """
    usual = _USUAL_RE.fullmatch(pattern)
    if usual is not None and (usual.group(3) is None or int(usual.group(3)) <= int(usual.group(4))):
        return LazyPattern(pattern, 1, usual.group(1).replace("\\+", "+") + usual.group(2))
    groups = simple_groups(pattern)
    if groups is not None:
        return LazyPattern(pattern, groups)
    difference = pcre_difference(pattern)
    if difference is not None:
        raise re.error(difference)
    return re.compile(pattern, FLAGS)
