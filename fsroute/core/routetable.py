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
CHUNK_BITS = 11    # rows are kept in chunks of 2,048, each made untracked by a young pass as it is made
CHUNK = 1 << CHUNK_BITS

Row = Union[Route, Tuple[object, ...]]
_DEST, _DIALLING = Route._fields.index("dest"), Route._fields.index("dialling")


def stored(routes: List[Route]) -> Sequence[Route]:
    """``routes`` as calls read them: a RouteTable from PACK_FROM routes on (``routes`` is emptied
    then), else a tuple."""
    if len(routes) < PACK_FROM:
        return tuple(routes)
    return RouteTable(routes)


def chunks_of(routes: Sequence[Route]) -> Sequence[Sequence[object]]:
    """What holds ``routes`` in memory, in chunks of at most CHUNK (a RouteTable's chunks, else the
    routes, fewer than PACK_FROM, as one): to free them a chunk at a time."""
    return routes.chunks if isinstance(routes, RouteTable) else (routes,)


def labels(routes: Sequence[Route]) -> Iterator[Tuple[str, int]]:
    """(name, line) of each route in file order, without making a big set's routes (explain's walk)."""
    if not isinstance(routes, RouteTable):
        return ((route.name, route.line) for route in routes)
    kept = routes.kept
    return ((row[0], row[1]) if row is not None else (kept[i].name, kept[i].line)  # type: ignore[misc]
            for i, row in enumerate(routes.rows()))


class RouteTable(Sequence[Route]):
    """Routes in file order; plain ones stored as untracked tuples (see the module doc)."""

    def __init__(self, routes: List[Route]) -> None:
        """Takes the routes out of ``routes`` one by one, the last first: each route goes as its row
        is made, and the next row takes its memory (a set of routes and one of rows at once kept
        180 bytes a route more resident)."""
        # Chunks, not one tuple of every row: the young pass that first sees a tuple reads each of its
        # items, and one of 100,000 rows took 3-4 ms, as long as the GIL is held. None where a route is
        # kept as it is: one tracked item would keep its chunk tracked, walked by every full pass.
        count = len(routes)
        chunks: List[Tuple[Optional[Row], ...]] = [()] * ((count + CHUNK - 1) >> CHUNK_BITS)
        chunk: List[Optional[Row]] = []
        self.kept: Dict[int, Route] = {}
        for position in range(count - 1, -1, -1):
            route = routes.pop()
            row: Optional[Row] = _packed(route)
            if row is route:
                self.kept[position] = route
                row = None
            chunk.append(row)
            if position & (CHUNK - 1) == 0:
                # a young pass, which stops tracking the rows made so far: a route freed for each row
                # made leaves the collector's count of new objects flat, so none would come by itself,
                # and the first pass after the load would take every row at once. The chunk comes
                # after it: a pass may look at a tuple before the tuples in it, and keep it tracked.
                gc.collect(0)
                chunk.reverse()
                chunks[position >> CHUNK_BITS] = tuple(chunk)
                chunk = []
        gc.collect(0)  # and the chunks
        self.chunks: Tuple[Tuple[Optional[Row], ...], ...] = tuple(chunks)
        self._count = count
        self._made: Dict[int, Route] = {}  # position -> the route made of it (dict calls are atomic)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, position: int) -> Route: ...

    @overload
    def __getitem__(self, position: slice) -> Tuple[Route, ...]: ...

    def __getitem__(self, position: Union[int, slice]) -> Union[Route, Tuple[Route, ...]]:
        if isinstance(position, slice):
            return tuple(self._fresh(i) for i in range(*position.indices(self._count)))
        if position < 0:
            position += self._count
        if not 0 <= position < self._count:
            raise IndexError("route position out of range")
        row = self.chunks[position >> CHUNK_BITS][position & (CHUNK - 1)]
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
        return (self.kept[i] if row is None else _made(row) for i, row in enumerate(self.rows()))

    def rows(self) -> Iterator[Optional[Row]]:
        """Each route's row in file order, None for a route kept as it is."""
        return (row for chunk in self.chunks for row in chunk)

    def _fresh(self, position: int) -> Route:
        row = self.chunks[position >> CHUNK_BITS][position & (CHUNK - 1)]
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
