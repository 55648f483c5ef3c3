"""The rules file's time conditions: ``calendars:``, and a route's ``time:``, ``when:``, ``when_any:`` and ``unless:``.

Read through a reading.Reader (the grammar's Builder, which reports file:line:col); equal
conditions come back as one object, so a Moment (calendars.py) evaluates
each distinct one once per call.
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Optional, Set, Tuple

from ..text import did_you_mean
from ..timespec import (ATTRIBUTES, Span, SpecError, TimeSpec, Zone, never_matches, parse_date, parse_date_times,
                        parse_spans, zone_named)
from ..reading import Reader
from ..yamltree import SCALAR, SEQ, Node

SPEC_KEYS = ("tz",) + ATTRIBUTES + ("dates",)


class TimeGrammar:
    """Reads time conditions for the rules ``Builder``; equal conditions come back as one object."""

    def __init__(self, builder: Reader, default_zone: Zone) -> None:
        self.builder = builder
        self.default_zone = default_zone
        self.calendars: Dict[str, TimeSpec] = {}
        self._broken: Set[str] = set()   # calendars already reported: naming them says nothing new
        self._interned: Dict[Tuple[object, ...], TimeSpec] = {}
        self._checked: Dict[TimeSpec, Optional[str]] = {}

    def read_calendars(self, node: Node) -> None:
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

    def spec(self, node: Node, what: str) -> Optional[TimeSpec]:
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

    def named(self, node: Node, what: str, at_least_one: bool = False) -> Tuple[TimeSpec, ...]:
        """The calendars ``when:``/``when_any:``/``unless:`` names: one name or a list of names
        (``at_least_one``: an empty list is refused, since none of no calendars can hold)."""
        items = [node] if node.kind == SCALAR else self.builder.sequence(
            node, what + " (a calendar name or a list of them)")
        if at_least_one and not items and node.kind == SEQ:
            self.builder.error(node, "%s needs at least one calendar (at least one of them must hold)" % what)
        out = []
        for item in items:
            name = self.builder.string(item, what)
            if name is None or name in self._broken:
                continue
            if name not in self.calendars:
                hint = did_you_mean(name, self.calendars) or " (calendars: %s)" % (
                    ", ".join(sorted(self.calendars)) or "none defined")
                self.builder.error(item, "%s: no calendar named '%s'%s" % (what, name, hint))
                continue
            out.append(self.calendars[name])
        return tuple(out)

    def check_route(self, node: Node, what: str, when: Tuple[TimeSpec, ...], unless: Tuple[TimeSpec, ...],
                    when_any: Tuple[TimeSpec, ...] = ()) -> None:
        """Warn when one condition is both required and excluded, or every condition of when_any is
        excluded (equal conditions are one object)."""
        if set(when) & set(unless):
            self.builder.warn(node, "%s can never match: the same condition is in when (or time) and in unless"
                              % what)
        elif when_any and set(when_any) <= set(unless):
            self.builder.warn(node, "%s can never match: every calendar of when_any is in unless too" % what)


def read_zone(builder: Reader, node: Node, what: str) -> Tuple[Zone, bool]:
    """(the IANA zone ``node`` names, True), or (None, False) after reporting a bad name."""
    try:
        return zone_named(node.value if node.kind == SCALAR else None), True
    except SpecError as exc:
        builder.error(node, "%s: %s" % (what, exc))
        return None, False

