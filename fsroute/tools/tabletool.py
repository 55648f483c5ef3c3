"""``fsroute table lookup`` and the tables of ``check`` and ``simulate``: number tables read in this process.

The switch reads its tables in the background, part of each generation
(runtime.filecache); a tool reads them here, once, as a switch would at
start-up, and binds them to the rules it checks (every bad row as file:line).
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

from fsroute.core import loader, tables
from fsroute.core.model import Problem, RuleSet, RulesError
from fsroute.core.rowfile import date_text
from fsroute.core.tablerows import BoundTable, bind, known_of
from fsroute.core.timespec import read_at


def load_tables(rules: RuleSet) -> Dict[str, BoundTable]:
    """{table name: BoundTable} of every table in ``rules``; raises RulesError listing every problem of all."""
    loaded: Dict[str, BoundTable] = {}
    problems: List[Problem] = []
    known = known_of(rules)
    for name, spec in sorted(rules.tables.items()):
        try:
            loaded[name] = bind(spec, tables.load(spec.path, spec.layout), known)
        except RulesError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RulesError(problems)
    return loaded


def lookup_text(path: str, name: str, number: str, at: Optional[str] = None) -> Tuple[bool, str]:
    """(whether table ``name`` of the rules at ``path`` has a row for ``number`` at ``at`` (timespec.read_at;
    None: now), the row or why not as text); raises RulesError for bad rules or tables, SpecError for ``at``."""
    rules = loader.load(path)
    if name not in rules.tables:
        return False, "no table named '%s' (the rules have: %s)\n" % (name, ", ".join(sorted(rules.tables)) or "none")
    spec = rules.tables[name]
    bound = bind(spec, tables.load(spec.path, spec.layout), known_of(rules))
    now = time.time() if at is None else read_at(at, rules.defaults.tz)[0]
    row, action = bound.find(number, now)
    if action is None:
        return False, "%s: table '%s' (%s, %d rows) has no row\n" % (number, name, spec.layout.kind, len(bound.table))
    table = bound.table
    lines = ["%s: table '%s' (%s, %d rows): %s %s" % (number, name, spec.layout.kind, len(table),
                                                      "number" if spec.layout.kind == "exact" else "prefix",
                                                      table.key(row))]
    lines += ["  " + action.text] if action.text else []  # a plain list's row says nothing more
    if table.starts is not None and table.ends is not None:
        lines.append("  effective %s to %s" % (date_text(table.starts[row]), date_text(table.ends[row])))
    return True, "\n".join(lines) + "\n"
