"""A carrier's rate deck: CSV/TSV rows -> a compact, sorted prefix table; every bad row as file:line.

A deck holds up to millions of rows, so it is kept in ``array`` columns,
not in Python objects: about 36 bytes a row in the arrays, under one more
for the index. Prefixes are 64-bit keys that sort like the digit strings
(rowfile.py, which also reads the file and reports its problems), so one
``bisect`` over the sorted keys (only those that share the number's first
digits) finds the longest matching prefix, or at most a few more when the
nearest key is not a prefix of the number (see ``rowfile.longest``).

The first row names the columns (any order, case-insensitive): ``prefix``
and ``rate`` are required; ``connect_fee``, ``increments`` ("60/60"),
``effective_from``, ``effective_to`` and ``description`` are optional.
Rates are kept in micro-units (6 decimal places). Dates are ISO 8601
(``2026-01-01`` or ``2026-01-01T08:00:00+01:00``), UTC unless they say
otherwise; ``effective_to`` is exclusive; an empty date is unbounded; any
empty optional cell means none (no fee, no increments, no description).
"""

from __future__ import annotations

from array import array
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from .model import RulesError
from . import rowfile
from .rowfile import FOREVER as FOREVER, MAX_DIGITS as MAX_DIGITS, NEVER as NEVER, POW10
from .rowfile import READ_BYTES as READ_BYTES, Bad, date_text as date_text, key_digits as key_digits
from .rowfile import read_lines as read_lines

MICRO = 1000000
MAX_MONEY = 10 ** 9 * MICRO

COLUMNS = ("prefix", "rate", "connect_fee", "increments", "effective_from", "effective_to", "description")


class Rate(NamedTuple):
    """One deck row as the ranking shows it."""
    prefix: str
    rate: int              # micro-units per minute
    connect_fee: int       # micro-units
    increments: str        # "initial/next" seconds, "" when the deck has none
    effective_from: int    # epoch seconds, NEVER when unbounded
    effective_to: int      # epoch seconds (exclusive), FOREVER when unbounded
    description: str


class Deck:
    """One carrier's rates, sorted by prefix key (rows of one prefix by effective_from); read-only."""

    def __init__(self, filename: str, keys: array[int], rates: array[int], starts: array[int], ends: array[int],
                 fees: Optional[array[int]], increments: Optional[array[int]], descriptions: List[str],
                 description_ids: Optional[array[int]]) -> None:
        self.filename = filename
        self.keys = keys
        self.index = rowfile.index_of(keys)
        self.rates = rates
        self.starts = starts
        self.ends = ends
        self.fees = fees                  # None when the deck has no connect_fee column
        self.increments = increments      # None, or initial and next seconds interleaved (0, 0: none)
        self.descriptions = descriptions  # the distinct descriptions, by id
        self.description_ids = description_ids  # None when the deck has no description column
        self.loaded_at: Optional[float] = None  # epoch seconds, set by whoever loads it (core reads no clock)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, digits: str, now: float) -> int:
        """The row of the longest prefix of ``digits`` (ASCII digits) whose rate is effective at ``now``,
        else -1; a prefix with no rate in force gives way to its shorter prefixes, as in mod_lcr."""
        return rowfile.longest(self.keys, self.index, self.starts, self.ends, digits, now)

    def prefix(self, i: int) -> str:
        """Row ``i``'s prefix."""
        return key_digits(self.keys[i])

    def row(self, i: int) -> Rate:
        """Row ``i`` as a Rate."""
        increments = ""
        if self.increments is not None and self.increments[2 * i]:  # 0: the row's cell is empty
            increments = "%d/%d" % (self.increments[2 * i], self.increments[2 * i + 1])
        return Rate(self.prefix(i), self.rates[i], self.fees[i] if self.fees is not None else 0,
                    increments, self.starts[i], self.ends[i],
                    self.descriptions[self.description_ids[i]] if self.description_ids is not None else "")


def load(path: str) -> Deck:
    """Read and parse the deck at ``path``; raises RulesError listing every bad row."""
    return rowfile.load(path, "rate deck", parse)


def parse(lines: Iterable[str], filename: str = "<deck>") -> Deck:
    """Build a Deck from an iterable of text lines (a file opened with newline="")."""
    return _Builder(filename).build(lines)


class _Builder(rowfile.RowReader):
    def build(self, source: Iterable[str]) -> Deck:
        lines = iter(source)
        delimiter, names = rowfile.header(next(lines, ""))
        columns = self.columns(names)
        if columns is None:
            raise RulesError(self.problems())
        keys, rates = array("q"), array("q")
        skips: List[int] = []  # len(keys) at each line that made no row: how a row finds its line again
        starts, ends = array("q"), array("q")
        fees: Optional[array[int]] = array("q") if "connect_fee" in columns else None
        increments: Optional[array[int]] = array("l") if "increments" in columns else None
        description_ids: Optional[array[int]] = array("i") if "description" in columns else None
        descriptions: Dict[str, int] = {}
        prefix_at, rate_at = columns["prefix"], columns["rate"]
        widest = max(columns.values())  # a shorter row goes through parse_row, which reports it
        from_at, to_at = columns.get("effective_from", -1), columns.get("effective_to", -1)
        dates, pow10, slow_row, split = self.dates, POW10, self.parse_row, rowfile.split
        add_key, add_rate = keys.append, rates.append
        add_start, add_end = starts.append, ends.append
        ordered = True
        last, last_start = -1, NEVER
        line = 1
        start: int
        end: int
        for text in lines:
            line += 1
            row = split(text, delimiter)
            try:  # the fast path, for a well-formed row; anything else goes through parse_row
                prefix = row[prefix_at]
                size = len(prefix)
                rate = round(float(row[rate_at]) * MICRO)
                first = dates[row[from_at]] if from_at >= 0 else None
                final = dates[row[to_at]] if to_at >= 0 else None
                start = NEVER if first is None else first
                end = FOREVER if final is None else final
                good = (len(row) > widest and prefix.isdigit() and prefix.isascii() and size <= MAX_DIGITS
                        and 0 <= rate < MAX_MONEY and start < end)
            except (IndexError, KeyError, ValueError, OverflowError):
                good = False
            if good:
                key = int(prefix) * pow10[size] << 4 | size
            else:
                values = slow_row(row, columns, line, len(names))
                if values is None:
                    skips.append(len(keys))
                    continue
                key, rate, start, end = values
            if key < last or (key == last and start < last_start):
                ordered = False  # rows are kept in (prefix, effective_from) order: see check_overlaps
            last, last_start = key, start
            add_key(key)
            add_rate(rate)
            add_start(start)
            add_end(end)
            if fees is not None:
                fees.append(self.optional(money, row[columns["connect_fee"]], "connect_fee", line, 0))
            if increments is not None:
                increments.extend(self.optional(billing_increments, row[columns["increments"]],
                                                "increments", line, (0, 0)))
            if description_ids is not None:
                text = row[columns["description"]]
                description_ids.append(descriptions.setdefault(text, len(descriptions)))
        order: Optional[array[int]] = None
        if not ordered:
            order = rowfile.sort_order(keys, starts)
            keys, rates, starts, ends = (rowfile.reordered(column, order) for column in (keys, rates, starts, ends))
            fees, description_ids = (rowfile.reordered_optional(column, order) for column in (fees, description_ids))
            increments = rowfile.reordered_optional(increments, order, 2)
        self.check_overlaps(keys, starts, ends, rowfile.line_finder(order, skips), "prefix")
        if self.kinds:
            raise RulesError(self.problems())
        return Deck(self.filename, keys, rates, starts, ends, fees, increments,
                    list(descriptions), description_ids)

    def columns(self, names: List[str]) -> Optional[Dict[str, int]]:
        """{column: index} from the header row, or None after reporting."""
        out: Dict[str, int] = {}
        for index, name in enumerate(names):
            if name not in COLUMNS:
                self.problem(1, "unknown column '%s' (expected some of: %s)" % (name[:40], ", ".join(COLUMNS)))
            elif name in out:
                self.problem(1, "column '%s' appears twice" % name)
            else:
                out[name] = index
        for name in ("prefix", "rate"):
            if name not in out and not self.kinds:
                self.problem(1, "the header row must name the columns; '%s' is missing" % name)
        return None if self.kinds else out

    def parse_row(self, fields: List[str], columns: Dict[str, int], line: int, width: int
                  ) -> Optional[Tuple[int, int, int, int]]:
        """(key, rate, start, end) of one row, or None after reporting each bad field (or skipping it)."""
        row = [field.strip() for field in fields]
        if self.short_row(row, max(columns.values()), line, width):
            return None
        reported = self.reported
        prefix = row[columns["prefix"]]
        if not rowfile.is_digits(prefix):
            self.problem(line, "prefix %r must be 1 to %d digits 0-9" % (prefix[:40], MAX_DIGITS), "prefix")
        rate = self.field(money, row[columns["rate"]], "rate", line, 0)
        dates = self.dates_of(row, columns.get("effective_from", -1), columns.get("effective_to", -1), line)
        if self.reported != reported or dates is None:
            return None
        return rowfile.digits_key(prefix), rate, dates[0], dates[1]


def money(text: str) -> int:
    """Micro-units of a non-negative decimal amount."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < MAX_MONEY / MICRO:  # also refuses nan and inf
        raise Bad("%r must be a decimal number from 0 up" % text[:40])
    return round(value * MICRO)


def billing_increments(text: str) -> Tuple[int, int]:
    """(initial, next) seconds from "60/60" (or "60")."""
    text = text.strip()
    first, _, rest = text.partition("/")
    try:
        pair = (int(first), int(rest or first))
    except ValueError:
        pair = (0, 0)
    if not (0 < pair[0] <= 3600 and 0 < pair[1] <= 3600):
        raise Bad("%r must be seconds like 60/60 or 1/1" % text[:40])
    return pair


def rate_text(micro: int) -> str:
    """A micro-unit amount as a decimal string without trailing zeros (12300 -> '0.0123')."""
    whole, fraction = divmod(micro, MICRO)
    text = "%d.%06d" % (whole, fraction)
    return text.rstrip("0").rstrip(".") if "." in text else text
