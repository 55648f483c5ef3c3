"""The routing decision for one call: no I/O, no FreeSWITCH.

``decide`` reads the call's variables through a getter, so it asks only for
what the rules need; gateway states come from a callable per profile. The
result is a Decision: what happened, through which route, which number and
which gateways in order.
"""

import re
from typing import NamedTuple, Optional, Tuple

from . import lcr
from .decks import rate_text
from .model import NUMBER_RE, Route
from .text import one_line

# Longer destinations are refused before any regex runs: no real number is
# this long, and it bounds what a hostile caller can make a regex chew on.
MAX_DESTINATION_LEN = 128
# Other variables longer than this never satisfy a match condition.
MAX_VALUE_LEN = 256
# No number holds control characters; a regex's $ would match before a
# trailing newline and let "1001\n" through as if it were "1001".
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

ROUTE, NO_ROUTE, DENIED, ALL_DOWN, INVALID_NUMBER, NO_CARRIER = (
    "route", "no_route", "denied", "all_down", "invalid_number", "no_carrier")


class Dial(NamedTuple):
    """One attempt of a least-cost route: the carrier's gateway, its number format, its rate."""
    gateway: str
    number: str
    carrier: str
    prefix: str
    rate: int                     # micro-units per minute


class Decision(NamedTuple):
    result: str                   # one of the constants above
    route: Optional[Route] = None
    number: Optional[str] = None
    gateways: Tuple[str, ...] = ()
    detail: str = ""              # why, in a few words, for the log line
    dials: Tuple[Dial, ...] = ()  # lcr routes: one per gateway, in order


def source_address(get):
    """Where the call came from: network_addr, else sip_network_ip (never From/Contact)."""
    return get("network_addr") or get("sip_network_ip")


def find_route(rules, get, destination, source):
    """(route, match, refused_by_acl) for the first route whose conditions and acl hold."""
    refused = None
    acls = rules.acls
    for route in rules.index.candidates(destination):
        match = None
        if route.dest is not None:
            match = route.dest.search(destination)
            if match is None:
                continue
        if not all(_condition_holds(get, name, regex) for name, regex in route.conditions):
            continue
        if route.acl is not None and not acls[route.acl].allows(source):
            refused = refused or route
            continue
        return route, match, None
    return None, None, refused


def _condition_holds(get, name, regex):
    value = get(name) or ""  # an unset variable matches as "", as in the XML dialplan
    return len(value) <= MAX_VALUE_LEN and regex.search(value) is not None


def decide(rules, get, down_gateways, selector, deck_of=None, now=0):
    """Decide one call.

    ``get(name)`` returns a channel variable or None; ``down_gateways(profile)``
    returns the set of DOWN gateway names, or None when unknown (then all are
    taken as up: FreeSWITCH refuses a really-down one and failover goes on);
    ``selector`` is the selection.Selector holding round-robin state;
    ``deck_of(carrier)`` the loaded rate deck (or None) and ``now`` the
    call's instant (epoch seconds) for least-cost routes.
    """
    source = source_address(get)
    if rules.ingress_acl is not None and not rules.acls[rules.ingress_acl].allows(source):
        return Decision(DENIED, detail="source %s refused by ingress acl %s"
                        % (one_line(source), rules.ingress_acl))
    destination = get("destination_number") or ""
    if len(destination) > MAX_DESTINATION_LEN:
        return Decision(INVALID_NUMBER, detail="destination longer than %d characters" % MAX_DESTINATION_LEN)
    if _CONTROL_RE.search(destination):
        return Decision(INVALID_NUMBER, detail="control characters in destination %s" % one_line(destination))
    route, match, refused = find_route(rules, get, destination, source)
    if route is None:
        if refused is not None:
            return Decision(DENIED, refused, detail="source %s refused by acl %s of route %s"
                            % (one_line(source), refused.acl, refused.name))
        return Decision(NO_ROUTE, detail="no route matches")
    number = route.rewrite(match, destination)
    if not NUMBER_RE.match(number):
        return Decision(INVALID_NUMBER, route, detail="number %s is not dialable" % one_line(number))
    if route.lcr is not None:
        return _least_cost(rules, route, number, _up_test(rules, down_gateways), selector, deck_of, now)
    gateways = _gateways(rules, route, get, destination, down_gateways, selector)
    if not gateways:
        return Decision(ALL_DOWN, route, number, detail="every gateway of the route is down")
    return Decision(ROUTE, route, number, tuple(gateways))


def _up_test(rules, down_gateways):
    """is_up(gateway) for this call: each profile's gwlist read at most once."""
    readings = {}

    def is_up(name):
        profile = rules.profile_of(name)
        if profile not in readings:
            readings[profile] = down_gateways(profile)
        down = readings[profile]
        return down is None or name not in down
    return is_up


def _least_cost(rules, route, number, is_up, selector, deck_of, now):
    """The carriers serving ``number`` at or below max_rate, cheapest first, each through its gateways."""
    spec = route.lcr
    if not lcr.is_lookup_number(number):
        return Decision(INVALID_NUMBER, route, number, detail="lcr number %s is not all digits" % one_line(number))
    ranking = lcr.rank(spec.carriers, deck_of or _no_decks, number, now)
    quotes = lcr.affordable(ranking.quotes, spec.max_rate)
    if not quotes:
        return Decision(NO_CARRIER, route, number, detail=_why_no_carrier(ranking, spec.max_rate))
    limit = rules.defaults.max_attempts
    dials = []
    for quote in quotes:
        carrier = quote.carrier
        if carrier.gateway is not None:
            gateways = [carrier.gateway] if is_up(carrier.gateway) else []
        else:
            group = rules.groups[carrier.group]
            gateways = selector.order(group, [m for m in group.members if is_up(m.name)], number, limit)
        prefix = quote.deck.prefix(quote.row)
        dial_number = carrier.dial_number(number)
        dials.extend(Dial(gw, dial_number, carrier.name, prefix, quote.rate) for gw in gateways)
        if len(dials) >= limit:
            break
    dials = dials[:limit]
    if not dials:
        return Decision(ALL_DOWN, route, number, detail="every gateway of the carriers serving it is down")
    if not all(NUMBER_RE.match(d.number) for d in dials):  # a carrier's format made it too long
        return Decision(INVALID_NUMBER, route, number, detail="number %s is too long to dial" % one_line(number))
    return Decision(ROUTE, route, number, tuple(d.gateway for d in dials), dials=tuple(dials))


def _no_decks(carrier):
    return None


def _why_no_carrier(ranking, max_rate):
    if ranking.quotes:
        return "cheapest rate %s is above max_rate %s" % (rate_text(ranking.quotes[0].rate), rate_text(max_rate))
    if ranking.unloaded:
        return "no carrier serves it (decks not loaded: %s)" % ",".join(ranking.unloaded)
    return "no carrier serves it"


def _gateways(rules, route, get, destination, down_gateways, selector):
    is_up = _up_test(rules, down_gateways)
    if route.gateway is not None:
        return [route.gateway] if is_up(route.gateway) else []
    group = rules.groups[route.group]
    up = [m for m in group.members if is_up(m.name)]
    key = get("caller_id_number") if group.strategy == "hash_caller" else destination
    return selector.order(group, up, key, rules.defaults.max_attempts)
