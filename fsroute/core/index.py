"""Find a call's candidate routes without scanning the whole table.

Carrier tables hold one route per destination prefix (``^0044...``), often
a hundred thousand of them. Each route's destination regex is reduced to
the literal text every match must start with; routes are filed under that
prefix, and a call looks up only the prefixes of its own number (at most
its length in dict lookups). Routes with no usable prefix are candidates
for every call. Candidates come back in file order, so "first match wins"
is exactly what a linear scan would give.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Generic, List, Optional, Protocol, Sequence, Tuple, TypeVar, Union

if TYPE_CHECKING:
    from .patterns import Regex


class Routed(Protocol):
    """What the index reads of a route (model.Route is one): its destination regex."""

    @property
    def dest(self) -> Optional[Regex]: ...


Route = TypeVar("Route", bound=Routed)

_QUANTIFIERS = "?*+{"
_META = ".^$[|\\()" + _QUANTIFIERS
_PLAIN_RUN_RE = re.compile(r"[^.^$\[|\\()?*+{]+")   # characters that match themselves
_ORDINARY_RUN_RE = re.compile(r"[^\\\[\]()]+")       # characters _group_ends passes over
# Flags under which a plain character may match something else, or ^ may
# match after a newline: no literal prefix can be trusted then.
_UNSAFE_FLAGS = re.IGNORECASE | re.VERBOSE | re.MULTILINE


def _group_ends(pattern: str) -> Dict[int, int]:
    """{index of '(': index just past its ')'} for the whole pattern, in one pass."""
    ends: Dict[int, int] = {}
    opened: List[int] = []
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if not in_class and c not in "\\[]()":
            i = _ORDINARY_RUN_RE.match(pattern, i).end()  # type: ignore[union-attr]  # c is one
            continue
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern.startswith("^", i + 1):
                i += 1
            if pattern.startswith("]", i + 1):
                i += 1  # a ']' first in a class is a literal
        elif c == "(":
            opened.append(i)
        elif c == ")" and opened:
            ends[opened.pop()] = i + 1
        i += 1
    return ends


def literal_prefix(regex: Regex) -> str:
    """The literal text every match of ``regex`` (a compiled pattern, search semantics) starts with.

    Conservative: '' whenever in doubt (no '^' anchor, any alternation,
    unsafe flags, a group that is quantified or special).
    """
    known: Optional[str] = getattr(regex, "prefix", None)  # a LazyPattern of the usual shape: read at compile
    if known is not None:
        return known
    pattern = regex.pattern
    if not isinstance(pattern, str) or regex.flags & _UNSAFE_FLAGS:
        return ""
    if not pattern.startswith("^") or "|" in pattern or "(?#" in pattern:
        return ""  # (?#...): a quantifier after a comment applies to what came before it
    out = []
    ends = _group_ends(pattern)
    i = 1
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "(":
            if pattern.startswith("(?:", i):
                body = i + 3
            elif pattern.startswith("(?", i):
                break  # lookaround, named group, inline flags
            else:
                body = i + 1
            end = ends.get(i, -1)
            if end < 0 or (end < n and pattern[end] in _QUANTIFIERS):
                break
            i = body
            continue
        if c == ")":
            i += 1
            continue
        if c == "\\":
            if i + 1 >= n or pattern[i + 1].isalnum():
                break  # \d, \w, \A, back-references...
            literal = pattern[i + 1]
            step = 2
        elif c in _META:
            break
        else:  # a run of plain characters: each is in the prefix unless a quantifier follows it
            end = _PLAIN_RUN_RE.match(pattern, i).end()  # type: ignore[union-attr]  # c is one
            following = pattern[end] if end < n else ""
            if following in ("?", "*", "{"):
                out.append(pattern[i:end - 1])
                break
            out.append(pattern[i:end])
            if following == "+":
                break
            i = end
            continue
        following = pattern[i + step] if i + step < n else ""
        if following in ("?", "*", "{"):
            break  # the character may be absent
        out.append(literal)
        if following == "+":
            break
        i += step
    return "".join(out)


class RouteIndex(Generic[Route]):
    """Routes filed by destination prefix; ``candidates(number)`` in file order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        # prefix -> position in the file, or a tuple of them when several routes share the prefix
        # (a plain int for the common single route saves a tuple per route: ~60 bytes each; tuples,
        # not lists, so that the garbage collector stops tracking the dict: routetable.py).
        self._by_prefix: Dict[str, Union[int, List[int], Tuple[int, ...]]] = {}
        self._everywhere: List[int] = []     # positions of routes without a prefix
        self._max_len = 0
        by_prefix = self._by_prefix
        for position, route in enumerate(routes):
            prefix = literal_prefix(route.dest) if route.dest is not None else ""
            if prefix:
                filed = by_prefix.get(prefix)
                if filed is None:
                    by_prefix[prefix] = position
                elif isinstance(filed, int):
                    by_prefix[prefix] = [filed, position]
                else:
                    filed.append(position)  # type: ignore[union-attr]  # only lists while building
                self._max_len = max(self._max_len, len(prefix))
            else:
                self._everywhere.append(position)
        for prefix, filed in by_prefix.items():
            if type(filed) is list:
                by_prefix[prefix] = tuple(filed)
        self.read_from(routes)

    def read_from(self, routes: Sequence[Route]) -> None:
        """Calls get their routes from ``routes``: the same routes, as compile_rules stores them."""
        self._routes = routes
        self._everywhere_routes = [routes[p] for p in self._everywhere]

    def candidates(self, number: str) -> List[Route]:
        """The routes that may match ``number``, in file order (a shared list: do not change it)."""
        by_prefix = self._by_prefix
        found = [by_prefix[number[:n]] for n in range(1, min(len(number), self._max_len) + 1)
                 if number[:n] in by_prefix]
        if not found:
            return self._everywhere_routes
        routes = self._routes
        if len(found) == 1 and not self._everywhere:
            filed = found[0]
            if isinstance(filed, int):
                return [routes[filed]]
            return [routes[p] for p in filed]
        positions = list(self._everywhere)
        for filed in found:
            if isinstance(filed, int):
                positions.append(filed)
            else:
                positions.extend(filed)
        positions.sort()
        return [routes[p] for p in positions]
