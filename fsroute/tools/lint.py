"""Warnings about rules files that load but are unlikely to mean what they say (``fsroute check``)."""

from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from fsroute.core.inclusion import ANY, PRINTABLE, UNKNOWN, Automaton, automaton, example
from fsroute.core.index import literal_prefix
from fsroute.core.model import Route, RuleSet
from fsroute.core.patterns import Regex
from fsroute.core.timespec import TimeSpec

# Destination regexes that take every number: what is left of a pattern once
# its ^ and $ anchors and one group around it are taken away.
CATCH_ALL_BODIES = frozenset(["", ".*", ".+", r"\d*", r"\d+", "[0-9]*", "[0-9]+"])
# Route pairs compared at most, with the number of earlier routes compared with one route: a table
# of 100,000 routes is checked in seconds; pairs left out only leave out warnings.
MAX_PAIRS = 2000
MAX_EARLIER = 20


def warnings(rules: RuleSet) -> List[str]:
    """One ``FILE[:LINE[:COL]]: warning: ...`` line per suspicious thing in ``rules``, in file order:
    the grammar's own (``RuleSet.warnings``, e.g. a time condition that can never hold) and these."""
    found = sorted(_shapes(rules) + _unsold(rules) + [(w.line, w.col, str(w)) for w in rules.warnings])
    return [text for _, _, text in found]


def _shapes(rules: RuleSet) -> List[Tuple[int, int, str]]:
    """(line, col, text) of the warnings about how routes shadow one another."""
    if not rules.routes:
        return [(0, 0, "%s: warning: the file has no routes: every call ends as no_route" % rules.path)]
    found = []
    reach = len(rules.routes)  # the routes before the first catch-all: those after it are reported with it
    for position, route in enumerate(rules.routes[:-1]):
        if is_catch_all(route):
            later = len(rules.routes) - position - 1
            found.append((route.line, 0, "%s:%d: warning: route '%s' takes every number (no acl, no other "
                          "condition), so the %d route%s after it %s never reached"
                          % (rules.path, route.line, route.name, later, "" if later == 1 else "s",
                             "is" if later == 1 else "are")))
            reach = position + 1
            break  # the routes after it are shadowed already, catch-alls among them too
    return found + _Shadows(rules.path).find(rules.routes[:reach])


def _unsold(rules: RuleSet) -> List[Tuple[int, int, str]]:
    """Least-cost routes with a minimum margin and no default sell deck (theirs, or every account's): a call
    that does not name its sell deck (nor its account's row) has no sell price, and ends as no_margin
    (docs/margin.md)."""
    if rules.accounts is not None and rules.accounts.sell_deck is not None:
        return []
    whose = " and whose account's row names no sell deck" if rules.accounts is not None else ""
    return [(route.line, 0, "%s:%d: warning: route '%s' has min_margin but no sell default: every call that "
             "does not set ${%s}%s ends as no_margin" % (rules.path, route.line, route.name, margin.sell_variable,
                                                        whose))
            for route in rules.routes
            for margin in [route.lcr.margin if route.lcr is not None else None]
            if margin is not None and margin.guarded and margin.sell_default is None]


class _Shadows:
    """Routes that an earlier route leaves no call (or only some calls) to.

    An earlier route E takes a call before a later route L whenever E's
    destination regex matches it and E's other tests hold too: E has no
    acl or L's, each of E's other conditions follows from one of L's on
    the same variable, and E's time conditions are among L's. E's action
    does not matter: the first route that holds takes the call, whatever
    it does with it. Only earlier routes whose literal prefix (the index's)
    starts L's are compared: the others cannot take all of L's numbers.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.pairs = 0
        self.machines: Dict[Tuple[Optional[str], FrozenSet[str]], Optional[Automaton]] = {}

    def find(self, routes: Sequence[Route]) -> List[Tuple[int, int, str]]:
        found: List[Tuple[int, int, str]] = []
        by_prefix: Dict[str, List[int]] = {}
        for position, later in enumerate(routes):
            prefix = literal_prefix(later.dest) if later.dest is not None else ""
            earlier = sorted(p for n in range(len(prefix) + 1) for p in by_prefix.get(prefix[:n], ()))
            partly = ""  # the first earlier route that takes some of its calls, unless one takes them all
            for other in earlier[:MAX_EARLIER]:
                if self.pairs >= MAX_PAIRS:
                    break
                every, text = self.shadow(routes[other], later, prefix)
                if every:
                    partly = text
                    break
                partly = partly or text
            if partly:
                found.append((later.line, 0, partly))
            by_prefix.setdefault(prefix, []).append(position)
        return found

    def machine(self, regex: Optional[Regex], universe: FrozenSet[str]) -> Optional[Automaton]:
        pattern = None if regex is None else regex.pattern
        key = (pattern, universe)
        if key not in self.machines:
            self.machines[key] = automaton(pattern, universe, regex.flags if regex is not None else 0)
        return self.machines[key]

    def shadow(self, earlier: Route, later: Route, prefix: str) -> Tuple[bool, str]:
        """(True, the warning) when ``earlier`` takes every call of ``later`` (whose numbers start with
        ``prefix``), (False, the warning) when it takes some and is not the narrower of the two, else
        (False, "")."""
        none = (False, "")
        theirs = self.machine(earlier.dest, PRINTABLE)
        if theirs is None or not theirs.may_start(prefix) or not self.implied(earlier, later):
            return none  # cannot tell; or no number both match: the quick answer for most pairs
        self.pairs += 1
        mine = self.machine(later.dest, PRINTABLE)
        if mine is None:
            return none
        where = "%s:%d: warning: route '%s'" % (self.path, later.line, later.name)
        missed = example(mine, theirs, PRINTABLE, in_second=False)
        if missed is None and example(mine, mine, PRINTABLE, in_second=True) is not None:
            return True, ("%s never takes a call: route '%s' (line %d) comes first and takes every call it "
                          "matches" % (where, earlier.name, earlier.line))
        if missed is UNKNOWN:
            return none
        taken = example(mine, theirs, PRINTABLE, in_second=True)
        broader = example(theirs, mine, PRINTABLE, in_second=False)  # else: the earlier is the narrower one
        if taken in (None, UNKNOWN) or broader in (None, UNKNOWN):
            return none
        return False, ("%s is partly shadowed: route '%s' (line %d) comes first and takes some of the numbers "
                       "it matches (e.g. %s)" % (where, earlier.name, earlier.line, taken or "the empty number"))

    def implied(self, earlier: Route, later: Route) -> bool:
        """Whether every call that passes ``later``'s tests other than the destination passes
        ``earlier``'s too (acl, other variables, time conditions; a table route takes only its rows)."""
        if earlier.table is not None or earlier.acl is not None and earlier.acl != later.acl:
            return False
        if not ({id(spec) for spec in earlier.when} <= {id(spec) for spec in later.when}
                and {id(spec) for spec in earlier.unless} <= {id(spec) for spec in later.unless}
                and any_implied(earlier.when_any, later)):
            return False
        for name, regex in earlier.conditions:
            theirs = self.machine(regex, ANY)
            mine = [self.machine(r, ANY) for n, r in later.conditions if n == name] or [self.machine(None, ANY)]
            if theirs is None or not any(m is not None and example(m, theirs, ANY, in_second=False) is None
                                         for m in mine):
                return False
        return True


def any_implied(any_of: Tuple[TimeSpec, ...], later: Route) -> bool:
    """Whether one of the conditions ``any_of`` (an earlier route's when_any; none: no condition) holds
    whenever ``later``'s time conditions do: ``later`` requires one of them, or its own when_any is
    among them."""
    mine = {id(spec) for spec in any_of}
    return not mine or any(id(spec) in mine for spec in later.when) \
        or bool(later.when_any) and {id(spec) for spec in later.when_any} <= mine


def is_catch_all(route: Route) -> bool:
    """True when ``route`` takes every call that reaches it: no acl, no condition on another
    variable or on the time, and no destination regex or one that is ``.*``, ``.+``, ``\\d*``,
    ``\\d+``, ``[0-9]*`` or ``[0-9]+``, with or without ``^``/``$`` and one group around it; and no
    table (a table route passes the numbers without a row on)."""
    if route.acl is not None or route.conditions or route.when or route.unless or route.when_any \
            or route.table is not None:
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
