"""What a number table's row does to a call: its target, number and variables, bound to one rule set.

A table file holds cells (tables.py); the rules say what its columns mean
(``tables:``, sections/tables.py, gives a TableSpec). A target cell is one of

- ``NAME`` (a gateway; a group when the table says ``target_kind: group``),
  ``gateway:NAME``, ``group:NAME``;
- ``lcr:CARRIER+CARRIER...``: least-cost routing over those carriers;
- ``hangup:CAUSE``, ``transfer:EXTENSION [DIALPLAN [CONTEXT]]``, ``continue``.

A number cell is a template over ``$0``, the looked-up number (``9$0``,
``+1$0``, ``1001``); empty keeps the route's number. Variable cells are
values set on the channel before the bridge (empty: not set).

``bind`` reads each distinct cell tuple of a table once per generation (a
table of millions of rows has few distinct ones), checked against the rules
(gateways, groups, carriers): a bad one is a problem at the file:line of the
first row that has it, and keeps the last good generation.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

from . import templates
from .causes import CAUSES
from .dialstring import UnsafeValue, check_value
from .model import (NAME_RE, NUMBER_RE, Carrier, Group, Lcr, Problem, Route, RuleSet, RulesError, TableSpec,
                    Transfer)
from .tables import Table

TARGET_KINDS = ("gateway", "group")
LOOKED_UP = "the looked-up number"
_VERBS = ("gateway", "group", "lcr", "hangup", "transfer")
_CLEARED = {"gateway": None, "group": None, "lcr": None, "hangup": None, "transfer": None, "continues": False,
            "gateway_var": None}


class RowAction(NamedTuple):
    """What rows with one distinct cell tuple do: the route fields they set, their number template (None:
    the route's number), their channel variables, and how explanations say it."""
    fields: Mapping[str, Any]
    number: Optional[templates.Parts]
    variables: Tuple[Tuple[str, templates.Parts], ...]
    text: str


class TargetError(ValueError):
    """A target cell that does not say a target, or names what the rules do not have."""


class Known(NamedTuple):
    """What a target may name: the rules' groups and carriers, and (under strict_gateways) its gateways."""
    groups: Mapping[str, Group]
    carriers: Mapping[str, Carrier]
    gateways: Optional[Mapping[str, object]] = None


def parse_target(text: str, kind: str, known: Known) -> Tuple[Dict[str, Any], str]:
    """(the route fields a target cell sets, the cell as explanations say it); raises TargetError."""
    verb, colon, rest = text.partition(":")
    if not colon:
        if text == "continue":
            return dict(_CLEARED, continues=True), "continue"
        verb, rest = kind, text
    rest = rest.strip()
    if verb == "gateway":
        if not NAME_RE.match(rest):
            raise TargetError("target %r is not a gateway name" % text[:40])
        if known.gateways is not None and rest not in known.gateways:
            raise TargetError("gateway '%s' is not declared under gateways (strict_gateways)" % rest)
        return dict(_CLEARED, gateway=rest), "gateway %s" % rest
    if verb == "group":
        if rest not in known.groups:
            raise TargetError("no group named '%s'" % rest[:40])
        return dict(_CLEARED, group=rest), "group %s" % rest
    if verb == "lcr":
        names = rest.split("+")
        missing = [name[:40] for name in names if name not in known.carriers]
        if missing:
            raise TargetError("lcr: no carrier named %s" % ", ".join("'%s'" % name for name in missing))
        if len({known.carriers[name].currency for name in names}) > 1:
            raise TargetError("lcr: the carriers' rates are in different currencies")
        return dict(_CLEARED, lcr=Lcr(tuple(known.carriers[name] for name in names), None, None)), "lcr " + rest
    if verb == "hangup":
        if rest.upper() not in CAUSES:
            raise TargetError("'%s' is not a FreeSWITCH hangup cause" % rest[:40])
        return dict(_CLEARED, hangup=rest.upper()), "hangup %s" % rest.upper()
    if verb == "transfer":
        parts = rest.split()
        if not 1 <= len(parts) <= 3 or not all(NAME_RE.match(p) for p in parts) or not NUMBER_RE.match(parts[0]):
            raise TargetError("transfer must be 'EXTENSION [DIALPLAN [CONTEXT]]'")
        return (dict(_CLEARED, transfer=Transfer((parts[0],), *(parts[1:] + [None, None])[:2])),
                "transfer %s" % " ".join(parts))
    raise TargetError("target %r: expected NAME, gateway:NAME, group:NAME, lcr:CARRIER+..., hangup:CAUSE, "
                      "transfer:EXTENSION or continue" % text[:40])


class BoundTable:
    """A loaded table with what each of its distinct cell tuples does, for one rule set; read-only."""

    def __init__(self, spec: TableSpec, table: Table, actions: List[RowAction]) -> None:
        self.spec = spec
        self.table = table
        self.actions = actions

    def gateways(self) -> Set[str]:
        """The gateways its rows name (``gateway:NAME`` targets)."""
        return {action.fields["gateway"] for action in self.actions if action.fields.get("gateway")}

    def find(self, number: str, now: float) -> Tuple[int, Optional[RowAction]]:
        """(row, its action) for ``number`` (one leading '+' is not part of it), (-1, None) when it has none."""
        digits = _digits_of(number)
        if not (digits.isdigit() and digits.isascii()):
            return -1, None
        table = self.table
        row = table.find(digits, now)
        return (row, self.actions[table.ids[row]]) if row >= 0 else (-1, None)


def bind(spec: TableSpec, table: Table, known: Known) -> BoundTable:
    """``table`` read as ``spec`` says against the rules ``known``; raises RulesError at each bad value's
    first line."""
    problems: List[Problem] = []
    targets: Dict[str, Tuple[Dict[str, Any], str]] = {}
    numbers: Dict[str, Optional[templates.Parts]] = {"": None}
    actions: List[RowAction] = []
    for index, cells in enumerate(table.values):
        line = table.value_lines[index]
        try:
            actions.append(_action(spec, cells, known, targets, numbers))
        except (TargetError, templates.TemplateError, UnsafeValue) as exc:
            problems.append(Problem(table.filename, line, 1, "table '%s': %s" % (spec.name, exc)))
            if len(problems) >= 50:
                break
    if problems:
        raise RulesError(problems)
    return BoundTable(spec, table, actions)


def _action(spec: TableSpec, cells: Tuple[str, ...], known: Known,
            targets: Dict[str, Tuple[Dict[str, Any], str]], numbers: Dict[str, Optional[templates.Parts]]
            ) -> RowAction:
    at = 0
    target = spec.action or ""
    if spec.target:
        target, at = cells[0], 1
    if target not in targets:
        if not target and (spec.target or spec.action):
            raise TargetError("the row has no target")
        # a table of numbers only (lookup:) sets no target
        targets[target] = parse_target(target, spec.target_kind, known) if target else ({}, "")
    fields, text = targets[target]
    number = None
    if spec.number:
        cell = cells[at]
        at += 1
        if cell not in numbers:
            numbers[cell] = _number(cell)
        number = numbers[cell]
        if number is not None:
            text += "%snumber %s" % (", " if text else "", cell)
    variables = []
    for name, value in zip(spec.variables, cells[at:]):
        if value:
            variables.append((name, (check_value(value, "variable %s" % name),)))
            text += ", %s=%s" % (name, value)
    return RowAction(fields, number, tuple(variables), text)


def _number(cell: str) -> Optional[templates.Parts]:
    """A number cell's template over $0 (None: empty)."""
    if not cell:
        return None
    parts = templates.parse(cell, zero=LOOKED_UP)
    if any(isinstance(part, templates.Var) for part in parts):
        raise templates.TemplateError("number %r: a table's number has no ${var}" % cell[:40])
    if not NUMBER_RE.match(cell.replace("$0", "0")):
        raise templates.TemplateError("number %r may hold only 0-9 A-Z a-z + * # . _ - and $0" % cell[:40])
    return parts


def number_of(action: RowAction, looked_up: str) -> Optional[str]:
    """The number a row gives (its template over the digits looked up: as in find, one leading '+' of
    ``looked_up`` is not part of them, so ``+$0`` gives one '+'), None when its number cell is empty."""
    if action.number is None:
        return None
    return templates.over_number(action.number, _digits_of(looked_up), _unset)


def _digits_of(number: str) -> str:
    """The number a table looks up: ``number`` without one leading '+'."""
    return number[1:] if number[:1] == "+" else number


def routed(route: Route, action: RowAction, looked_up: str) -> Route:
    """``route`` as the row makes it: its target, its number (over ``looked_up``), its variables set."""
    fields: Dict[str, Any] = dict(action.fields)
    number = number_of(action, looked_up)
    if number is not None:
        fields["number"] = (number,)
    if action.variables:
        fields["dialling"] = route.dialling._replace(set=route.dialling.set + action.variables)
    fields["table"] = None
    return route._replace(**fields)


def _unset(name: str) -> Optional[str]:
    return None


# A generation's bound table by name, or None while it is not loaded.
TableOf = Callable[[str], Optional[BoundTable]]


def known_of(rules: RuleSet) -> Known:
    """What the targets of ``rules``' tables may name."""
    return Known(rules.groups, rules.carriers, rules.gateway_specs if rules.defaults.strict_gateways else None)
