"""Time conditions of routes: a route's ``time:``, named ``calendars:``, ``when:``, ``when_any:`` and ``unless:``.

A calendar says once what the XML dialplan copies into every extension
(business hours, holidays); routes name it. Each distinct condition is
evaluated at most once per call (``Moment``), whichever number of routes
share it, and calls within the same second share their Moment
(``Moments``), so a file where every route is timed routes about as fast
as one where none is.

This module is the per-call part, and never touches a clock: the instant
is given. Reading the conditions from the rules file is sections/calendars.py.
"""

from __future__ import annotations

import math
from typing import Dict, Protocol, Tuple

from .timespec import Reading, TimeSpec, Zone, read_clock


class Timed(Protocol):
    """What a Moment reads of a route (model.Route is one)."""

    @property
    def when(self) -> Tuple[TimeSpec, ...]: ...

    @property
    def unless(self) -> Tuple[TimeSpec, ...]: ...

    @property
    def when_any(self) -> Tuple[TimeSpec, ...]: ...


class Moment:
    """One call's instant, with each zone's reading and each condition's verdict computed once."""

    __slots__ = ("instant", "_readings", "_verdicts")

    def __init__(self, instant: float) -> None:
        self.instant = instant
        self._readings: Dict[Zone, Reading] = {}
        self._verdicts: Dict[TimeSpec, bool] = {}

    def holds(self, spec: TimeSpec) -> bool:
        """Whether ``spec`` holds at this instant (computed on the first question)."""
        verdict = self._verdicts.get(spec)
        if verdict is None:
            reading = self._readings.get(spec.zone)
            if reading is None:
                reading = self._readings[spec.zone] = read_clock(self.instant, spec.zone)
            verdict = self._verdicts[spec] = spec.holds(reading)
        return verdict

    def holds_any(self, specs: Tuple[TimeSpec, ...]) -> bool:
        """Whether one of ``specs`` holds (the first that does ends the question)."""
        for spec in specs:
            if self.holds(spec):
                return True
        return False

    def allows(self, route: Timed) -> bool:
        """Every ``when`` condition of ``route`` holds, one of its ``when_any`` (if any) and no ``unless`` one."""
        for spec in route.when:
            if not self.holds(spec):
                return False
        if route.when_any and not self.holds_any(route.when_any):
            return False
        for spec in route.unless:
            if self.holds(spec):
                return False
        return True


class Moments:
    """The Moment of the current whole second, shared by every call routed within it.

    Every attribute FreeSWITCH compares has a resolution of one second, and
    date-time's bounds are whole seconds, so the verdicts at ``floor(t)``
    are those at ``t``. Calls on other threads may read and fill the same
    Moment: each verdict is a pure function of the second, so two threads
    computing one at once store the same value (dict operations are atomic
    under the GIL).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = Moment(-1.0)

    def at(self, instant: float) -> Moment:
        second = float(math.floor(instant))
        last = self._last
        if last.instant != second:
            last = self._last = Moment(second)
        return last
