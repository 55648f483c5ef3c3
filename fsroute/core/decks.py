"""A carrier's rate deck: CSV/TSV rows -> a compact, sorted prefix table; every bad row as file:line.

A deck holds up to millions of rows, so it is kept in ``array`` columns,
not in Python objects: about 36 bytes a row in the arrays, under one more
for the index. A prefix is stored as one 64-bit key that sorts like the
digit string itself (the digits padded with zeros to MAX_DIGITS, times 16,
plus the length), so one ``bisect`` over the sorted keys (only those that
share the number's first digits) finds the longest matching prefix, or at most a few more
when the nearest key is not a prefix of the number (see ``Deck.find``).

The first row names the columns (any order, case-insensitive): ``prefix``
and ``rate`` are required; ``connect_fee``, ``increments`` ("60/60"),
``effective_from``, ``effective_to`` and ``description`` are optional.
Rates are kept in micro-units (6 decimal places). Dates are ISO 8601
(``2026-01-01`` or ``2026-01-01T08:00:00+01:00``), UTC unless they say
otherwise; ``effective_to`` is exclusive; an empty date is unbounded; any
empty optional cell means none (no fee, no increments, no description).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import datetime
import io
from array import array
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, TypeVar

from .model import Problem, RulesError

MAX_DIGITS = 15  # E.164: no number, hence no useful prefix, is longer
EXAMPLE_LINES = 5  # a problem found on many rows lists the lines of this many more
MICRO = 1000000
MAX_MONEY = 10 ** 9 * MICRO
NEVER, FOREVER = -(2 ** 62), 2 ** 62
BUCKET_DIGITS = 3  # rows are sorted in buckets by their first digits: a reload never holds the GIL long
INDEX_DIGITS = 5  # at most: a lookup bisects only the rows that share the number's first digits
CHUNK = 16384  # rows per C-level step when columns are reordered, for the same reason
READ_BYTES = 1 << 20  # one read of the file per MiB: see read_lines

COLUMNS = ("prefix", "rate", "connect_fee", "increments", "effective_from", "effective_to", "description")
_POW10 = [10 ** (MAX_DIGITS - n) for n in range(MAX_DIGITS + 1)]
_BUCKET_SCALE = 10 ** (MAX_DIGITS - BUCKET_DIGITS)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_T = TypeVar("_T")


def key_digits(key: int) -> str:
    """The digit string a key stands for."""
    length = key & 15
    return str(key >> 4).zfill(MAX_DIGITS)[:length]


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
        # bounds[b]: the first row whose first ``digits`` digits are b or more; one digit per 10x rows.
        digits = max(1, min(INDEX_DIGITS, len(str(len(keys))) - 2))
        self.scale = 10 ** (MAX_DIGITS - digits)
        step = self.scale << 4
        self.bounds = array("i", [bisect.bisect_left(keys, b * step) for b in range(10 ** digits + 1)])
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
        """The row of the longest prefix of ``digits`` whose rate is effective at ``now``, else -1.

        The greatest key <= the number's key is a prefix of the number, or
        else no prefix of the number is longer than what the two have in
        common (a longer one would sort between them): search again for
        that much of the number. A prefix with no rate in force at ``now``
        gives way to its shorter prefixes, as in mod_lcr. ``digits`` holds
        ASCII digits only.
        """
        size = len(digits)
        if size > MAX_DIGITS:
            digits, size = digits[:MAX_DIGITS], MAX_DIGITS
        pow10 = _POW10
        padded = int(digits) * pow10[size]
        keys, starts, ends, bounds, scale = self.keys, self.starts, self.ends, self.bounds, self.scale
        while size:
            run = padded // scale
            low = bounds[run]
            i = bisect.bisect_right(keys, padded << 4 | size, low, bounds[run + 1]) - 1
            if i < low:
                i = low - 1  # every key of the earlier runs is below the number's
                if i < 0:
                    return -1
            key = keys[i]
            length = key & 15
            value = key >> 4
            common = length if length < size else size
            while common and value // pow10[common] != padded // pow10[common]:
                common -= 1
            if common == length:  # a prefix of the number: the longest one
                j = i
                while j >= 0 and keys[j] == key:
                    if starts[j] <= now < ends[j]:
                        return j
                    j -= 1
                common = length - 1  # none of its rates in force: a shorter prefix may have one
            size = common if common < size else size - 1
            padded = padded // pow10[size] * pow10[size]
        return -1

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
    try:
        with open(path, "rb", buffering=0) as handle:
            return parse(read_lines(handle), str(path))
    except OSError as exc:
        raise RulesError([Problem(str(path), 0, 0, "cannot read the rate deck: %s" % (exc.strerror or exc))])
    except UnicodeDecodeError as exc:
        raise RulesError([Problem(str(path), 0, 0, "the rate deck is not UTF-8: %s" % exc.reason)])


def read_lines(handle: BinaryIO, size: int = READ_BYTES) -> Iterator[str]:
    """The lines of a UTF-8 file as ``open(newline="")`` gives them, read ``size`` bytes at a time.

    A text file reads 8 kB at a time, and each read lets go of the GIL and
    takes it straight back. CPython asks a thread for the GIL only after a
    whole switch interval (5 ms) with no switch, so a call thread waiting for
    it starved until the deck was parsed: about a second per million rows.
    Reads of a MiB leave the call threads their turn.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending: List[str] = []  # the text of a line that may go on (or a "\r" that a "\n" may follow)
    while True:
        data = handle.read(size)
        text = decoder.decode(data, final=not data)
        if data and "\n" not in text and "\r" not in text:
            pending.append(text)  # a long line goes on: what came before is not split again
            continue
        last = None  # one line by one: a MiB split in one C call would hold the GIL for milliseconds
        for line in io.StringIO("".join(pending) + text, newline=""):
            if last is not None:
                yield last
            last = line
        pending = [last] if data and last is not None and not last.endswith("\n") else []
        if last is not None and not pending:
            yield last
        if not data:
            return


def parse(lines: Iterable[str], filename: str = "<deck>") -> Deck:
    """Build a Deck from an iterable of text lines (a file opened with newline="")."""
    return _Builder(filename).build(lines)


class _Kind:
    """A kind of problem: where it was first seen and how, and how many more rows have it."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        self.more = 0
        self.lines: List[int] = []  # the first EXAMPLE_LINES of the others

    def problem(self, filename: str) -> Problem:
        if not self.more:
            return Problem(filename, self.line, 1, self.message)
        lines = ", ".join(str(line) for line in sorted(self.lines))
        return Problem(filename, self.line, 1, "%s (and %d more row%s like it: line%s %s%s)" % (
            self.message, self.more, "s" if self.more > 1 else "", "s" if self.more > 1 else "", lines,
            ", ..." if self.more > len(self.lines) else ""))


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.kinds: Dict[str, _Kind] = {}
        self.reported = 0
        self.dates: Dict[str, Optional[int]] = {"": None}

    def problem(self, line: int, message: str, kind: str = "") -> None:
        """Report ``message`` at ``line``; another problem of the same ``kind`` (not "") only counts."""
        self.reported += 1
        found = self.kinds.get(kind or message)
        if found is None:
            self.kinds[kind or message] = _Kind(line, message)
            return
        found.more += 1
        if len(found.lines) < EXAMPLE_LINES:
            found.lines.append(line)

    def problems(self) -> List[Problem]:
        """One problem per kind, by line."""
        return sorted((kind.problem(self.filename) for kind in self.kinds.values()), key=lambda p: p.line)

    def build(self, source: Iterable[str]) -> Deck:
        lines = iter(source)
        header = next(lines, "")
        delimiter = "\t" if "\t" in header else ";" if ";" in header and "," not in header else ","
        names = [name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter), [])]
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
        from_at, to_at = columns.get("effective_from", -1), columns.get("effective_to", -1)
        dates, pow10, slow_row = self.dates, _POW10, self.parse_row
        add_key, add_rate = keys.append, rates.append
        add_start, add_end = starts.append, ends.append
        ordered = True
        last, last_start = -1, NEVER
        line = 1
        start: int
        end: int
        for text in lines:
            line += 1
            # str.split is much cheaper than csv; a quoted field ("Korea, Republic of") takes csv.
            # The line end goes first: left on the last field, a date or prefix there missed the fast path.
            text = text.rstrip("\r\n")
            row = text.split(delimiter) if '"' not in text else next(csv.reader([text], delimiter=delimiter))
            try:  # the fast path, for a well-formed row; anything else goes through parse_row
                prefix = row[prefix_at]
                size = len(prefix)
                rate = round(float(row[rate_at]) * MICRO)
                first = dates[row[from_at]] if from_at >= 0 else None
                final = dates[row[to_at]] if to_at >= 0 else None
                start = NEVER if first is None else first
                end = FOREVER if final is None else final
                good = (prefix.isdigit() and prefix.isascii() and size <= MAX_DIGITS
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
            order = _sort_order(keys, starts)
            keys, rates, starts, ends = (_reordered(column, order) for column in (keys, rates, starts, ends))
            fees, description_ids = (_reordered_optional(column, order) for column in (fees, description_ids))
            increments = _reordered_optional(increments, order, 2)

        def line_of(row: int) -> int:
            """The line of the row now at ``row``: rows follow the lines but for the skipped ones."""
            read = order[row] if order is not None else row
            return read + 2 + bisect.bisect_right(skips, read)

        self.check_overlaps(keys, starts, ends, line_of)
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
        if len(row) <= max(columns.values()):
            if any(row):  # blank lines are skipped
                self.problem(line, "the row has %d fields; the header names %d" % (len(row), width), "fields")
            return None
        reported = self.reported
        prefix = row[columns["prefix"]]
        if not (prefix.isdigit() and prefix.isascii() and len(prefix) <= MAX_DIGITS):
            self.problem(line, "prefix %r must be 1 to %d digits 0-9" % (prefix[:40], MAX_DIGITS), "prefix")
        rate = self.field(money, row[columns["rate"]], "rate", line, 0)
        start = end = None
        if "effective_from" in columns:
            start = self.field(self.date, row[columns["effective_from"]], "effective_from", line, None)
        if "effective_to" in columns:
            end = self.field(self.date, row[columns["effective_to"]], "effective_to", line, None)
        first = NEVER if start is None else start
        last = FOREVER if end is None else end
        if first >= last:
            self.problem(line, "effective_from is not before effective_to", "dates")
        if self.reported != reported:
            return None
        return int(prefix.ljust(MAX_DIGITS, "0")) << 4 | len(prefix), rate, first, last

    def field(self, parse: Callable[[str], _T], text: str, what: str, line: int, default: _T) -> _T:
        """``parse(text)``, or ``default`` after reporting a problem of the kind ``what``."""
        try:
            return parse(text)
        except _Bad as exc:
            self.problem(line, "%s %s" % (what, exc), what)
            return default

    def optional(self, parse: Callable[[str], _T], text: str, what: str, line: int, default: _T) -> _T:
        """An optional column's value: ``default`` when the cell is empty (none) or after reporting."""
        return self.field(parse, text, what, line, default) if text.strip() else default

    def date(self, text: str) -> Optional[int]:
        """Epoch seconds of an ISO date, None when empty; cached (a deck repeats a few dates)."""
        try:
            return self.dates[text]
        except KeyError:
            pass
        if not text.strip():
            return None
        try:
            moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _Bad("%r is not an ISO date (2026-01-01 or 2026-01-01T08:00:00+01:00)" % text[:40])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        seconds = int((moment - _EPOCH).total_seconds())
        self.dates[text] = seconds
        return seconds

    def check_overlaps(self, keys: array[int], starts: array[int], ends: array[int],
                       line_of: Callable[[int], int]) -> None:
        """One problem per row whose prefix already has a rate in force somewhere in its dates."""
        latest = 0  # the row of this prefix whose dates reach furthest so far
        for i in range(1, len(keys)):
            if keys[i] != keys[i - 1]:
                latest = i
                continue
            if starts[i] < ends[latest]:
                if starts[i] == NEVER and ends[latest] == FOREVER:
                    kind, what = "duplicate", "duplicate prefix %s" % key_digits(keys[i])
                else:
                    kind, what = "overlap", "prefix %s: effective dates overlap" % key_digits(keys[i])
                self.problem(line_of(i), "%s (line %d)" % (what, line_of(latest)), kind)
            if ends[i] > ends[latest]:
                latest = i


class _Bad(ValueError):
    """One field's problem (the message names the value, the caller adds the column)."""


def money(text: str) -> int:
    """Micro-units of a non-negative decimal amount."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < MAX_MONEY / MICRO:  # also refuses nan and inf
        raise _Bad("%r must be a decimal number from 0 up" % text[:40])
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
        raise _Bad("%r must be seconds like 60/60 or 1/1" % text[:40])
    return pair


def _sort_order(keys: array[int], starts: array[int]) -> array[int]:
    """The row numbers in (prefix key, effective_from) order, without holding the GIL for long.

    One sort over a million rows would hold the GIL for most of a second and
    stall every call in the switch. Rows are dealt into buckets by their
    first BUCKET_DIGITS digits, which already sort the buckets among
    themselves; each small bucket is then sorted in C (by start, then stably
    by key), and Python-level loops let call threads in between.
    """
    scale = _BUCKET_SCALE
    buckets: List[Optional[List[int]]] = [[] for _ in range(10 ** BUCKET_DIGITS)]
    for i, key in enumerate(keys):
        buckets[(key >> 4) // scale].append(i)
    order = array("l")
    by_key, by_start = keys.__getitem__, starts.__getitem__
    for number, bucket in enumerate(buckets):
        if bucket:
            bucket.sort(key=by_start)
            bucket.sort(key=by_key)
            order.extend(bucket)
            buckets[number] = None  # freed bucket by bucket, not a million ints at once
    return order


def _reordered_optional(column: Optional[array[int]], order: array[int], width: int = 1
                        ) -> Optional[array[int]]:
    """``column`` with its rows of ``width`` values in ``order``; None stays None."""
    return None if column is None else _reordered(column, order, width)


def _reordered(column: array[int], order: array[int], width: int = 1) -> array[int]:
    """``column`` with its rows of ``width`` values in ``order``."""
    out = array(column.typecode)
    for low in range(0, len(order), CHUNK):  # a million-item list would hold the GIL to build and free
        part = order[low:low + CHUNK]
        if width == 1:
            out.extend([column[i] for i in part])
        else:
            out.extend([column[width * i + k] for i in part for k in range(width)])
    return out


def rate_text(micro: int) -> str:
    """A micro-unit amount as a decimal string without trailing zeros (12300 -> '0.0123')."""
    whole, fraction = divmod(micro, MICRO)
    text = "%d.%06d" % (whole, fraction)
    return text.rstrip("0").rstrip(".") if "." in text else text


def date_text(seconds: int) -> str:
    """An effective date for people: ISO UTC, or '-' when unbounded."""
    if seconds in (NEVER, FOREVER):
        return "-"
    return (_EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")

