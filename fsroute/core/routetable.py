"""The routes of a big rule set, kept where the cyclic garbage collector does not look.

A full pass of CPython's collector walks every object it tracks while holding
the GIL, and every call thread waits through it. A rule set of 100,000 routes
is 200,000 such objects (each Route and its LazyPattern): a pass took 100-150
ms, and a reload is sure to start one. CPython stops tracking an exact tuple
whose items are all untracked (strings, numbers, None, such tuples), but never
a NamedTuple. So, from PACK_FROM routes on, each plain route (a plain-shaped
destination regex or none, no other condition, leg setting, time condition,
lcr or policy: a carrier table's routes) is kept as such a tuple and made a
Route again when read. Routes once read stay made, so the routes a day's
traffic uses keep their compiled regex, until RECENT of them are: then all
are let go and made again as calls read them. Other routes are kept as they are.
"""

from __future__ import annotations

import gc
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union, overload

from .model import NO_DIALLING, Route
from .patterns import LazyPattern

PACK_FROM = 1000   # fewer routes cost a full pass under a millisecond: kept as Routes
RECENT = 4096      # routes kept made at most: about 2 KB each with a compiled regex
STEP = 2000        # routes packed between two young GC passes

Row = Union[Route, Tuple[object, ...]]
_DEST, _DIALLING = Route._fields.index("dest"), Route._fields.index("dialling")


def stored(routes: List[Route]) -> Sequence[Route]:
    """``routes`` as calls read them: a RouteTable from PACK_FROM routes on (``routes`` is emptied
    then), else a tuple."""
    if len(routes) < PACK_FROM:
        return tuple(routes)
    return RouteTable(routes)


def rows_of(routes: Sequence[Route]) -> Sequence[object]:
    """What holds ``routes`` in memory (a RouteTable's rows, else the routes): to free them in steps."""
    return routes.rows if isinstance(routes, RouteTable) else routes


def labels(routes: Sequence[Route]) -> Iterator[Tuple[str, int]]:
    """(name, line) of each route in file order, without making a big set's routes (explain's walk)."""
    if not isinstance(routes, RouteTable):
        return ((route.name, route.line) for route in routes)
    kept = routes.kept
    return ((row[0], row[1]) if row is not None else (kept[i].name, kept[i].line)  # type: ignore[misc]
            for i, row in enumerate(routes.rows))


class RouteTable(Sequence[Route]):
    """Routes in file order; plain ones stored as untracked tuples (see the module doc)."""

    def __init__(self, routes: List[Route]) -> None:
        """Takes the routes out of ``routes`` one by one, the last first: each route goes as its row
        is made, and the next row takes its memory (a set of routes and one of rows at once kept
        180 bytes a route more resident)."""
        # None where a route is kept as it is: one tracked item would keep the whole tuple tracked,
        # and every full pass would walk its 100,000 items
        rows: List[Optional[Row]] = [None] * len(routes)
        self.kept: Dict[int, Route] = {}
        for position in range(len(routes) - 1, -1, -1):
            route = routes.pop()
            row = _packed(route)
            if row is route:
                self.kept[position] = route
            else:
                rows[position] = row
            if position % STEP == 0:
                # a young pass, which stops tracking the rows made so far: a route freed for each row
                # made leaves the collector's count of new objects flat, so none would come by itself,
                # and the first pass after the load would take all 100,000 rows at once
                gc.collect(0)
        self.rows: Tuple[Optional[Row], ...] = tuple(rows)
        self._made: Dict[int, Route] = {}  # position -> the route made of it (dict calls are atomic)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, position: int) -> Route: ...

    @overload
    def __getitem__(self, position: slice) -> Tuple[Route, ...]: ...

    def __getitem__(self, position: Union[int, slice]) -> Union[Route, Tuple[Route, ...]]:
        if isinstance(position, slice):
            return tuple(self._fresh(i) for i in range(*position.indices(len(self.rows))))
        row = self.rows[position]
        if position < 0:
            position += len(self.rows)
        if row is None:
            return self.kept[position]
        made = self._made
        route: Optional[Route] = made.get(position)
        if route is None:
            if len(made) >= RECENT:
                made.clear()
            route = made.setdefault(position, _made(row))
        return route

    def __iter__(self) -> Iterator[Route]:
        """Every route, made afresh (a walk over all of them would only fill the made ones up)."""
        return (self._fresh(i) for i in range(len(self.rows)))

    def _fresh(self, position: int) -> Route:
        row = self.rows[position]
        return self.kept[position] if row is None else _made(row)


def _packed(route: Route) -> Row:
    """A plain route as a flat tuple of untracked values (dest as its pattern and group count, no
    dialling: the empty one), else the route. Flat: the collector untracks a tuple only when it finds
    the tuples inside it untracked first, which a pass over newly built rows does not always do."""
    dest = route.dest
    if (route.conditions or route.dialling is not NO_DIALLING or route.transfer is not None
            or route.timing is not None or route.lcr is not None or route.policy is not None
            or not (dest is None or type(dest) is LazyPattern)
            or not (route.number is None or type(route.number) is tuple)):
        return route
    return (route[:_DEST] + ((dest.pattern, dest.groups) if dest is not None else (None, None))
            + route[_DEST + 1:_DIALLING] + route[_DIALLING + 1:])


def _made(row: Row) -> Route:
    """The Route a packed row holds."""
    pattern = row[_DEST]
    dest = LazyPattern(pattern, row[_DEST + 1]) if pattern is not None else None  # type: ignore[arg-type]
    return Route._make(row[:_DEST] + (dest,) + row[_DEST + 2:_DIALLING + 1]
                       + (NO_DIALLING,) + row[_DIALLING + 1:])
