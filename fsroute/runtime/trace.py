"""The per-call trace: with ``fsroute_trace=true`` on the channel, the call logs its whole decision at NOTICE.

For one call an operator wants to follow without turning the log level up
for every call: the rules, which ACL node decided and why each route did or
did not take the call (the reasons the router gathered while deciding this
call, as ``fsroute simulate --explain`` prints them), the gateway states
read, the order chosen and why, and each attempt as it ends. Lines start
with ``fsroute trace uuid=<uuid>`` so one grep finds the whole story. A call
without the variable pays one variable read for all of this.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from fsroute.core.decks import rate_text
from fsroute.core.fsvalues import switch_true
from fsroute.core.model import Outcome, Route, RuleSet
from fsroute.core.router import Decision
from .fslog import NOTICE, log
from .gateways import GatewayStates

if TYPE_CHECKING:  # runtime.call imports this module
    from .call import _Call

# profile -> (DOWN gateways or None when unreadable, time of the reading): GatewayStates.last_readings()
Readings = Dict[str, Tuple[Optional[FrozenSet[str]], float]]

VARIABLE = "fsroute_trace"


def wanted(session: Any) -> bool:
    """Whether this call asked for a trace."""
    return switch_true(session.getVariable(VARIABLE))


def _quiet(function: Callable[..., None]) -> Callable[..., None]:
    """A trace must never break the call it describes."""
    @functools.wraps(function)
    def guarded(*args: Any) -> None:
        try:
            function(*args)
        except Exception:
            pass
    return guarded


def _say(call: _Call, text: str) -> None:
    log(NOTICE, "fsroute trace uuid=%s %s" % (call.uuid, text))


@_quiet
def decision(call: _Call, rules: RuleSet, states: GatewayStates) -> None:
    """The decision, once it is made (with ``explain=True``): its reasons, gateway states, order."""
    _say(call, "rules %s sha=%s" % (rules.path, rules.sha))
    decided = call.decision
    if decided is None:
        return
    for line in decided.reasons:
        _say(call, line)
    route = decided.route
    if route is not None and decided.number is not None and decided.outcome is not Outcome.TRANSFERRED:
        profiles = sorted({rules.profile_of(g) for g in _route_gateways(rules, route, decided)})
        readings = states.last_readings()
        for profile in profiles:
            _say(call, "gateway states of profile %s: %s" % (profile, _reading(readings.get(profile))))
        _say(call, _order(rules, route, decided, readings, call.now))
    _say(call, "decision %s%s (%.3f ms)" % (decided.outcome or "route", ": %s" % decided.detail if decided.detail else "",
                                           (call.decision_seconds or 0.0) * 1000.0))


def _route_gateways(rules: RuleSet, route: Route, decided: Decision) -> List[str]:
    if route.gateway is not None:
        return [route.gateway]
    if route.lcr is not None:
        names: List[str] = []
        for carrier in route.lcr.carriers:
            if carrier.gateway is not None:
                names.append(carrier.gateway)
            else:
                assert carrier.group is not None  # a carrier names a gateway or a group
                names += [m.name for m in rules.groups[carrier.group].members]
        return names
    if route.group is None:  # gateway: '${var}': the gateway the call's variable named, if it was dialled
        return list(decided.gateways)
    return [m.name for m in rules.groups[route.group].members]


def _instant(now: Optional[float]) -> str:
    if now is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def _reading(reading: Optional[Tuple[Optional[FrozenSet[str]], float]]) -> str:
    if reading is None:
        return "not read"
    down, when = reading
    at = time.strftime("%H:%M:%S", time.localtime(when))
    if down is None:
        return "unknown (gwlist unreadable, every gateway taken as up; read %s)" % at
    return "down: %s (read %s)" % (" ".join(sorted(down)) or "none", at)


def _order(rules: RuleSet, route: Route, decided: Decision, readings: Readings, now: Optional[float]) -> str:
    order = ", ".join(decided.gateways) or "none"
    if route.gateway is not None:
        return "gateway %s of route '%s': order %s" % (route.gateway, route.name, order)
    if route.lcr is not None:
        return "least-cost route '%s' at %s: order %s (cheapest carrier first, at most max_attempts=%d)" % (
            route.name, _instant(now), ", ".join("%s (carrier %s, prefix %s, rate %s)"
                                                  % (d.gateway, d.carrier, d.prefix, rate_text(d.rate))
                                                  for d in decided.dials) or "none",
            rules.defaults.max_attempts)
    if route.group is None:
        return "gateway ${%s} of route '%s': order %s" % (route.gateway_var, route.name, order)

    def state(name: str) -> str:
        down = readings.get(rules.profile_of(name), (None, None))[0]
        return "DOWN" if down is not None and name in down else "up"

    assert route.group is not None
    group = rules.groups[route.group]
    members = ", ".join("%s (weight %d, %s)" % (m.name, m.weight, state(m.name)) for m in group.members)
    return ("group %s, strategy %s: %s; order %s (the strategy's pick first, then the other up gateways "
            "as failover candidates, at most max_attempts=%d)"
            % (group.name, group.strategy, members, order, rules.defaults.max_attempts))


@_quiet
def skipped(call: _Call, gateway: str, why: str = "DOWN in a newer gwlist reading") -> None:
    _say(call, "skip %s: %s" % (gateway, why))


@_quiet
def attempt(call: _Call, dial: str, failover_on: FrozenSet[str]) -> None:
    """The attempt that just ended (``dial``: its dial string, leg variables and all), and what fsroute does next."""
    _, cause, seconds = call.attempts[-1]
    if cause == "SUCCESS":
        after = "answered"
    elif cause == "ORIGINATOR_CANCEL" or not call.session.ready():
        after = "the caller hung up: stop"
    elif cause in failover_on:
        after = "in failover_on: next gateway"
    else:
        after = "not in failover_on: stop"
    _say(call, "attempt %d: %s -> %s after %.1f ms (%s)"
         % (len(call.attempts), dial, cause, seconds * 1000.0, after))


@_quiet
def outcome(call: _Call) -> None:
    _say(call, "result %s%s" % (call.result, ", hangup %s" % call.hangup_cause if call.hangup_cause else ""))
