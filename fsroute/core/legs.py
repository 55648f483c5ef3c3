"""What one attempt through one gateway sends: the number in the gateway's format, the dial string
with its leg variables, the channel variables set (and exported) before it, the caller ID.

Pure: values come from templates filled in from the call (``lookup``) and are checked here, at
call time, so a hostile caller ID or variable never reaches the dial string (dialstring.py).
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from .dialstring import check_value, dial_string
from .margin import Price
from .model import NO_DIALLING, CallerId, Dialling, GatewaySpec, Route, RuleSet
from .templates import Lookup, expand, groups_of, over_number

Pairs = Tuple[Tuple[str, str], ...]
MAX_CALLER_ID_LEN = 128


class Dial(NamedTuple):
    """One attempt: the gateway, the number in its format, the dial string; for a least-cost route
    also the carrier, the deck's prefix and the rate that chose it."""
    gateway: str
    number: str
    text: str       # the bridge application's argument (the dial string)
    set: Pairs      # channel variables to set before the bridge
    export: Pairs   # ... and to export to the outbound leg
    carrier: Optional[str] = None  # lcr routes only
    prefix: str = ""
    rate: int = 0                  # micro-units per minute
    price: Optional[Price] = None  # lcr routes: the expected call's cost, sell price and margin


class CallerIdRefused(Exception):
    """A caller-ID rule whose regex does not match refuses the call through this gateway."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause


def dial_for(rules: RuleSet, route: Route, gateway: str, number: str, match: Optional[re.Match[str]],
             lookup: Lookup) -> Dial:
    """The attempt through ``gateway`` of a call routed by ``route`` to ``number``.

    Raises UnsafeValue (a value or number that cannot be dialled) or CallerIdRefused.
    """
    spec = rules.gateway_specs.get(gateway)
    if spec is None and route.dialling is NO_DIALLING:  # the common case: nothing to add (number checked)
        return plain_dial(gateway, number)
    spec = spec or GatewaySpec()
    gateway_number = gateway_format(spec, number, lookup)
    groups = groups_of(match)
    leg: Dict[str, str] = {}
    for dialling in (spec.dialling, route.dialling):
        for name, parts in dialling.leg:
            leg[name] = expand(parts, groups, lookup)
    for rule in (route.dialling.caller_id, spec.dialling.caller_id):  # the gateway's rule has the last word
        if rule is not None:
            leg.update(caller_id(rule, lookup))
    return Dial(gateway, gateway_number, dial_string(gateway, gateway_number, leg.items()),
                _values(route.dialling, spec.dialling, "set", groups, lookup),
                _values(route.dialling, spec.dialling, "export", groups, lookup))


def route_variables(route: Route, match: Optional[re.Match[str]], lookup: Lookup) -> Tuple[Pairs, Pairs]:
    """(set, export) of a route that does not bridge (hangup, transfer, continue; a table row's among
    them), filled in and checked as an attempt's are. Raises UnsafeValue."""
    groups = groups_of(match)
    return (_values(route.dialling, NO_DIALLING, "set", groups, lookup),
            _values(route.dialling, NO_DIALLING, "export", groups, lookup))
def plain_dial(gateway: str, number: str) -> Dial:
    """The attempt through a gateway that adds nothing (no number format, leg variables, caller ID) to a
    route that adds nothing either; ``number`` is checked already."""
    return Dial(gateway, number, "sofia/gateway/%s/%s" % (gateway, number), (), ())


def gateway_format(spec: GatewaySpec, number: str, lookup: Lookup) -> str:
    """``number`` as the gateway wants it: ``strip`` leading characters off, then its template ($0)."""
    stripped = number[spec.strip:]
    if spec.number is None:
        return stripped
    return over_number(spec.number, stripped, lookup)


def caller_id(rule: CallerId, lookup: Lookup) -> Dict[str, str]:
    """The origination_caller_id_number/name leg variables ``rule`` gives the call's caller ID."""
    current = lookup("caller_id_number") or ""
    found = rule.match.search(current) if len(current) <= MAX_CALLER_ID_LEN else None
    if found is None:
        if rule.refuse is not None:
            raise CallerIdRefused(rule.refuse, "caller ID %r does not match %s" % (current[:40], rule.match.pattern))
        return {}
    out = {}
    if rule.number is not None:
        out["origination_caller_id_number"] = expand(rule.number, groups_of(found), lookup)
    if rule.name is not None:
        out["origination_caller_id_name"] = expand(rule.name, groups_of(found), lookup)
    return out


def _values(route: Dialling, gateway: Dialling, kind: str, groups: Callable[[int], Optional[str]],
            lookup: Lookup) -> Pairs:
    out: List[Tuple[str, str]] = []
    for dialling in (route, gateway):
        for name, parts in getattr(dialling, kind):
            out.append((name, check_value(expand(parts, groups, lookup), "%s %s" % (kind, name))))
    return tuple(out)

