"""``quality:`` under ``defaults`` (windows, classes, thresholds), a route and a group (thresholds)."""

from __future__ import annotations

import math

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..model import TableSpec
from ..quality import FIGURES, FLOORS, ClassTable, QualityRule, QualitySettings
from ..reading import Fields, Reader
from ..text import did_you_mean
from ..yamltree import SCALAR, Node

RULE_KEYS = ("min_samples", "warn", "critical")
SETTINGS_KEYS = ("window", "short_call", "probe_every", "classes", "class_tables") + RULE_KEYS


def read_quality_settings(r: Reader, node: Node, what: str) -> Optional[QualitySettings]:
    """``defaults.quality``."""
    fields = r.mapping(node, what, allowed=SETTINGS_KEYS)
    if fields is None:
        return None
    values: Dict[str, Any] = {}
    for key, (_, value) in fields.items():
        if key == "classes":
            values[key] = _classes(r, value, what + ".classes")
        elif key == "class_tables":
            values[key] = _class_tables(r, value, what + ".class_tables")
        elif key in ("window", "short_call", "probe_every"):
            values[key] = r.seconds(value, "%s.%s" % (what, key), 1, 86400)
    settings = QualitySettings(**{k: v for k, v in values.items() if v is not None})
    return settings._replace(rule=_rule(r, fields, what, QualityRule()))


def read_quality_rule(r: Reader, body: Fields, what: str, base: Optional[QualityRule] = None
                      ) -> Optional[QualityRule]:
    """A route's or group's own ``quality:`` thresholds (None without one)."""
    if "quality" not in body:
        return None
    fields = r.mapping(body["quality"][1], what + " quality", allowed=RULE_KEYS)
    return _rule(r, fields or {}, what + " quality", base or QualityRule())


def _rule(r: Reader, fields: Fields, what: str, base: QualityRule) -> QualityRule:
    values: Dict[str, Any] = {}
    if "min_samples" in fields:
        values["min_samples"] = r.integer(fields["min_samples"][1], what + ".min_samples", 1, 1000000)
    for level in ("warn", "critical"):
        if level in fields:
            values[level] = _thresholds(r, fields[level][1], "%s.%s" % (what, level))
    return base._replace(**{k: v for k, v in values.items() if v is not None})


def _thresholds(r: Reader, node: Node, what: str) -> Tuple[Tuple[str, float], ...]:
    found: List[Tuple[str, float]] = []
    for figure, (_, value) in (r.mapping(node, what, allowed=FIGURES) or {}).items():
        number = value.value if value.kind == SCALAR else None
        ratio = figure not in ("acd", "pdd")
        if isinstance(number, bool) or not isinstance(number, (int, float)) \
                or not 0 <= number <= (1 if ratio else math.inf):  # .nan too: it would never be passed
            r.error(value, "%s.%s must be %s" % (what, figure, "a fraction from 0 to 1, like 0.35" if ratio
                                                    else "seconds, like %s" % ("30" if figure in FLOORS else "6")))
            continue
        found.append((figure, float(number)))
    return tuple(found)


def _classes(r: Reader, node: Node, what: str) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    found = []
    for name, (key, value) in (r.mapping(node, what) or {}).items():
        if not r.check_name(key, "%s '%s'" % (what, name)):
            continue
        prefixes = []
        for item in r.sequence(value, "%s.%s" % (what, name)):
            text = item.value if item.kind == SCALAR else None
            text = str(text) if isinstance(text, int) and not isinstance(text, bool) else text
            if not isinstance(text, str) or not text.isdigit():
                r.error(item, "%s.%s: a prefix is digits, like '4915'" % (what, name))
                continue
            prefixes.append(text)
        found.append((name, tuple(prefixes)))
    return tuple(found)


def _class_tables(r: Reader, node: Node, what: str) -> Tuple[ClassTable, ...]:
    """``[TABLE, {table: TABLE, column: COLUMN}, ...]``; the tables are checked once read (check_class_tables)."""
    found = []
    for item in r.sequence(node, what):
        if item.kind == SCALAR:
            name, column = r.string(item, what + " entry"), None
        else:
            body = r.mapping(item, what + " entry", allowed=("table", "column"), required=("table",)) or {}
            if "table" not in body:
                continue
            name = r.string(body["table"][1], what + " table")
            column = r.string(body["column"][1], what + " column") if "column" in body else None
            if "column" in body and not (column or "").strip():
                r.error(body["column"][1], "%s column must name a column of the table's file" % what)
                continue
        if name is not None:
            found.append(ClassTable(name, column.strip().lower() if column else None, item.line, item.col))
    return tuple(found)


def class_columns(settings: Optional[QualitySettings]) -> Dict[str, Tuple[str, ...]]:
    """{table: the columns its rows' classes are read from}: read with the table (sections.tables)."""
    found: Dict[str, Tuple[str, ...]] = {}
    for entry in settings.class_tables if settings is not None else ():
        if entry.column is not None:
            found[entry.table] = found.get(entry.table, ()) + (entry.column,)
    return found


def check_class_tables(r: Reader, settings: Optional[QualitySettings], tables: Mapping[str, TableSpec]) -> None:
    """Each class table names a table of ``tables:``, and a column only of a table with a header."""
    for entry in settings.class_tables if settings is not None else ():
        where = Node(SCALAR, entry.table, entry.line, entry.col)
        spec = tables.get(entry.table)
        if spec is None and entry.table not in r.declared["table"]:
            r.error(where, "defaults.quality.class_tables: no table named '%s'%s"
                    % (entry.table, did_you_mean(entry.table, r.declared["table"])))
        elif spec is not None and entry.column is not None and not spec.layout.header:
            r.error(where, "defaults.quality.class_tables: table '%s' is a list without a header: it has no "
                    "column '%s' (name the table alone: its name is the class)" % (entry.table, entry.column))
