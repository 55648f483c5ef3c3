"""A number table: CSV/TSV rows -> sorted 64-bit keys and a small id per row into its distinct values.

Carriers route by tables of millions of numbers (DIDs to customers, prefix
tables, blocklists, portability). A table is read like a rate deck
(rowfile.py: the same delimiter and header rules, problems as file:line,
keys that sort like their digits) and kept in ``array`` columns: 8 bytes of
key and 1, 2 or 4 bytes of value id a row (plus 16 when the table has
effective dates). What a row says beyond its key (its target, number,
variables: the columns the rules map) is one tuple of cells, and most
tables have few distinct ones (a million DIDs of a few hundred customers):
each distinct tuple is kept once, in ``values``.

``exact`` tables find a whole number, ``prefix`` tables its longest prefix.
Columns the layout does not name are ignored (a description, a note). A
key may start with one ``+`` (E.164's), which is not part of it: ``+1555``
and ``1555`` are one key, and a number looked up drops its ``+`` too. A
table whose layout has no header is a plain list, one key a line, as
mod_blacklist reads its files.
"""

from __future__ import annotations

import bisect
import operator
from array import array
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from . import rowfile
from .model import Layout, RulesError
from .rowfile import FOREVER, MAX_DIGITS, NEVER, POW10

KINDS = ("exact", "prefix")
_WIDER = {"B": "H", "H": "i"}  # value ids grow as distinct values do
_LIMIT = {"B": 1 << 8, "H": 1 << 16, "i": 1 << 31}

Cells = Tuple[str, ...]


class Table:
    """One table file's rows, sorted by key (rows of one key by effective_from); read-only."""

    def __init__(self, filename: str, layout: Layout, keys: array[int], ids: array[int], values: List[Cells],
                 value_lines: array[int], starts: Optional[array[int]], ends: Optional[array[int]]) -> None:
        self.filename = filename
        self.layout = layout
        self.keys = keys
        self.ids = ids                    # per row: its index into values
        self.values = values              # the distinct cell tuples
        self.value_lines = value_lines    # per value: the first line that has it (its problems are said there)
        self.starts = starts              # None when the table has no effective dates
        self.ends = ends
        self.index = rowfile.index_of(keys)
        self.loaded_at: Optional[float] = None  # epoch seconds, set by whoever loads it (core reads no clock)

    def __len__(self) -> int:
        return len(self.keys)

    def nbytes(self) -> int:
        """Bytes held by the arrays (the distinct values are not counted)."""
        columns = [self.keys, self.ids, self.value_lines, self.index.bounds]
        columns += [c for c in (self.starts, self.ends) if c is not None]
        return sum(c.itemsize * len(c) for c in columns)

    def find(self, digits: str, now: float) -> int:
        """The row for ``digits`` (ASCII digits) in force at ``now``: the whole number's in an exact table,
        its longest prefix's in a prefix table; -1 when there is none."""
        if self.layout.kind == "prefix":
            return rowfile.longest(self.keys, self.index, self.starts, self.ends, digits, now)
        size = len(digits)
        if size > MAX_DIGITS:
            return -1
        padded = int(digits) * POW10[size]
        key = padded << 4 | size
        low, high = rowfile.run_of(self.index, padded)
        keys = self.keys
        i = bisect.bisect_left(keys, key, low, high)
        starts, ends = self.starts, self.ends
        while i < len(keys) and keys[i] == key:
            if starts is None or ends is None or starts[i] <= now < ends[i]:
                return i
            i += 1
        return -1

    def key(self, row: int) -> str:
        """Row ``row``'s number or prefix."""
        return rowfile.key_digits(self.keys[row])

    def cells(self, row: int) -> Cells:
        """Row ``row``'s cells of the layout's value columns."""
        return self.values[self.ids[row]]


def load(path: str, layout: Layout) -> Table:
    """Read and parse the table at ``path``; raises RulesError listing every bad row."""
    return rowfile.load(path, "table", lambda lines, name: parse(lines, layout, name))


def parse(lines: Iterable[str], layout: Layout, filename: str = "<table>") -> Table:
    """Build a Table from text lines (a file opened with newline="")."""
    return _Builder(filename).build(lines, layout)


class _Builder(rowfile.RowReader):
    def build(self, source: Iterable[str], layout: Layout) -> Table:
        lines = iter(source)
        delimiter, names = rowfile.header(next(lines, "")) if layout.header else ("\t", [layout.key])
        line = 1 if layout.header else 0
        where = self.columns(names, layout)
        if where is None:
            raise RulesError(self.problems())
        key_at, value_at = where[0], where[1:]
        from_at = names.index(layout.effective_from) if layout.effective_from else -1
        to_at = names.index(layout.effective_to) if layout.effective_to else -1
        dated = from_at >= 0 or to_at >= 0
        needed = max([key_at, from_at, to_at] + list(value_at))
        keys, ids, value_lines = array("q"), array("B"), array("i")
        starts: Optional[array[int]] = array("q") if dated else None
        ends: Optional[array[int]] = array("q") if dated else None
        distinct: Dict[Cells, int] = {}
        by_raw: Dict[object, int] = {}  # the cells as the file writes them (one C call a row) -> value id
        cells_of: Callable[[List[str]], object] = operator.itemgetter(*value_at) if value_at else _none
        skips: List[int] = []
        pow10, split, is_digits = POW10, rowfile.split, rowfile.is_digits
        add_key = keys.append
        limit = _LIMIT[ids.typecode]
        ordered = True
        last, last_start = -1, NEVER
        start, end = NEVER, FOREVER
        for text in lines:
            line += 1
            row = split(text, delimiter)
            if len(row) <= needed:
                self.short_row(row, needed, line, len(names))
                skips.append(len(keys))
                continue
            number = row[key_at]
            if not (number.isdigit() and number.isascii() and len(number) <= MAX_DIGITS):
                number = number.strip()
                if number[:1] == "+":
                    number = number[1:]
                if not is_digits(number):
                    if number or any(field.strip() for field in row):
                        self.problem(line, "%s %r must be 1 to %d digits 0-9" % (layout.key, number[:40],
                                                                                  MAX_DIGITS), "key")
                    skips.append(len(keys))
                    continue
            if dated:
                found = self.dates_of(row, from_at, to_at, line)
                if found is None:
                    skips.append(len(keys))
                    continue
                start, end = found
            size = len(number)
            key = int(number) * pow10[size] << 4 | size
            raw = cells_of(row)
            value = by_raw.get(raw)
            if value is None:  # cells not seen as written: maybe seen with other spaces around them
                cells = tuple([row[i].strip() for i in value_at])
                value = distinct.get(cells)
                if value is None:
                    value = distinct[cells] = len(distinct)
                    value_lines.append(line)
                    if value >= limit:
                        ids = array(_WIDER[ids.typecode], ids)
                        limit = _LIMIT[ids.typecode]
                by_raw[raw] = value
            if key < last or (key == last and start < last_start):
                ordered = False
            last, last_start = key, start
            add_key(key)
            ids.append(value)
            if starts is not None and ends is not None:
                starts.append(start)
                ends.append(end)
        order: Optional[array[int]] = None
        if not ordered:
            order = rowfile.sort_order(keys, starts)
            keys, ids = rowfile.reordered(keys, order), rowfile.reordered(ids, order)
            starts, ends = rowfile.reordered_optional(starts, order), rowfile.reordered_optional(ends, order)
        what = "number" if layout.kind == "exact" else "prefix"
        first = 2 if layout.header else 1
        self.check_overlaps(keys, starts, ends, rowfile.line_finder(order, skips, first), what)
        if self.kinds:
            raise RulesError(self.problems())
        return Table(self.filename, layout, keys, ids, list(distinct), value_lines, starts, ends)

    def columns(self, names: List[str], layout: Layout) -> Optional[List[int]]:
        """[key index, value indexes...] from the header row, or None after reporting."""
        seen: Dict[str, int] = {}
        for index, name in enumerate(names):
            if name in seen and name:
                self.problem(1, "column '%s' appears twice" % name)
            seen.setdefault(name, index)
        wanted = [layout.key] + list(layout.values)
        wanted += [c for c in (layout.effective_from, layout.effective_to) if c]
        for name in wanted:
            if name not in seen:
                self.problem(1, "the header row must name the columns; '%s' is missing (it has: %s)"
                             % (name, ", ".join(n for n in names if n)[:200] or "none"))
        return None if self.kinds else [seen[name] for name in [layout.key] + list(layout.values)]


def _none(row: List[str]) -> object:
    """The cells of a table that keeps none (a blocklist: the rules give every row's target)."""
    return None
