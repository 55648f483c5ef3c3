"""The routing decision for one call: no I/O, no FreeSWITCH.

``decide`` reads the call's variables through a getter, so it asks only for
what the rules need; whether a gateway is up comes from a callable. The
result is a Decision: the outcome (None when there are gateways to bridge
to), through which route, which number and which gateways in order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Tuple

from .dialstring import UnsafeValue
from .legs import CallerIdRefused, Dial, dial_for
from .model import NAME_RE, NUMBER_RE, Outcome, Route, RuleSet, fill
from .patterns import Regex

if TYPE_CHECKING:
    from .calendars import Moment
    from .selection import Selector

# A call's channel variables: name -> value, or None when unset.
Getter = Callable[[str], Optional[str]]
from .text import one_line

# Longer destinations are refused before any regex runs: no real number is
# this long, and it bounds what a hostile caller can make a regex chew on.
MAX_DESTINATION_LEN = 128
# Other variables longer than this never satisfy a match condition.
MAX_VALUE_LEN = 256
# No number holds control characters; a regex's $ would match before a
# trailing newline and let "1001\n" through as if it were "1001".
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class Decision(NamedTuple):
    outcome: Optional[Outcome]    # None: bridge to ``gateways``
    route: Optional[Route] = None
    number: Optional[str] = None
    gateways: Tuple[str, ...] = ()
    detail: str = ""              # why, in a few words, for the log line
    dials: Tuple[Dial, ...] = ()  # one per gateway: its dial string and variables
    cause: Optional[str] = None   # a blocked call's cause


def source_address(get: Getter) -> Optional[str]:
    """Where the call came from: network_addr, else sip_network_ip (never From/Contact)."""
    return get("network_addr") or get("sip_network_ip")


def find_route(rules: RuleSet, get: Getter, destination: str, source: Optional[str], moment: Optional[Moment] = None
               ) -> Tuple[Optional[Route], Optional[re.Match[str]], Optional[Route]]:
    """(route, match, refused_by_acl) for the first route whose conditions and acl hold.

    ``moment`` (calendars.Moment) is the call's instant; routes with time conditions need it.
    """
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
        if (route.when or route.unless) and not _in_time(route, moment):
            continue
        if route.acl is not None and not acls[route.acl].allows(source):
            refused = refused or route
            continue
        return route, match, None
    return None, None, refused


def _condition_holds(get: Getter, name: str, regex: Regex) -> bool:
    value = get(name) or ""  # an unset variable matches as "", as in the XML dialplan
    return len(value) <= MAX_VALUE_LEN and regex.search(value) is not None


def _in_time(route: Route, moment: Optional[Moment]) -> bool:
    if moment is None:
        raise ValueError("route %s has time conditions: the call's instant (now=) is needed" % route.name)
    return moment.allows(route)


def decide(rules: RuleSet, get: Getter, is_up: Callable[[str], bool], selector: Selector,
           now: Optional[float] = None) -> Decision:
    """Decide one call.

    ``get(name)`` returns a channel variable or None; ``is_up(gateway)`` says
    whether a gateway may be tried; ``selector`` is the selection.Selector
    holding round-robin state; ``now`` the call's instant in seconds since the
    epoch (time conditions are read at it). Templates' ${name} are filled in
    from ``get`` (in FreeSWITCH a channel variable that is not set reads as
    the global one).
    """
    source = source_address(get)
    if rules.ingress_acl is not None and not rules.acls[rules.ingress_acl].allows(source):
        return Decision(Outcome.DENIED, detail="source %s refused by ingress acl %s"
                        % (one_line(source), rules.ingress_acl))
    destination = get("destination_number") or ""
    if len(destination) > MAX_DESTINATION_LEN:
        return Decision(Outcome.INVALID_NUMBER, detail="destination longer than %d characters" % MAX_DESTINATION_LEN)
    if _CONTROL_RE.search(destination):
        return Decision(Outcome.INVALID_NUMBER, detail="control characters in destination %s" % one_line(destination))
    moment = rules.moments.at(now) if now is not None else None
    route, match, refused = find_route(rules, get, destination, source, moment)
    if route is None:
        if refused is not None:
            return Decision(Outcome.DENIED, refused, detail="source %s refused by acl %s of route %s"
                            % (one_line(source), refused.acl, refused.name))
        return Decision(Outcome.NO_ROUTE, detail="no route matches")
    if route.hangup is not None:
        return Decision(Outcome.BLOCKED, route, detail="the route hangs up with %s" % route.hangup,
                        cause=route.hangup)
    if route.continues:
        return Decision(Outcome.CONTINUED, route, detail="the route leaves the call to the dialplan")
    if route.transfer is not None:
        extension = fill(route.transfer.extension, match)
        if not NUMBER_RE.match(extension):
            return Decision(Outcome.INVALID_NUMBER, route, detail="extension %s is not dialable" % one_line(extension))
        return Decision(Outcome.TRANSFERRED, route, extension, detail="transfer to %s" % route.transfer.data(extension))
    number = route.rewrite(match, destination, get)
    if not NUMBER_RE.match(number):
        return Decision(Outcome.INVALID_NUMBER, route, detail="number %s is not dialable" % one_line(number))
    gateway = route.gateway
    if route.gateway_var is not None:
        gateway = get(route.gateway_var) or ""
        why = _refuse_gateway(rules, gateway)
        if why:
            return Decision(Outcome.INVALID_NUMBER, route, number, detail="gateway ${%s} %s" % (route.gateway_var, why))
    gateways = _gateways(rules, route, gateway, get, destination, is_up, selector)
    if not gateways:
        return Decision(Outcome.ALL_DOWN, route, number, detail="every gateway of the route is down")
    dials, refusal = [], None
    try:
        for name in gateways:
            try:
                dials.append(dial_for(rules, route, name, number, match, get))
            except CallerIdRefused as exc:
                refusal = refusal or exc
    except UnsafeValue as exc:
        return Decision(Outcome.INVALID_NUMBER, route, number, detail=one_line(str(exc)))
    if not dials:
        assert refusal is not None
        return Decision(Outcome.BLOCKED, route, number, detail=one_line(str(refusal)), cause=refusal.cause)
    return Decision(None, route, number, tuple(d.gateway for d in dials), dials=tuple(dials))


def _refuse_gateway(rules: RuleSet, name: str) -> str:
    """Why a gateway named by a call's variable cannot be dialled ("" when it can)."""
    if not NAME_RE.match(name):
        return "%s is not a gateway name" % one_line(repr(name), 40)
    if rules.defaults.strict_gateways and name not in rules.gateway_specs:
        return "%s is not declared under gateways (strict_gateways)" % name
    return ""


def _gateways(rules: RuleSet, route: Route, gateway: Optional[str], get: Getter, destination: str,
              is_up: Callable[[str], bool], selector: Selector) -> List[str]:
    if gateway is not None:
        return [gateway] if is_up(gateway) else []
    assert route.group is not None  # a route names a gateway or a group (the grammar)
    group = rules.groups[route.group]
    up = [m for m in group.members if is_up(m.name)]
    key = get("caller_id_number") if group.strategy == "hash_caller" else destination
    return selector.order(group, up, key, rules.defaults.max_attempts)
