"""Time conditions of routes: a route's ``time:``, named ``calendars:``, ``when:`` and ``unless:``.

A calendar says once what the XML dialplan copies into every extension
(business hours, holidays); routes name it. Each distinct condition is
evaluated at most once per call (``Moment``), whichever number of routes
share it, and calls within the same second share their Moment
(``Moments``), so a file where every route is timed routes about as fast
as one where none is.

The grammar part reads the YAML nodes through the rules ``Builder`` (which
reports file:line:col); the per-call part never touches a clock: the
instant is given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Optional, Set, Tuple

from .timespec import (ATTRIBUTES, Reading, Span, SpecError, TimeSpec, Zone, never_matches, parse_date,
                       parse_date_times, parse_spans, read_clock, zone_named)
from .yamltree import SCALAR

if TYPE_CHECKING:
    from .model import Route

SPEC_KEYS = ("tz",) + ATTRIBUTES + ("dates",)


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

    def allows(self, route: "Route") -> bool:
        """Every ``when`` condition of ``route`` holds and no ``unless`` one does."""
        for spec in route.when:
            if not self.holds(spec):
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


class TimeGrammar:
    """Reads time conditions for the rules ``Builder``; equal conditions come back as one object."""

    def __init__(self, builder: Any, default_zone: Zone) -> None:
        self.builder = builder
        self.default_zone = default_zone
        self.calendars: Dict[str, TimeSpec] = {}
        self._broken: Set[str] = set()   # calendars already reported: naming them says nothing new
        self._interned: Dict[Tuple[object, ...], TimeSpec] = {}
        self._checked: Dict[TimeSpec, Optional[str]] = {}

    def read_calendars(self, node: Any) -> None:
        """``calendars: {name: {attribute: value, ...}, ...}`` into ``self.calendars``."""
        fields = self.builder.mapping(node, "calendars")
        for name, (key, value) in (fields or {}).items():
            what = "calendar '%s'" % name
            if not self.builder.check_name(key, what):
                continue
            spec = self.spec(value, what)
            if spec is None:
                self._broken.add(name)
            else:
                self.calendars[name] = spec
                spec.names += (name,)  # equal conditions are one object: it may be several calendars

    def spec(self, node: Any, what: str) -> Optional[TimeSpec]:
        """A TimeSpec from ``{tz: ..., wday: ..., dates: [...], ...}``, or None after reporting."""
        b = self.builder
        fields = b.mapping(node, what, allowed=SPEC_KEYS)
        if fields is None:
            return None
        if not fields or list(fields) == ["tz"]:
            b.error(node, "%s needs at least one of: %s" % (what, ", ".join(SPEC_KEYS[1:])))
            return None
        zone = self.default_zone
        ok = True
        if "tz" in fields:
            zone, ok = read_zone(b, fields["tz"][1], what + " tz")
        spans: Dict[str, Tuple[Span, ...]] = {}
        date_times: Tuple[Tuple[float, float], ...] = ()
        dates: FrozenSet[Tuple[int, int, int]] = frozenset()
        for attribute, (_, value) in fields.items():
            try:
                if attribute == "date-time":
                    date_times = parse_date_times(value.value if value.kind == SCALAR else None, zone)
                elif attribute == "dates":
                    dates = frozenset(parse_date(item.value if item.kind == SCALAR else None)
                                      for item in b.sequence(value, what + " dates"))
                elif attribute != "tz":
                    spans[attribute] = parse_spans(attribute, value.value if value.kind == SCALAR else None)
            except SpecError as exc:
                b.error(value, "%s: %s" % (what, exc))
                ok = False
        if not ok:
            return None
        spec = TimeSpec(zone, spans, date_times, dates)
        spec = self._interned.setdefault(spec.key(), spec)
        if spec not in self._checked:
            self._checked[spec] = never_matches(spec)
        if self._checked[spec] is not None:
            b.warn(node, "%s can never match: %s" % (what, self._checked[spec]))
        return spec

    def named(self, node: Any, what: str) -> Tuple[TimeSpec, ...]:
        """The calendars ``when:``/``unless:`` names: one name or a list of names."""
        items = [node] if node.kind == SCALAR else self.builder.sequence(
            node, what + " (a calendar name or a list of them)")
        out = []
        for item in items:
            name = self.builder.string(item, what)
            if name is None or name in self._broken:
                continue
            if name not in self.calendars:
                from .grammar import did_you_mean  # grammar imports this module
                hint = did_you_mean(name, self.calendars) or " (calendars: %s)" % (
                    ", ".join(sorted(self.calendars)) or "none defined")
                self.builder.error(item, "%s: no calendar named '%s'%s" % (what, name, hint))
                continue
            out.append(self.calendars[name])
        return tuple(out)

    def check_route(self, node: Any, what: str, when: Tuple[TimeSpec, ...], unless: Tuple[TimeSpec, ...]) -> None:
        """Warn when one condition is both required and excluded (equal conditions are one object)."""
        if set(when) & set(unless):
            self.builder.warn(node, "%s can never match: the same condition is in when (or time) and in unless"
                              % what)


def read_zone(builder: Any, node: Any, what: str) -> Tuple[Zone, bool]:
    """(the IANA zone ``node`` names, True), or (None, False) after reporting a bad name."""
    try:
        return zone_named(node.value if node.kind == SCALAR else None), True
    except SpecError as exc:
        builder.error(node, "%s: %s" % (what, exc))
        return None, False


def zone_of(name: Optional[str]) -> Zone:
    """The zone a validated ``defaults.tz`` names (None: the switch's local time zone)."""
    return zone_named(name) if name else None
