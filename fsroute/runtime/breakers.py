"""The breakers of one loaded rules file, per FreeSWITCH process.

A gateway whose breaker settings did not change across a reload keeps its
very Breaker object (state, failures, cooldown), even while calls still run
on the old rules; a changed or new one starts closed. Every state change is
one log line and one ``fsroute::gateway`` event with an ``fsroute-breaker``
header (benched, half-open, closed).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from fsroute.core.breaker import CLOSED, FAILURE, HALF_OPEN, NEUTRAL, SUCCESS, Breaker
from fsroute.core.failover import fails_over
from fsroute.core.model import RuleSet
from . import events
from .fslog import WARNING, log
from .limits import AT_LIMIT, LIMIT_ERROR

# Ends of an attempt that say nothing about the gateway: the caller left, or it was never dialled.
_NEUTRAL = frozenset(("", "UNKNOWN", "ORIGINATOR_CANCEL", AT_LIMIT, LIMIT_ERROR))


def outcome_of(cause: str, failover_on: FrozenSet[str], sip: Optional[int] = None) -> str:
    """What an attempt ending with ``cause`` (and SIP status ``sip``) says about the gateway: a failure
    when fsroute fails over on it (core.failover: a callee's own rejection never is)."""
    if cause in _NEUTRAL:
        return NEUTRAL
    return FAILURE if fails_over(failover_on, cause, sip) else SUCCESS


class Breakers:
    """{gateway: Breaker} for the gateways that have breaker settings.

    ``clock`` (seconds, monotonic) is injectable; a reload's Breakers keeps the clock of the
    ones before it, so breakers carried over stay on the time they were benched by.
    """

    def __init__(self, rules: RuleSet, previous: Optional[Breakers] = None,
                 clock: Optional[Callable[[], float]] = None) -> None:
        self.clock: Callable[[], float] = (previous.clock if previous is not None
                                           else clock or time.monotonic)
        self._failover_on = rules.defaults.failover_on
        carried = previous._by_name if previous is not None else {}
        self._by_name: Dict[str, Breaker] = {}
        for name in sorted(rules.gateway_names()):
            settings = rules.settings_of(name).breaker
            if settings is None:
                continue
            old = carried.get(name)
            self._by_name[name] = old if old is not None and old.settings == settings else Breaker(settings)
        self.any_breaker = bool(self._by_name)

    def benched(self, name: str) -> bool:
        """True while ``name`` may not be picked (benched, or its probe is out)."""
        breaker = self._by_name.get(name)
        return breaker is not None and not breaker.available(self.clock())

    def last_resort(self, name: str) -> bool:
        """Whether ``name`` may still be tried when every gateway of a route is benched."""
        breaker = self._by_name.get(name)
        return breaker is not None and breaker.settings.last_resort

    def acquire(self, name: str) -> Optional[str]:
        """What ``Breaker.acquire`` says (CLOSED for a gateway without a breaker; None: skip it)."""
        breaker = self._by_name.get(name)
        if breaker is None:
            return CLOSED
        now = self.clock()
        taken = breaker.acquire(now)
        if taken == HALF_OPEN:
            try:
                _changed(name, HALF_OPEN, "half-open: this call is the probe")
            except Exception:  # no attempt follows: the probe slot goes back, or no call could ever probe
                breaker.record(NEUTRAL, now, taken)
                raise
        return taken

    def record(self, name: str, cause: str, taken: Optional[str], sip: Optional[int] = None,
               failover_on: Optional[FrozenSet[str]] = None) -> None:
        """Account the attempt on ``name`` that ended with ``cause`` (``sip``: its SIP status; ``failover_on``:
        the list the attempt was judged by, default the defaults'); log a state change."""
        breaker = self._by_name.get(name)
        if breaker is None or taken is None:
            return
        change = breaker.record(outcome_of(cause, self._failover_on if failover_on is None else failover_on, sip),
                                self.clock(), taken)
        if change is not None:
            _changed(name, change.split(":")[0].split(" ")[0], "%s (last cause %s)" % (change, cause))

    def snapshot(self, name: str) -> Optional[Tuple[str, Optional[float], int]]:
        """(state, seconds left benched or None, recent failures), or None without a breaker."""
        breaker = self._by_name.get(name)
        return None if breaker is None else breaker.snapshot(self.clock())


def _changed(gateway: str, state: str, detail: str) -> None:
    """A breaker's state change: one WARNING line and one fsroute::gateway event."""
    log(WARNING, "fsroute: gateway %s %s" % (gateway, detail))
    events.fire(events.GATEWAY, [("fsroute-gateway", gateway), ("fsroute-breaker", state),
                                 ("fsroute-detail", detail)])
