"""``fsroute deck import FILE --map ...``: a carrier's own rate sheet (CSV or XLSX) -> an fsroute deck.

Carriers send decks with their own headers (Destination, Code, Rate,
Effective Date, Increment...), date formats, increments written as
``60/6``, ``60-6`` or ``60+6``, and rates per minute, per second or in cents.
A mapping names which of the file's columns is which deck column, and how to
read dates, increments and rates; the header row is found among the first
rows (sheets often have a title above it). The deck written is checked by
the deck parser itself, and every problem is reported against the source
file's row. XLSX needs openpyxl (``pip install 'fsroute[xlsx]'``); nothing
on the call path imports this module.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from fsroute.core import decks
from fsroute.core.decks import COLUMNS, MICRO, rate_text
from fsroute.core.model import Problem, RulesError

HEADER_SEARCH_ROWS = 20  # the header row is looked for among this many first rows
RATE_UNITS = {"minute": 1.0, "second": 60.0, "hour": 1 / 60.0}
_LINE_RE = re.compile(r"\bline (\d+)\b")  # a deck problem naming another line of the deck
_INCREMENTS_RE = re.compile(r"\s*(\d+)\s*(?:[/+\-:x, ]\s*(\d+))?\s*\Z")


class DeckMap(NamedTuple):
    """How to read one carrier's sheet: {deck column: the sheet's header}, and the value formats."""
    columns: Dict[str, str]
    date_format: Optional[str] = None  # strptime format; None: ISO 8601 (or real dates in XLSX)
    rate_unit: str = "minute"          # what the sheet's rate is per: minute, second or hour
    rate_scale: float = 1.0            # times this (0.01: the sheet's rates are in cents)
    sheet: Optional[str] = None        # XLSX: the worksheet (default: the first)


def parse_map(pairs: Iterable[str]) -> Dict[str, str]:
    """{deck column: header} from ``prefix=Code,rate=Rate`` items; raises ValueError naming the bad one."""
    out: Dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(","):
            column, sep, header = item.partition("=")
            column = column.strip().lower()
            if not sep or not header.strip() or column not in COLUMNS:
                raise ValueError("%r is not COLUMN=HEADER with COLUMN one of %s" % (item, ", ".join(COLUMNS)))
            out[column] = header.strip()
    missing = [name for name in ("prefix", "rate") if name not in out]
    if missing:
        raise ValueError("the map must name the %s column" % " and ".join(missing))
    return out


def read_sheet(path: str, sheet: Optional[str] = None) -> List[List[Any]]:
    """The rows of a CSV/TSV file or of an XLSX worksheet (cells as read: text, numbers, dates)."""
    if path.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(path, sheet)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        text = handle.read()
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ";" if ";" in first and "," not in first else ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_xlsx(path: str, sheet: Optional[str]) -> List[List[Any]]:
    try:
        import openpyxl
    except ImportError:
        raise RulesError([Problem(path, 0, 0, "reading .xlsx needs openpyxl: pip install 'fsroute[xlsx]'")])
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise RulesError([Problem(path, 0, 0, "no worksheet %r (it has: %s)" % (sheet, ", ".join(book.sheetnames)))])
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        return [list(row) for row in worksheet.iter_rows(values_only=True)]
    finally:
        book.close()


def convert(path: str, mapping: DeckMap) -> str:
    """The fsroute deck (CSV text) of the carrier sheet at ``path``; raises RulesError with every bad row
    as ``path:row``."""
    rows = read_sheet(path, mapping.sheet)
    at, positions = _header(rows, mapping.columns, path)
    columns = [name for name in COLUMNS if name in positions]
    out = [",".join(columns)]
    sources: List[int] = []  # the sheet row (1-based) of each deck line after the header
    problems: List[Problem] = []
    for number, row in enumerate(rows[at + 1:], at + 2):
        if not any(_text(cell) for cell in row):
            continue
        cells: List[str] = []
        for name in columns:
            index = positions[name]
            cell = row[index] if index < len(row) else None
            try:
                cells.append(_value(name, cell, mapping))
            except ValueError as exc:
                problems.append(Problem(path, number, index + 1, "%s %s" % (mapping.columns[name], exc)))
                break
        else:
            out.append(",".join(_quoted(cell) for cell in cells))
            sources.append(number)
    text = "\n".join(out) + "\n"
    if not problems:
        try:
            decks.parse(io.StringIO(text, newline=""), path)
        except RulesError as exc:  # the deck's own checks (duplicates, overlapping dates), at the sheet's rows
            def row_of(line: int) -> int:
                return sources[line - 2] if line >= 2 else at + 1

            problems = [Problem(path, row_of(p.line), p.col,
                                _LINE_RE.sub(lambda m: "row %d" % row_of(int(m.group(1))), p.message))
                        for p in exc.problems]
    if problems:
        raise RulesError(problems)
    return text


def _header(rows: Sequence[Sequence[Any]], columns: Dict[str, str], path: str) -> Tuple[int, Dict[str, int]]:
    """(index of the header row, {deck column: its cell index}): the first row naming every mapped header."""
    wanted = {name: header.lower() for name, header in columns.items()}
    for at, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [_text(cell).lower() for cell in row]
        if all(header in cells for header in wanted.values()):
            return at, {name: cells.index(header) for name, header in wanted.items()}
    raise RulesError([Problem(path, 0, 0, "no row among the first %d names every mapped column (%s)"
                              % (HEADER_SEARCH_ROWS, ", ".join(columns.values())))])


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _value(name: str, cell: Any, mapping: DeckMap) -> str:
    """One deck cell from one sheet cell; raises ValueError saying what is wrong with it."""
    text = _text(cell)
    if name == "prefix":
        digits = text.replace(" ", "").lstrip("+")
        if not (digits.isdigit() and digits.isascii()):
            raise ValueError("%r is not a prefix of digits" % text[:40])
        return digits
    if name in ("rate", "connect_fee"):
        if not text and name == "connect_fee":
            return ""
        try:
            value = float(text.replace(",", ".")) if not isinstance(cell, (int, float)) else float(cell)
        except ValueError:
            raise ValueError("%r is not a number" % text[:40])
        if name == "rate":
            value *= RATE_UNITS[mapping.rate_unit]
        return rate_text(round(value * mapping.rate_scale * MICRO))
    if name == "increments":
        if not text:
            return ""
        found = _INCREMENTS_RE.match(text)
        if not found:
            raise ValueError("%r is not increments like 60/6, 60-6 or 60" % text[:40])
        return "%s/%s" % (found.group(1), found.group(2) or found.group(1))
    if name in ("effective_from", "effective_to"):
        return _date(cell, text, mapping.date_format)
    return text  # description


def _date(cell: Any, text: str, form: Optional[str]) -> str:
    if isinstance(cell, datetime.datetime):
        return cell.isoformat()
    if isinstance(cell, datetime.date):
        return cell.isoformat()
    if not text:
        return ""
    try:
        if form is not None:
            return datetime.datetime.strptime(text, form).isoformat()
        return datetime.datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError("%r is not a date%s" % (text[:40], " in the format %s" % form if form else " (ISO 8601; "
                                                 "give --date-format for another)"))


def _quoted(cell: str) -> str:
    if any(char in cell for char in ',"\n'):
        return '"%s"' % cell.replace('"', '""')
    return cell

