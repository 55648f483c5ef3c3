"""What rate decks and number tables share: CSV/TSV files of digit keys read into sorted 64-bit arrays.

A file of millions of rows is kept in ``array`` columns, not Python
objects. A digit string is stored as one 64-bit key that sorts like the
string itself (the digits padded with zeros to MAX_DIGITS, times 16, plus
the length), so ``bisect`` over the sorted keys finds an exact number or,
with ``longest``, the longest prefix of a number.

The first row names the columns (any order, case-insensitive); the
delimiter is a tab when the header holds one, else ``;`` when it holds one
and no ``,``, else ``,``. Every bad row is a problem at ``file:line``; a
kind of problem seen on many rows is said once, with the first few lines.
Dates are ISO 8601 (``2026-01-01`` or ``2026-01-01T08:00:00+01:00``), UTC
unless they say otherwise; ``effective_to`` is exclusive; empty is unbounded.

Readers of huge files here never hold the GIL for long (calls go on in the
switch while a file loads): the file is read a MiB at a time, sorted in
buckets, and columns reordered in chunks.
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
NEVER, FOREVER = -(2 ** 62), 2 ** 62
BUCKET_DIGITS = 3  # rows are sorted in buckets by their first digits: a reload never holds the GIL long
INDEX_DIGITS = 6  # at most: a lookup bisects only the rows that share the number's first digits
CHUNK = 16384  # rows per C-level step when columns are reordered, for the same reason
READ_BYTES = 1 << 20  # one read of the file per MiB: see read_lines

POW10 = [10 ** (MAX_DIGITS - n) for n in range(MAX_DIGITS + 1)]
_BUCKET_SCALE = 10 ** (MAX_DIGITS - BUCKET_DIGITS)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_T = TypeVar("_T")


def key_digits(key: int) -> str:
    """The digit string a key stands for."""
    length = key & 15
    return str(key >> 4).zfill(MAX_DIGITS)[:length]


def digits_key(digits: str) -> int:
    """The key of a string of 1 to MAX_DIGITS ASCII digits."""
    size = len(digits)
    key: int = int(digits) * POW10[size] << 4 | size
    return key


def is_digits(text: str) -> bool:
    """Whether ``text`` can be a key: 1 to MAX_DIGITS ASCII digits."""
    return text.isdigit() and text.isascii() and len(text) <= MAX_DIGITS


def load(path: str, what: str, parse: Callable[[Iterable[str], str], _T]) -> _T:
    """``parse(lines, path)`` of the file at ``path`` (``what`` it is, for problems); raises RulesError."""
    try:
        with open(path, "rb", buffering=0) as handle:
            return parse(read_lines(handle), str(path))
    except OSError as exc:
        raise RulesError([Problem(str(path), 0, 0, "cannot read the %s: %s" % (what, exc.strerror or exc))])
    except UnicodeDecodeError as exc:
        raise RulesError([Problem(str(path), 0, 0, "the %s is not UTF-8: %s" % (what, exc.reason))])


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


def header(header_line: str) -> Tuple[str, List[str]]:
    """(delimiter, lower-cased column names) of a file's first line."""
    delimiter = "\t" if "\t" in header_line else ";" if ";" in header_line and "," not in header_line else ","
    names = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
    return delimiter, names


def split(text: str, delimiter: str) -> List[str]:
    """The fields of one line (its line end removed first: left on the last field, a date or key
    there would miss a reader's fast path). str.split is much cheaper than csv; a quoted field
    ("Korea, Republic of") takes csv."""
    text = text.rstrip("\r\n")
    return text.split(delimiter) if '"' not in text else next(csv.reader([text], delimiter=delimiter))


class Index(NamedTuple):
    """Where a lookup bisects: ``bounds[b]`` is the first row whose digits after the ones all keys share
    (``(key >> 4) // scale - offset``) are b or more; one digit per 10x rows, at most INDEX_DIGITS. The
    digits every key shares are skipped: ten million DIDs of one country still fall into a million runs."""
    bounds: array[int]
    scale: int
    offset: int


def index_of(keys: array[int]) -> Index:
    """The Index of sorted ``keys``."""
    digits = max(1, min(INDEX_DIGITS, len(str(len(keys))) - 2))
    first = str(keys[0] >> 4).zfill(MAX_DIGITS) if keys else ""
    last = str(keys[-1] >> 4).zfill(MAX_DIGITS) if keys else ""
    shared = 0
    while shared < min(len(first), MAX_DIGITS - digits) and first[shared] == last[shared]:
        shared += 1
    scale = 10 ** (MAX_DIGITS - shared - digits)
    offset = (keys[0] >> 4) // scale if keys else 0
    runs = ((keys[-1] >> 4) // scale - offset + 1) if keys else 0
    bounds = array("i")
    for low in range(0, runs + 1, CHUNK):  # a million-item list would hold the GIL to convert
        bounds.extend([bisect.bisect_left(keys, (offset + b) * scale << 4)
                       for b in range(low, min(low + CHUNK, runs + 1))])
    return Index(bounds, scale, offset)


def run_of(index: Index, padded: int) -> Tuple[int, int]:
    """(low, high): the rows a bisect for the number ``padded`` (its digits padded to MAX_DIGITS) needs."""
    bounds = index.bounds
    run = padded // index.scale - index.offset
    if run < 0:
        return 0, 0  # below every key
    if run >= len(bounds) - 1:
        end = bounds[-1] if bounds else 0
        return end, end  # above every key
    return bounds[run], bounds[run + 1]


def longest(keys: array[int], index: Index, starts: Optional[array[int]],
            ends: Optional[array[int]], digits: str, now: float) -> int:
    """The row of the longest prefix of ``digits`` in force at ``now`` (``starts`` None: rows have no
    dates), else -1.

    The greatest key <= the number's key is a prefix of the number, or
    else no prefix of the number is longer than what the two have in
    common (a longer one would sort between them): search again for
    that much of the number. A prefix with no row in force at ``now``
    gives way to its shorter prefixes, as in mod_lcr. ``digits`` holds
    ASCII digits only.
    """
    size = len(digits)
    if size > MAX_DIGITS:
        digits, size = digits[:MAX_DIGITS], MAX_DIGITS
    pow10 = POW10
    padded = int(digits) * pow10[size]
    while size:
        low, high = run_of(index, padded)
        i = bisect.bisect_right(keys, padded << 4 | size, low, high) - 1
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
            if starts is None or ends is None:
                return i
            j = i
            while j >= 0 and keys[j] == key:
                if starts[j] <= now < ends[j]:
                    return j
                j -= 1
            common = length - 1  # none of its rows in force: a shorter prefix may have one
        size = common if common < size else size - 1
        padded = padded // pow10[size] * pow10[size]
    return -1


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


class Bad(ValueError):
    """One field's problem (the message names the value, the caller adds the column)."""


class RowReader:
    """The problems of one file being read, and the field converters that report into them."""

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

    def field(self, parse: Callable[[str], _T], text: str, what: str, line: int, default: _T) -> _T:
        """``parse(text)``, or ``default`` after reporting a problem of the kind ``what``."""
        try:
            return parse(text)
        except Bad as exc:
            self.problem(line, "%s %s" % (what, exc), what)
            return default

    def optional(self, parse: Callable[[str], _T], text: str, what: str, line: int, default: _T) -> _T:
        """An optional column's value: ``default`` when the cell is empty (none) or after reporting."""
        return self.field(parse, text, what, line, default) if text.strip() else default

    def date(self, text: str) -> Optional[int]:
        """Epoch seconds of an ISO date, None when empty; cached (a file repeats a few dates)."""
        try:
            return self.dates[text]
        except KeyError:
            pass
        if not text.strip():
            return None
        try:
            moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Bad("%r is not an ISO date (2026-01-01 or 2026-01-01T08:00:00+01:00)" % text[:40])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        seconds = int((moment - _EPOCH).total_seconds())
        self.dates[text] = seconds
        return seconds

    def dates_of(self, row: List[str], from_at: int, to_at: int, line: int) -> Optional[Tuple[int, int]]:
        """(start, end) of a row's effective_from/effective_to cells (index -1: no such column), or None
        after reporting."""
        reported = self.reported
        start = self.field(self.date, row[from_at], "effective_from", line, None) if from_at >= 0 else None
        end = self.field(self.date, row[to_at], "effective_to", line, None) if to_at >= 0 else None
        first = NEVER if start is None else start
        last = FOREVER if end is None else end
        if first >= last:
            self.problem(line, "effective_from is not before effective_to", "dates")
        return None if self.reported != reported else (first, last)

    def short_row(self, row: List[str], needed: int, line: int, width: int) -> bool:
        """Whether ``row`` has too few fields to be read (reported unless the line is blank)."""
        if len(row) > needed:
            return False
        if any(field.strip() for field in row):  # blank lines are skipped
            self.problem(line, "the row has %d fields; the header names %d" % (len(row), width), "fields")
        return True

    def check_overlaps(self, keys: array[int], starts: Optional[array[int]], ends: Optional[array[int]],
                       line_of: Callable[[int], int], key_name: str) -> None:
        """One problem per row whose key (a ``key_name``) already has a row in force somewhere in its dates
        (``starts`` and ``ends`` None: rows have no dates, so any second row of a key)."""
        latest = 0  # the row of this key whose dates reach furthest so far
        for i in range(1, len(keys)):
            if keys[i] != keys[i - 1]:
                latest = i
                continue
            if starts is None or ends is None:
                self.problem(line_of(i), "duplicate %s %s (line %d)" % (key_name, key_digits(keys[i]),
                                                                         line_of(latest)), "duplicate")
                continue
            if starts[i] < ends[latest]:
                if starts[i] == NEVER and ends[latest] == FOREVER:
                    kind, what = "duplicate", "duplicate %s %s" % (key_name, key_digits(keys[i]))
                else:
                    kind, what = "overlap", "%s %s: effective dates overlap" % (key_name, key_digits(keys[i]))
                self.problem(line_of(i), "%s (line %d)" % (what, line_of(latest)), kind)
            if ends[i] > ends[latest]:
                latest = i


def line_finder(order: Optional[array[int]], skips: List[int], first: int = 2) -> Callable[[int], int]:
    """The line of the row now at ``row``: rows follow the lines from ``first`` but for the skipped ones
    (``skips``: the number of rows kept at each line that made none), and ``order`` (None: unsorted)
    moved them."""
    def line_of(row: int) -> int:
        read = order[row] if order is not None else row
        return read + first + bisect.bisect_right(skips, read)
    return line_of


def sort_order(keys: array[int], starts: Optional[array[int]]) -> array[int]:
    """The row numbers in (key, start) order, without holding the GIL for long.

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
    by_key = keys.__getitem__
    by_start = starts.__getitem__ if starts is not None else None
    for number, bucket in enumerate(buckets):
        if bucket:
            if by_start is not None:
                bucket.sort(key=by_start)
            bucket.sort(key=by_key)
            order.extend(bucket)
            buckets[number] = None  # freed bucket by bucket, not a million ints at once
    return order


def reordered_optional(column: Optional[array[int]], order: array[int], width: int = 1) -> Optional[array[int]]:
    """``column`` with its rows of ``width`` values in ``order``; None stays None."""
    return None if column is None else reordered(column, order, width)


def reordered(column: array[int], order: array[int], width: int = 1) -> array[int]:
    """``column`` with its rows of ``width`` values in ``order``."""
    out = array(column.typecode)
    for low in range(0, len(order), CHUNK):  # a million-item list would hold the GIL to build and free
        part = order[low:low + CHUNK]
        if width == 1:
            out.extend([column[i] for i in part])
        else:
            out.extend([column[width * i + k] for i in part for k in range(width)])
    return out


def date_text(seconds: int) -> str:
    """An effective date for people: ISO UTC, or '-' when unbounded."""
    if seconds in (NEVER, FOREVER):
        return "-"
    return (_EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
