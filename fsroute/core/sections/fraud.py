"""``fraud:``: rules that watch an account's calls over a window and warn, then block, at levels."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Dict, List, Mapping, Optional, Set

from ..billing import increments_of
from ..model import FRAUD_MEASURES, NAME_RE, FraudRule, TableSpec, Threshold
from ..reading import NAME_HINT, Reader
from ..text import did_you_mean
from ..yamltree import SCALAR, Node
from .calendars import TimeGrammar
from .defaults import read_action

RULE_KEYS = ("name", "routes", "prefixes", "per", "window", "for", "on_block", "rate", "increments",
             "connect_fee", "when", "when_any", "unless", "table") + FRAUD_MEASURES
PER = ("account", "account+destination")
_DURATION_RE = re.compile(r"([0-9]{1,7})\s*([smhd])\Z")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PREFIX_RE = re.compile(r"\+?[0-9A-Za-z*#]{1,32}\Z")
_INCREMENTS_RE = re.compile(r"[0-9]{1,4}/[0-9]{1,4}\Z")
MICRO = 1000000


def read_fraud(r: Reader, node: Node, route_names: Set[str], timing: TimeGrammar,
               tables: Optional[Mapping[str, TableSpec]] = None) -> List[FraudRule]:
    """The fraud rules, in file order; every problem reported at its place."""
    out: List[FraudRule] = []
    seen: Dict[str, int] = {}
    for item in r.sequence(node, "fraud"):
        rule = _read_rule(r, item, route_names, timing, tables or {})
        if rule is None:
            continue
        if rule.name in seen:
            r.error(item, "fraud rule '%s' appears twice (first at line %d)" % (rule.name, seen[rule.name]))
            continue
        seen[rule.name] = item.line
        out.append(rule)
    return out


def _read_rule(r: Reader, item: Node, route_names: Set[str], timing: TimeGrammar, tables: Mapping[str, TableSpec]
               ) -> Optional[FraudRule]:
    body = r.mapping(item, "fraud rule", allowed=RULE_KEYS, required=("name",))
    if body is None or "name" not in body:
        return None
    name = r.string(body["name"][1], "fraud rule name", NAME_RE, NAME_HINT)
    what = "fraud rule '%s'" % name
    values: Dict[str, object] = {}
    if "routes" in body:
        routes = []
        for entry in _names(r, body["routes"][1], what + " routes"):
            if entry.value not in route_names:
                r.error(entry, "%s: no route named '%s'" % (what, entry.value))
            routes.append(entry.value)
        values["routes"] = frozenset(routes)
    if "prefixes" in body:
        prefixes = []
        for entry in _names(r, body["prefixes"][1], what + " prefixes"):
            if _PREFIX_RE.match(str(entry.value)):
                prefixes.append(str(entry.value))
            else:
                r.error(entry, "%s: prefix %r is not the start of a number" % (what, entry.value))
        values["prefixes"] = tuple(prefixes)
    if "table" in body:
        values["table"] = _table(r, body["table"][1], tables, what)
    if "per" in body:
        per = body["per"][1]
        if per.kind == SCALAR and per.value in PER:
            values["per_destination"] = per.value == PER[1]
        else:
            r.error(per, "%s per must be one of: %s" % (what, ", ".join(PER)))
    for key, field in (("window", "window"), ("for", "block_for")):
        if key in body:
            values[field] = duration(r, body[key][1], "%s %s" % (what, key))
    if "on_block" in body:
        values["on_block"] = read_action(r, body["on_block"][1], what + " on_block")
    if "rate" in body:
        values["rate"] = money(r, body["rate"][1], what + " rate")
    if "connect_fee" in body:
        values["connect_fee"] = money(r, body["connect_fee"][1], what + " connect_fee")
    if "increments" in body:
        node = body["increments"][1]
        if node.kind == SCALAR and isinstance(node.value, str) and _INCREMENTS_RE.match(node.value) \
                and "0" not in node.value.split("/"):
            values["increments"] = increments_of(node.value)
        else:
            r.error(node, "%s increments must be 'INITIAL/NEXT' seconds, e.g. '60/6'" % what)
    thresholds = []
    for measure in FRAUD_MEASURES:
        if measure in body:
            thresholds.append(_threshold(r, body[measure][1], measure, what))
    if not thresholds:
        r.error(item, "%s needs at least one of: %s" % (what, ", ".join(FRAUD_MEASURES)))
    when = timing.named(body["when"][1], what + " when") if "when" in body else ()
    unless = timing.named(body["unless"][1], what + " unless") if "unless" in body else ()
    when_any = timing.named(body["when_any"][1], what + " when_any", at_least_one=True) if "when_any" in body else ()
    if name is None or any(v is None for v in values.values()) or None in thresholds:
        return None
    return FraudRule(name, item.line, thresholds=tuple(t for t in thresholds if t is not None),
                     when=when, unless=unless, when_any=when_any, **values)  # type: ignore[arg-type]


def _table(r: Reader, node: Node, tables: Mapping[str, TableSpec], what: str) -> Optional[str]:
    """The name of a table of ``tables:`` (any kind: a row present is what counts)."""
    name = r.string(node, what + " table")
    if name is not None and name not in tables and name not in r.declared["table"]:
        r.error(node, "%s: no table named '%s'%s" % (what, name, did_you_mean(name, r.declared["table"])))
        return None
    return name


def _names(r: Reader, node: Node, what: str) -> List[Node]:
    """The entries of a list (or one scalar) of names or prefixes."""
    items = [node] if node.kind == SCALAR else r.sequence(node, what)
    plain = []
    for item in items:
        if item.kind == SCALAR and item.value is not None:
            plain.append(item)
        else:
            r.error(item, "%s: each entry must be a plain value" % what)
    return plain


def _threshold(r: Reader, node: Node, measure: str, what: str) -> Optional[Threshold]:
    """``{warn: N, block: M}`` (either or both) in the measure's units: minutes as seconds, money as micro-units."""
    where = "%s %s" % (what, measure)
    fields = r.mapping(node, where + " (a mapping of warn and/or block)", allowed=("warn", "block"))
    if not fields:
        if fields == {}:
            r.error(node, "%s needs warn, block or both" % where)
        return None
    levels: Dict[str, Optional[float]] = {}
    for level, (_, value) in fields.items():
        if measure == "spend":
            amount = money(r, value, "%s %s" % (where, level))
            levels[level] = float(amount) if amount else None
            if amount == 0:
                r.error(value, "%s %s must be above 0" % (where, level))
        elif measure == "minutes":
            minutes = r.seconds(value, "%s %s" % (where, level), 0.01, 1e7)
            levels[level] = minutes * 60 if minutes is not None else None
        else:
            count = r.integer(value, "%s %s" % (where, level), 1, 10000000)
            levels[level] = float(count) if count is not None else None
    if None in levels.values():
        return None
    warn, block = levels.get("warn"), levels.get("block")
    if warn is not None and block is not None and warn >= block:
        r.error(node, "%s: warn (%g) must be below block (%g)" % (where, warn, block))
        return None
    return Threshold(measure, warn, block)


def duration(r: Reader, node: Node, what: str) -> Optional[float]:
    """Seconds from a number of seconds or '90s', '30m', '1h', '2d'."""
    value = node.value if node.kind == SCALAR else None
    if isinstance(value, str):
        found = _DURATION_RE.match(value.strip())
        if found:
            value = int(found.group(1)) * _UNIT[found.group(2)]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 366 * 86400:
        r.error(node, "%s must be a duration: seconds, or like '90s', '30m', '1h', '2d' (1 s to 366 d)" % what)
        return None
    return float(value)


def money(r: Reader, node: Node, what: str) -> Optional[int]:
    """Micro-units of an amount written in the currency's units (0.035 -> 35000), as decks hold money."""
    value = node.value if node.kind == SCALAR else None
    try:
        amount = Decimal(str(value)) if isinstance(value, (int, float, str)) and not isinstance(value, bool) \
            else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > 10 ** 9:
        r.error(node, "%s must be an amount of money (like 0.35)" % what)
        return None
    micro = amount * MICRO
    if micro != micro.to_integral_value():
        r.error(node, "%s: at most 6 decimals" % what)
        return None
    return int(micro)
