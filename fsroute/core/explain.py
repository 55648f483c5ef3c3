"""Why a call got its outcome: the ACL node that decided and, route by route, the condition that failed.

For people (``fsroute simulate --explain``, ``ctl test``), never on the call
path: it walks the rules in file order with the same tests as the router
and says, in one line each, what the router did not say. Routes the index
leaves out cannot match the destination, so their regexes are not run
(a table of 100,000 routes is explained without compiling them all).
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, List, Optional, Tuple

from .acl import Acl, parse_address
from .calendars import Moment
from .model import Route, RuleSet
from . import lcr
from .decks import rate_text
from .router import _CONTROL_RE, MAX_DESTINATION_LEN, MAX_VALUE_LEN, DeckOf, source_address
from .text import one_line

# Routes explained one by one; the rest are counted (a table may hold 100,000).
MAX_ROUTE_LINES = 30


def explain(rules: RuleSet, get: Callable[[str], Optional[str]], now: Optional[float] = None,
            deck_of: Optional[DeckOf] = None) -> List[str]:
    """Lines saying how ``rules`` treat the call whose channel variables ``get`` returns,
    coming at ``now`` (seconds since the epoch; routes with time conditions need it);
    with ``deck_of`` (as for router.decide), how a least-cost route ranks its carriers."""
    source = source_address(get)
    moment = rules.moments.at(now) if now is not None else None
    lines = []
    if rules.ingress_acl is not None:
        allowed, verdict = acl_verdict(rules.acls[rules.ingress_acl], source)
        lines.append("ingress acl %s" % verdict)
        if not allowed:
            return lines + ["every call from this source is denied before any route is looked at"]
    destination = get("destination_number") or ""
    if len(destination) > MAX_DESTINATION_LEN or _CONTROL_RE.search(destination):
        return lines + ["destination %s is refused before any route: longer than %d characters "
                        "or holding control or non-ASCII characters" % (one_line(destination), MAX_DESTINATION_LEN)]
    candidates = {id(route) for route in rules.index.candidates(destination)}
    shown: List[str] = []
    hidden = 0
    for route in rules.routes:
        label = "route '%s' (line %d)" % (route.name, route.line)
        if id(route) in candidates:
            reason = route_failure(rules, route, get, destination, source, moment)
            if reason is None:
                taken = "%s: every condition holds; it takes the call" % label
                return lines + shown + _not_shown(hidden) + [taken] + _carriers(route, get, destination, now,
                                                                                  deck_of)
        elif len(shown) < MAX_ROUTE_LINES:
            reason = _mismatch(destination, route.dest)
        else:
            hidden += 1
            continue
        if len(shown) < MAX_ROUTE_LINES:
            shown.append("%s: %s" % (label, reason))
        else:
            hidden += 1
    return lines + shown + _not_shown(hidden) + ["no route takes the call"]


def _carriers(route: Route, get: Callable[[str], Optional[str]], destination: str, now: Optional[float],
              deck_of: Optional[DeckOf]) -> List[str]:
    """How a least-cost route ranks its carriers for the call: cheapest first, then those left out."""
    spec = route.lcr
    if spec is None or deck_of is None or now is None:
        return []
    number = route.rewrite(route.dest.search(destination) if route.dest is not None else None, destination, get)
    if not lcr.is_lookup_number(number):
        return []  # the decision says why
    ranking = lcr.rank(spec.carriers, deck_of, number, now)
    taken = lcr.affordable(ranking.quotes, spec.max_rate)
    lines = ["its carriers for %s, cheapest first: %s" % (number, ", ".join(
        "%s (prefix %s, %s)" % (q.carrier.name, q.deck.prefix(q.row), rate_text(q.rate)) for q in taken) or "none")]
    dearer = ranking.quotes[len(taken):]
    if dearer and spec.max_rate is not None:
        lines.append("above max_rate %s: %s" % (rate_text(spec.max_rate), ", ".join(
            "%s (%s)" % (q.carrier.name, rate_text(q.rate)) for q in dearer)))
    quoted = {q.carrier.name for q in ranking.quotes} | set(ranking.unloaded)
    unserved = [c.name for c in spec.carriers if c.name not in quoted]
    if unserved:
        lines.append("no prefix of %s in force: %s" % (number, ", ".join(unserved)))
    if ranking.unloaded:
        lines.append("deck not loaded: %s" % ", ".join(ranking.unloaded))
    return lines


def _not_shown(count: int) -> List[str]:
    return ["... %d more route%s not shown" % (count, "" if count == 1 else "s")] if count else []


def _mismatch(destination: str, dest: Optional[Any]) -> str:
    return "destination_number %s does not match '%s'" % (one_line(destination), dest.pattern if dest else "")


def route_failure(rules: RuleSet, route: Route, get: Callable[[str], Optional[str]],
                  destination: str, source: Optional[str], moment: Optional[Moment] = None) -> Optional[str]:
    """The first condition of ``route`` the call fails, in the router's order, or None when it holds."""
    if route.dest is not None and route.dest.search(destination) is None:
        return _mismatch(destination, route.dest)
    for name, regex in route.conditions:
        value = get(name) or ""
        if len(value) > MAX_VALUE_LEN:
            return "%s is longer than %d characters" % (name, MAX_VALUE_LEN)
        if regex.search(value) is None:
            return "%s %s does not match '%s'" % (
                name, one_line(value) if value else "(unset)", regex.pattern)
    if route.when or route.unless:
        timing = _time_failure(route, moment)
        if timing is not None:
            return timing
    if route.acl is not None:
        allowed, verdict = acl_verdict(rules.acls[route.acl], source)
        if not allowed:
            return "its conditions hold but acl %s (the call is denied unless a later route takes it)" % verdict
    return None


def _time_failure(route: Route, moment: Optional[Moment]) -> Optional[str]:
    """Why the route's time conditions (time/when/unless) refuse the call's instant, or None."""
    if moment is None:
        return "it has time conditions and the call's instant is not known"
    at = datetime.datetime.fromtimestamp(moment.instant, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not all(moment.holds(spec) for spec in route.when):
        return "its time (or when) conditions do not hold at %s" % at
    if any(moment.holds(spec) for spec in route.unless):
        return "an unless condition holds at %s" % at
    return None


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


def _verb(allow: bool) -> str:
    return "allows" if allow else "denies"
