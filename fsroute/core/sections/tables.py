"""``tables:``: number tables (exact numbers or prefixes, from CSV/TSV files) and what their columns mean.

```yaml
tables:
  dids:
    file: dids.csv               # relative to the rules file
    key: exact                   # or prefix (longest match)
    columns: {key: did, target: trunk, number: rewrite}   # file column of each meaning
    variables: {fsroute_customer: customer}               # channel variable: file column
  blocked:
    file: blocked.txt
    key: prefix
    action: hangup:CALL_REJECTED  # every row's target: a blocklist needs no target column
    header: false                 # a plain list, one number a line (mod_blacklist's files)
```

Column names default to the meanings' own (``key``: ``number``,
``target``: ``target``); ``number``, ``effective_from`` and
``effective_to`` are read only when mapped. The target cells' syntax is
tablerows.py's.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Tuple

from ..model import VARIABLE_RE, Carrier, Group, Layout, NumberLookup, TableSpec
from ..reading import Reader
from ..tablerows import TARGET_KINDS, Known, TargetError, parse_target
from ..tables import KINDS
from ..text import did_you_mean
from ..yamltree import SCALAR, Node

TABLE_KEYS = ("file", "key", "columns", "variables", "action", "target_kind", "header")
DIAL_CHOICES = ("dialled", "routing")
COLUMN_KEYS = ("key", "target", "number", "effective_from", "effective_to")


def read_tables(r: Reader, node: Node, groups: Dict[str, Group], carriers: Dict[str, Carrier],
                extra: Optional[Mapping[str, Tuple[str, ...]]] = None) -> Dict[str, TableSpec]:
    """The tables by name; each table's file is read with the rules' generation, not here. ``extra``:
    {table: columns other features read from its rows (quality classes)}, read after its own."""
    fields = r.mapping(node, "tables")
    out = {}
    known = Known(groups, carriers, r.declared_gateways)
    for name, (key, value) in (fields or {}).items():
        what = "table '%s'" % name
        if not r.check_name(key, what):
            continue
        r.declared["table"].add(name)
        body = r.mapping(value, what, allowed=TABLE_KEYS, required=("file", "key"))
        if body is None or "file" not in body or "key" not in body:
            continue
        bad: List[str] = []
        path = r.string(body["file"][1], what + " file")
        kind = r.string(body["key"][1], what + " key")
        if kind is not None and kind not in KINDS:
            r.error(body["key"][1], "%s key must be exact or prefix (longest match), not %r" % (what, kind))
        target_kind = "gateway"
        if "target_kind" in body:
            target_kind = r.string(body["target_kind"][1], what + " target_kind") or "gateway"
            if target_kind not in TARGET_KINDS:
                r.error(body["target_kind"][1], "%s target_kind must be gateway or group" % what)
                bad.append("target_kind")
        action = None
        if "action" in body:
            action = r.string(body["action"][1], what + " action")
            try:
                parse_target(action or "", target_kind, known)
            except TargetError as exc:
                r.error(body["action"][1], "%s action: %s" % (what, exc))
                bad.append("action")
        columns = _columns(r, body["columns"][1], what, bad) if "columns" in body else {}
        variables = _variables(r, body["variables"][1], what, bad) if "variables" in body else []
        if action is not None and "target" in columns:
            r.error(body["action"][1], "%s names both an action and a target column: one says every row's "
                    "target, the other each row's" % what)
            bad.append("action")
        header = r.boolean(body["header"][1], what + " header") if "header" in body else True
        if header is False and (columns.keys() - {"key"} or variables):
            r.error(body["header"][1], "%s: a list without a header has one column, the key: it takes "
                    "an action but no other columns or variables" % what)
            bad.append("header")
        if bad or path is None or kind not in KINDS or ("action" in body and action is None) or header is None:
            continue
        # a table with a number column and neither target nor action only gives numbers (lookup:)
        # ... and a list without a header or action only holds numbers (for fraud rules, quality classes)
        targeted = bool(action) or "target" in columns or ("number" not in columns and header)
        values = ([columns.get("target", "target")] if targeted and not action else []) + \
            ([columns["number"]] if "number" in columns else []) + [column for _, column in variables]
        values += [column for column in (extra or {}).get(name, ()) if header and column not in values]
        layout = Layout(kind or "exact", columns.get("key", "number"), tuple(values),
                        columns.get("effective_from"), columns.get("effective_to"), header)
        full = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(r.filename)), path))
        out[name] = TableSpec(name, full, layout, targeted and not action, "number" in columns,
                              tuple(variable for variable, _ in variables), action, target_kind, key.line)
    return out


def read_lookup(r: Reader, node: Node, tables: Mapping[str, TableSpec]) -> Optional[NumberLookup]:
    """``lookup: {table: NAME, dial: dialled|routing, variable: lrn}``: number portability before routing."""
    body = r.mapping(node, "lookup", allowed=("table", "dial", "variable"), required=("table",))
    if not body or "table" not in body:
        return None
    name = r.string(body["table"][1], "lookup table")
    spec = tables.get(name or "")
    if name is not None and spec is None and name not in r.declared["table"]:
        r.error(body["table"][1], "lookup: no table named '%s'%s" % (name, did_you_mean(name, r.declared["table"])))
    elif spec is not None and not spec.number:
        r.error(body["table"][1], "lookup: table '%s' maps no number column (the routing number, LRN)" % name)
    dial = r.string(body["dial"][1], "lookup dial") if "dial" in body else "dialled"
    if dial is not None and dial not in DIAL_CHOICES:
        r.error(body["dial"][1], "lookup dial must be dialled (the dial string keeps the dialled number, as "
                "mod_lcr) or routing (it gets the routing number)")
    variable = r.string(body["variable"][1], "lookup variable", VARIABLE_RE) if "variable" in body else "lrn"
    if name is None or spec is None or not spec.number or dial not in DIAL_CHOICES or variable is None:
        return None
    return NumberLookup(name, dial, variable)


def _columns(r: Reader, node: Node, what: str, bad: List[str]) -> Dict[str, str]:
    """{meaning: file column (lower case, as the header is read)}; what was refused goes to ``bad``."""
    unknown: List[str] = []
    body = r.mapping(node, what + " columns", allowed=COLUMN_KEYS, unknown=unknown)
    bad.extend(unknown if body is not None else ["columns"])
    out = {}
    for meaning, (_, value) in (body or {}).items():
        column = _column(r, value, "%s columns %s" % (what, meaning), bad)
        if column is not None:
            out[meaning] = column
    return out


def _variables(r: Reader, node: Node, what: str, bad: List[str]) -> List[Tuple[str, str]]:
    """[(channel variable, file column)]; what was refused goes to ``bad``."""
    body = r.mapping(node, what + " variables")
    if body is None:
        bad.append("variables")
    out = []
    for variable, (key, value) in (body or {}).items():
        if not VARIABLE_RE.match(variable):
            r.error(key, "%s variables: %r is not a channel variable name" % (what, variable))
            bad.append(variable)
            continue
        column = _column(r, value, "%s variables %s" % (what, variable), bad)
        if column is not None:
            out.append((variable, column))
    return out


def _column(r: Reader, node: Node, what: str, bad: List[str]) -> Optional[str]:
    text = node.value if node.kind == SCALAR else None
    if not isinstance(text, str) or not text.strip():
        r.error(node, "%s must name a column of the file" % what)
        bad.append(what)
        return None
    return text.strip().lower()
