"""Warnings about rules files that load but are unlikely to mean what they say (``fsroute check``)."""

from __future__ import annotations

from typing import List, Tuple

from fsroute.core.model import Route, RuleSet

# Destination regexes that take every number: what is left of a pattern once
# its ^ and $ anchors and one group around it are taken away.
CATCH_ALL_BODIES = frozenset(["", ".*", ".+", r"\d*", r"\d+", "[0-9]*", "[0-9]+"])


def warnings(rules: RuleSet) -> List[str]:
    """One ``FILE[:LINE[:COL]]: warning: ...`` line per suspicious thing in ``rules``, in file order:
    the grammar's own (``RuleSet.warnings``, e.g. a time condition that can never hold) and these."""
    found = sorted(_shapes(rules) + [(w.line, w.col, str(w)) for w in rules.warnings])
    return [text for _, _, text in found]


def _shapes(rules: RuleSet) -> List[Tuple[int, int, str]]:
    """(line, col, text) of the warnings about how routes shadow one another."""
    if not rules.routes:
        return [(0, 0, "%s: warning: the file has no routes: every call ends as no_route" % rules.path)]
    found = []
    for position, route in enumerate(rules.routes[:-1]):
        if is_catch_all(route):
            later = len(rules.routes) - position - 1
            found.append((route.line, 0, "%s:%d: warning: route '%s' takes every number (no acl, no other "
                          "condition), so the %d route%s after it %s never reached"
                          % (rules.path, route.line, route.name, later, "" if later == 1 else "s",
                             "is" if later == 1 else "are")))
            break  # the routes after it are shadowed already, catch-alls among them too
    return found


def is_catch_all(route: Route) -> bool:
    """True when ``route`` takes every call that reaches it: no acl, no condition on another
    variable or on the time, and no destination regex or one that is ``.*``, ``.+``, ``\\d*``,
    ``\\d+``, ``[0-9]*`` or ``[0-9]+``, with or without ``^``/``$`` and one group around it."""
    if route.acl is not None or route.conditions or route.when or route.unless:
        return False
    if route.dest is None:
        return True
    body = route.dest.pattern
    body = body[1:] if body.startswith("^") else body
    body = body[:-1] if body.endswith("$") and not body.endswith("\\$") else body
    for opening in ("(?:", "("):
        if body.startswith(opening) and body.endswith(")"):
            body = body[len(opening):-1]
            break
    return body in CATCH_ALL_BODIES
