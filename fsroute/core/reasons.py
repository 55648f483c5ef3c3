"""Why a call got its decision, as lines for people, gathered by router.decide during its own walk.

Only when asked (``decide(..., explain=True)``: ``ctl test``, ``simulate
--explain``, a traced call) does the router hand a Reasons to the places of
its walk where something refuses or takes the call; nothing reads the rules
a second time, so what is said is what decided. Without one the router
formats no text and builds no list.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence, Set, Tuple

from .acl import Acl, parse_address
from .calendars import Moment
from .timespec import zone_of
from .decks import rate_text
from .margin import margin_text, minimum_text
from .routetable import labels
from .text import one_line

if TYPE_CHECKING:
    from .lcr import CallLength, Quote, Ranking
    from .margin import Sale
    from .model import Lcr, Margin, Route, RuleSet
    from .tablerows import BoundTable, RowAction
    from .patterns import Regex
    from .timespec import TimeSpec, Zone

# Routes looked at are explained one by one up to this many; the rest are counted (a table may hold 100,000).
MAX_ROUTE_LINES = 30
# Routes the index left out that the summary line names.
NAMED_LEFT_OUT = 3


class Reasons:
    """The lines of one decision, in the order the walk met them: before the routes (ingress acl,
    a refused destination), one per route looked at, the route that took the call and what came of it."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._head: List[str] = []
        self._routes: List[str] = []
        self._hidden = 0                  # routes looked at beyond MAX_ROUTE_LINES
        self._looked: Set[str] = set()    # the name of every route looked at (names are unique)
        self._destination: Optional[str] = None  # set when the walk over the routes starts
        self._taken: Optional[Route] = None
        self._tail: List[str] = []

    # -- before the routes ---------------------------------------------------------------------

    def ingress(self, acl: Acl, source: Optional[str], allowed: bool) -> None:
        self._head.append("ingress acl %s" % acl_verdict(acl, source)[1])
        if not allowed:
            self._head.append("every call from this source is denied before any route is looked at")

    def dipped(self, table: str, destination: str, lrn: Optional[str], why: str) -> None:
        """lookup: the routing number found for ``destination`` (None: none, it routes as dialled)."""
        self._head.append("lookup %s: %s: %s" % (one_line(destination), why, "routing number %s routes and rates "
                                                 "the call" % lrn if lrn else "no routing number, it routes as "
                                                 "dialled"))

    def refused_destination(self, destination: str, why: str) -> None:
        self._head.append("destination %s is refused before any route: %s" % (one_line(destination), why))

    # -- the routes ----------------------------------------------------------------------------

    def walk(self, destination: str) -> None:
        """The router starts looking at the routes the index gives for ``destination``."""
        self._destination = destination

    def mismatch(self, route: Route, destination: str, dest: Regex) -> None:
        self._route(route, "destination_number %s does not match '%s'" % (one_line(destination), dest.pattern))

    def condition(self, route: Route, name: str, value: str, regex: Regex, limit: int) -> None:
        """``value`` of ``name`` is longer than ``limit`` or fails ``regex``."""
        if len(value) > limit:
            self._route(route, "%s is longer than %d characters" % (name, limit))
        else:
            self._route(route, "%s %s does not match '%s'" % (name, one_line(value) if value else "(unset)",
                                                              regex.pattern))

    def untimely(self, route: Route, moment: Moment) -> None:
        """The route's time conditions refuse ``moment``: the first one that does, by the Moment's verdicts."""
        for spec in route.when:
            if not moment.holds(spec):
                self._route(route, "%s does not hold at %s" % (_time_condition(spec, "when"),
                                                               instant_text(moment.instant, spec.zone)))
                return
        if route.when_any and not moment.holds_any(route.when_any):
            names = ", ".join("/".join("'%s'" % name for name in spec.names) for spec in route.when_any)
            several = len(route.when_any) > 1
            self._route(route, "when_any calendar%s %s %s not hold at %s" % (
                "s" if several else "", names, "do" if several else "does",
                instant_text(moment.instant, route.when_any[0].zone)))
            return
        for spec in route.unless:
            if moment.holds(spec):
                self._route(route, "%s holds at %s" % (_time_condition(spec, "unless"),
                                                       instant_text(moment.instant, spec.zone)))
                return

    def refused(self, route: Route, acl: Acl, source: Optional[str]) -> None:
        self._route(route, "its conditions hold but acl %s (the call is denied unless a later route takes it)"
                    % acl_verdict(acl, source)[1])

    def table(self, route: Route, bound: Optional[BoundTable], number: str, row: int,
              action: Optional[RowAction]) -> None:
        """What a ``table:`` route's table said of ``number``: its row and target, or no row (the next route)."""
        name = route.table
        if bound is None:
            self._route(route, "table '%s' is not loaded: no row for %s (the next route is looked at)"
                        % (name, one_line(number)))
        elif action is None:
            self._route(route, "table '%s' (%s) has no row for %s (the next route is looked at)"
                        % (name, bound.table.layout.kind, one_line(number)))
        else:
            self._tail.append("table '%s' (%s, %d rows) row %s for %s: %s" % (
                name, bound.table.layout.kind, len(bound.table), bound.table.key(row), one_line(number), action.text))

    def took(self, route: Route) -> None:
        self._looked.add(route.name)
        self._taken = route

    def _route(self, route: Route, why: str) -> None:
        self._looked.add(route.name)
        if len(self._routes) < MAX_ROUTE_LINES:
            self._routes.append("%s: %s" % (_label(route), why))
        else:
            self._hidden += 1

    # -- after the route that took the call ----------------------------------------------------

    def priced(self, length: CallLength) -> None:
        """The length of call a least-cost route's carriers were priced at, and why that length."""
        self._tail.append("priced as a %d s call: %s" % (length.seconds, length.why()))

    def carriers(self, spec: Lcr, number: str, ranking: Ranking, taken: Sequence[Quote], seconds: int) -> None:
        """How a least-cost route ranked its carriers: by the cost of a call of ``seconds``, cheapest first (each
        cost's computation), then those left out, and the decks used."""
        lines = self._tail
        lines.append("its carriers for %s, cheapest %d s call first: %s" % (number, seconds, ", ".join(
            "%s (prefix %s: %s)" % (q.carrier.name, q.deck.prefix(q.row), q.tariff().explain(seconds))
            for q in taken) or "none"))
        dearer = [q for q in ranking.quotes if q not in taken]
        if dearer and spec.max_rate is not None:
            lines.append("above max_rate %s: %s" % (rate_text(spec.max_rate), ", ".join(
                "%s (%s)" % (q.carrier.name, rate_text(q.rate)) for q in dearer)))
        quoted = {q.carrier.name for q in ranking.quotes} | set(ranking.unloaded)
        unserved = [c.name for c in spec.carriers if c.name not in quoted]
        if unserved:
            lines.append("no prefix of %s in force: %s" % (number, ", ".join(unserved)))
        if ranking.unloaded:
            lines.append("deck not loaded: %s" % ", ".join(ranking.unloaded))
        zone = zone_of(self.rules.defaults.tz)
        versions = ["%s loaded %s" % (q.carrier.name, instant_text(q.deck.loaded_at, zone))
                    for q in ranking.quotes if q.deck.loaded_at is not None]
        if versions:
            lines.append("deck versions used: %s" % ", ".join(versions))

    def margin(self, spec: Margin, sale: Optional[Sale], unsold: str, offered: Sequence[Quote],
               kept: Sequence[Quote], seconds: int) -> None:
        """What the call is sold at, each carrier's expected margin, and those dropped for breaking the minimum."""
        if sale is None:
            self._tail.append("sold at: unknown, %s%s" % (unsold, "; no carrier's margin can be shown"
                                                          if spec.guarded and offered else ""))
            return
        self._tail.append("sold at: sell deck %s (%s), prefix %s: %s; margin %s" % (
            sale.deck, sale.source, sale.prefix, sale.tariff.explain(seconds),
            ", ".join("%s %s" % (q.carrier.name, margin_text(sale.revenue, q.cost)) for q in offered) or "-"))
        losing = [q.carrier.name for q in offered if q not in kept]
        if losing:
            self._tail.append("below %s: %s" % (minimum_text(spec), ", ".join(losing)))

    def refused_caller(self, name: str, value: str) -> None:
        """The route took the call, but its caller ID holds a control character (invalid_number)."""
        self._tail.append("%s %s holds control characters: not bridged, the carrier's INVITE would carry "
                          "them" % (name, one_line(value)))

    def unusable(self, gateways: Iterable[str], benched: Sequence[str]) -> None:
        """Every gateway the call could take is down or benched (all_down): which, and why."""
        rules = self.rules
        self._tail.append("no gateway to try: %s" % ", ".join(
            "%s benched by its breaker" % name if name in benched
            else "%s down (profile %s)" % (name, rules.profile_of(name)) for name in _unique(gateways)))

    # -- the lines -----------------------------------------------------------------------------

    def lines(self) -> Tuple[str, ...]:
        """Every line, in order; the routes the index left out (before the one that took the call) in one."""
        if self._destination is None:
            return tuple(self._head)
        lines = self._head + self._left_out(self._destination) + self._routes
        if self._hidden:
            lines.append("... %d more route%s not shown" % (self._hidden, "" if self._hidden == 1 else "s"))
        if self._taken is None:
            return tuple(lines + ["no route takes the call"])
        return tuple(lines + ["%s: every condition holds; it takes the call" % _label(self._taken)] + self._tail)

    def _left_out(self, destination: str) -> List[str]:
        """One line for the routes the index left out: the router never looked at them."""
        count = 0
        named: List[str] = []
        taken = self._taken.name if self._taken is not None else None
        for name, line in labels(self.rules.routes):
            if name == taken:
                break
            if name not in self._looked:
                count += 1
                if len(named) < NAMED_LEFT_OUT:
                    named.append("'%s' (line %d)" % (name, line))
        if not count:
            return []
        return ["%d route%s not looked at (the index: %s does not start with %s literal prefix): %s%s" % (
            count, "" if count == 1 else "s", one_line(destination) or "the empty destination",
            "its" if count == 1 else "their", ", ".join(named),
            " and %d more" % (count - len(named)) if count > len(named) else "")]


def acl_verdict(acl: Acl, source: Optional[str]) -> Tuple[bool, str]:
    """(allowed, "'NAME': source S matches node N (allow CIDR, line L): allows") or the default's verdict."""
    address = parse_address(source)
    if address is None:
        return False, "'%s': source %s is not one IP address: denies" % (acl.name, one_line(source))
    node = acl.deciding_node(address)
    if node is None:
        allow = acl.default_allow
        return allow, "'%s': source %s matches no node; the default %s" % (
            acl.name, address, _verb(allow))
    allow, network = acl.nodes[node]
    line = ", line %d" % acl.lines[node] if node < len(acl.lines) else ""
    return allow, "'%s': source %s matches node %d (%s %s%s), the most specific: %s" % (
        acl.name, address, node + 1, "allow" if allow else "deny", network, line, _verb(allow))


def instant_text(instant: float, zone: Zone) -> str:
    """``instant`` on the wall clock of ``zone`` (None: the switch's local time), then in UTC."""
    utc = datetime.datetime.fromtimestamp(instant, datetime.timezone.utc)
    if zone is None:
        local = utc.astimezone()
        name = "local time %s" % local.tzname()
    else:
        local = utc.astimezone(zone)
        name = str(getattr(zone, "key", None) or local.tzname())
    return "%s %s (%s)" % (local.strftime("%Y-%m-%d %H:%M:%S"), name, utc.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _time_condition(spec: TimeSpec, kind: str) -> str:
    if spec.names:
        return "%s calendar %s" % (kind, "/".join("'%s'" % name for name in spec.names))
    return "its time condition"  # a route's own time: (an unless names calendars only)


def _label(route: Route) -> str:
    return "route '%s' (line %d)" % (route.name, route.line)


def _unique(names: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(names))


def _verb(allow: bool) -> str:
    return "allows" if allow else "denies"
