"""The per-call trace: with ``fsroute_trace=true`` on the channel, the call's whole story at NOTICE.

For one call an operator wants to follow without turning the log level up
for every call: the rules, which ACL node decided and why each route did or
did not take the call (the reasons the router gathered while deciding this
call, as ``fsroute simulate --explain`` prints them), the gateway states
read, the order chosen and why, each attempt and the result. The reasons
and readings are gathered on the call (only when it asked for a trace) and
written from the call record when fsroute is done with it. Lines start with ``fsroute trace uuid=<uuid>`` so one grep
finds the whole story. A call without the variable pays one variable read.
"""

from __future__ import annotations

import time
from typing import Dict, FrozenSet, List, Optional, Tuple

from fsroute.core.decks import rate_text
from fsroute.core.causes import CALLEE_CAUSES
from fsroute.core.failover import CALLEE_STATUSES, fails_over, failover_on_for
from fsroute.core.fsvalues import switch_true
from fsroute.core.model import Outcome, Route, RuleSet
from fsroute.core.router import Decision
from .fslog import NOTICE, log
from .generation import Generation
from .record import Attempt, CallRecord

# profile -> (DOWN gateways or None when unknown, time of the reading): Poller.readings()
Readings = Dict[str, Tuple[Optional[FrozenSet[str]], float]]

VARIABLE = "fsroute_trace"


def wanted(value: Optional[str]) -> bool:
    """Whether this call asked for a trace (``value``: its fsroute_trace variable)."""
    return bool(value) and switch_true(value)


def readings_for(rules: RuleSet, decided: Decision, generation: Generation
                 ) -> Tuple[Tuple[str, Optional[FrozenSet[str]], float], ...]:
    """The gwlist readings of the profiles of the route's gateways, as the decision saw them."""
    route = decided.route
    if route is None or decided.number is None or decided.outcome is Outcome.TRANSFERRED:
        return ()
    readings = generation.poller.readings()
    profiles = sorted({rules.profile_of(g) for g in _route_gateways(rules, route, decided)})
    return tuple((p, readings[p][0] if readings[p][2] else None, readings[p][1]) for p in profiles if p in readings)


def write(record: CallRecord) -> None:
    """An observer: the traced call's story."""
    rules, decided = record.rules, record.decision
    if rules is None:
        _say(record, "no rules: %s" % record.detail)
        return
    _say(record, "rules %s sha=%s" % (rules.path, rules.sha))
    if decided is not None:
        for line in decided.reasons:
            _say(record, line)
        route = decided.route
        if route is not None and decided.number is not None and decided.outcome is not Outcome.TRANSFERRED:
            readings = {profile: (down, when) for profile, down, when in record.readings}
            for profile in sorted({rules.profile_of(g) for g in _route_gateways(rules, route, decided)}):
                _say(record, "gateway states of profile %s: %s" % (profile, _reading(readings.get(profile))))
            _say(record, _order(rules, route, decided, readings, record.now))
        _say(record, "decision %s%s (%.3f ms)" % (
            decided.outcome or "route", ": %s" % decided.detail if decided.detail else "",
            (record.decision_seconds or 0.0) * 1000.0))
    for skip in record.skipped:
        _say(record, "skip %s: %s" % (skip.gateway, _SKIPS.get(skip.why, skip.why)))
    route = decided.route if decided is not None else None
    for number, attempt in enumerate(record.attempts, 1):
        failover_on = failover_on_for(rules, route, attempt.dial) if route is not None else rules.defaults.failover_on
        _say(record, "attempt %d: %s -> %s%s after %.1f ms (%s)" % (
            number, attempt.dial.text, attempt.cause, " (sip:%d)" % attempt.sip if attempt.sip else "",
            attempt.seconds * 1000.0, _after(attempt, failover_on, number == len(record.attempts), record)))
    _say(record, "result %s%s" % (record.result, ", hangup %s" % record.hangup_cause if record.hangup_cause
                                  else ""))


_SKIPS = {"down": "DOWN in a newer gwlist reading", "benched": "benched by its breaker",
          "at_limit": "at its limits", "limit_error": "its limit backend failed",
          "drained": "drained by the operator", "disabled": "disabled by the operator",
          "quality": "left out for its measured quality (critical)"}


def _after(attempt: Attempt, failover_on: FrozenSet[str], last: bool, record: CallRecord) -> str:
    """What fsroute did after an attempt."""
    if attempt.cause == "SUCCESS":
        return "answered"
    if attempt.cause == "ORIGINATOR_CANCEL" or (last and record.detail == "caller hung up"):
        return "the caller hung up: stop"
    if fails_over(failover_on, attempt.cause, attempt.sip):
        if last and record.detail.endswith(" spent"):
            return "in failover_on, but the route's max_seconds is spent: stop"
        return "in failover_on: next gateway"
    if attempt.cause in CALLEE_CAUSES or attempt.sip in CALLEE_STATUSES:
        return "the callee's own rejection, not named in failover_on: stop"
    return "not in failover_on: stop"


def _say(record: CallRecord, text: str) -> None:
    log(NOTICE, "fsroute trace uuid=%s %s" % (record.uuid, text))


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
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))  # as explain's time lines


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
        return "least-cost route '%s' at %s: order %s (cheapest carrier first, at most max_attempts=%d dialled)" % (
            route.name, _instant(now), ", ".join("%s (carrier %s, prefix %s, rate %s)"
                                                  % (d.gateway, d.carrier, d.prefix, rate_text(d.rate))
                                                  for d in decided.dials) or "none",
            route.max_attempts or rules.defaults.max_attempts)
    if route.group is None:
        return "gateway ${%s} of route '%s': order %s" % (route.gateway_var, route.name, order)

    def state(name: str) -> str:
        down = readings.get(rules.profile_of(name), (None, None))[0]
        return "DOWN" if down is not None and name in down else "up"

    assert route.group is not None
    group = rules.groups[route.group]
    members = ", ".join("%s (weight %d, %s)" % (m.name, m.weight, state(m.name)) for m in group.members)
    return ("group %s, strategy %s: %s; order %s (the strategy's pick first, then the other up gateways "
            "as failover candidates, at most max_attempts=%d dialled)"
            % (group.name, group.strategy, members, order, route.max_attempts or rules.defaults.max_attempts))
