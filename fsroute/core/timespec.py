"""FreeSWITCH's time condition attributes: their value syntax, and whether an instant matches them.

The XML dialplan decides ``<condition wday="2-6" time-of-day="08:00-18:00">``
in ``switch_xml_std_datetime_check`` (src/switch_xml.c) with the helpers of
src/switch_utils.c; this module reads the same values the same way, so a
route imported from an extension decides a call as the extension did:

- every attribute is read from the wall-clock reading of the instant in one
  time zone (``switch_time_exp_tz_name``): a 02:30 skipped by a DST change
  is never read, a repeated one is read twice;
- ``year`` ``yday`` ``mon`` ``mday`` ``week`` ``mweek`` ``hour`` ``minute``
  ``minute-of-day`` (``switch_number_cmp``): a comma list of numbers and
  ranges ``a-b``, both ends included; ``a-b`` with a > b wraps around
  (``hour: 18-8`` is 18:00 to 08:59);
- ``wday`` (``switch_dow_cmp``): 1 = Sunday ... 7 = Saturday, or the
  three-letter names sun..sat in any case; ranges wrap (``fri-mon``);
- ``time-of-day`` (``switch_tod_cmp``): comma list of ``hh:mm[:ss]-hh:mm[:ss]``,
  both ends included, wrapping when the start is later than the end;
- ``date-time`` (``switch_fulldate_cmp``): comma list of
  ``YYYY-MM-DD[ hh:mm[:ss]]~YYYY-MM-DD[ hh:mm[:ss]]``, start included, end
  excluded, compared as instants.

FreeSWITCH is lenient where fsroute is strict: what its parsers would skip
or half-read (``monday``, ``25``, a single time of day) is refused here, so
a rule never silently means something else than it says.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import math
import re
import time
from typing import Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple, Union

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Zone = Optional[datetime.tzinfo]     # None: the switch's local time zone
Span = Tuple[int, int]               # (first, last), both included; first > last wraps around

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")   # switch_utils.c DOW[]: wday 1..7
# The numbers each attribute can take, as switch_xml_std_datetime_check computes them.
NUMBER_DOMAINS: Dict[str, Span] = {
    "year": (1, 9999), "yday": (1, 366), "mon": (1, 12), "mday": (1, 31), "week": (1, 53),
    "mweek": (1, 6), "wday": (1, 7), "hour": (0, 23), "minute": (0, 59), "minute-of-day": (1, 1440),
}
ATTRIBUTES = tuple(NUMBER_DOMAINS) + ("time-of-day", "date-time")
DAY_SECONDS = 86400

_NUMBER_ITEM_RE = re.compile(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?\Z")
_DAY_ITEM_RE = re.compile(r"\s*(\d{1,5}|[a-z]{3})\s*(?:-\s*(\d{1,5}|[a-z]{3})\s*)?\Z", re.I)
_TOD_RE = r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
_TOD_ITEM_RE = re.compile(r"\s*%s\s*-\s*%s\s*\Z" % (_TOD_RE, _TOD_RE))
_DATE_TIME_RE = r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_DATE_TIME_ITEM_RE = re.compile(r"\s*%s\s*~\s*%s\s*\Z" % (_DATE_TIME_RE, _DATE_TIME_RE))
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
# Blanks in an XML attribute that FreeSWITCH does not read past (switch_utils.c), by "is it wday":
# switch_dow_cmp stops at any blank; switch_number_cmp (strtol) at one between a number and its '-' or ','.
_XML_BLANK_RE = {True: re.compile(r"\s"), False: re.compile(r"\d\s+[-,]")}


class Reading(NamedTuple):
    """An instant read on a wall clock, in the numbers FreeSWITCH's attributes compare."""
    instant: float
    year: int
    mon: int        # 1..12
    mday: int       # 1..31
    hour: int
    minute: int
    second: int
    wday: int       # 1 = Sunday .. 7 = Saturday
    yday: int       # 1..366


def read_clock(instant: float, zone: Zone) -> Reading:
    """The wall-clock reading of ``instant`` (seconds since the epoch) in ``zone``."""
    if zone is None:
        t = time.localtime(instant)
        # Python's tm_wday is 0 = Monday; FreeSWITCH's wday is tm_wday + 1 with 0 = Sunday.
        return Reading(instant, t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                       (t.tm_wday + 1) % 7 + 1, t.tm_yday)
    d = datetime.datetime.fromtimestamp(instant, zone)   # (not .timetuple(): it costs four times more)
    return Reading(instant, d.year, d.month, d.day, d.hour, d.minute, d.second, d.isoweekday() % 7 + 1,
                   d.toordinal() - datetime.date(d.year, 1, 1).toordinal() + 1)


def attribute_value(attribute: str, r: Reading) -> int:
    """The number ``attribute`` compares, computed as switch_xml_std_datetime_check does."""
    if attribute == "week":
        return (r.yday - 1) // 7 + 1                            # tm_yday / 7 + 1: not ISO weeks
    if attribute == "mweek":
        # the weekday (0 = Sunday) of the 1st, then ceil((mday + that) / 7): weeks start on Sunday
        first = (7 - _c_mod(r.mday - r.wday, 7)) % 7
        return int(math.ceil((r.mday + first) / 7.0))
    if attribute == "minute-of-day":
        return r.hour * 60 + r.minute + 1                       # 1-based: 00:00 is 1
    if attribute == "time-of-day":
        return r.hour * 3600 + r.minute * 60 + r.second
    return int(getattr(r, attribute))


def _c_mod(a: int, b: int) -> int:
    """C's % (the sign of the dividend), which the mweek formula is written for."""
    return a - b * int(a / b)


def in_spans(value: int, spans: Tuple[Span, ...]) -> bool:
    """switch_number_cmp / switch_tod_cmp: inside any span, a span with first > last wrapping."""
    for first, last in spans:
        if (first <= value <= last) if first <= last else (value >= first or value <= last):
            return True
    return False


# -- reading the values ------------------------------------------------------------------------

class SpecError(ValueError):
    """A value FreeSWITCH would misread or that can never match; str() says why."""


def parse_spans(attribute: str, value: object) -> Tuple[Span, ...]:
    """The spans of a number attribute (``wday`` with names too) or of ``time-of-day``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SpecError("%s must be a number or a string such as %s" % (attribute, _EXAMPLES[attribute]))
    if attribute == "time-of-day":
        if not isinstance(value, str):
            raise SpecError("time-of-day must be a string such as '08:00-17:30', not the number %r" % value)
        return tuple(_tod_span(item) for item in value.split(","))
    low, high = NUMBER_DOMAINS[attribute]
    spans = []
    for item in str(value).split(","):
        found = (_DAY_ITEM_RE if attribute == "wday" else _NUMBER_ITEM_RE).match(item)
        if not found:
            raise SpecError("%s: %r is not a number or a range a-b (for example %s)"
                            % (attribute, item.strip(), _EXAMPLES[attribute]))
        first = _number(attribute, found.group(1))
        last = first if found.group(2) is None else _number(attribute, found.group(2))
        for number in (first, last):
            if not low <= number <= high:
                raise SpecError("%s %d is out of range: %s goes from %d to %d"
                                % (attribute, number, attribute, low, high))
        spans.append((first, last))
    return tuple(spans)


_EXAMPLES = {"year": "2026 or 2026-2027", "yday": "1-31", "mon": "12 or 6-8", "mday": "1,15 or 24-26",
             "week": "1-26", "mweek": "1 or 2-3", "wday": "mon-fri or 2-6 (1 = Sunday)",
             "hour": "9-17", "minute": "0-29", "minute-of-day": "481-1080",
             "time-of-day": "'08:00-17:30'"}


def _number(attribute: str, text: str) -> int:
    if attribute != "wday" or text.isdigit():
        return int(text)
    name = text.lower()
    if name not in DAY_NAMES:
        raise SpecError("wday: %r is not a day (sun mon tue wed thu fri sat, or 1-7 with 1 = Sunday)" % text)
    return DAY_NAMES.index(name) + 1


def _tod_span(item: str) -> Span:
    found = _TOD_ITEM_RE.match(item)
    if not found:
        raise SpecError("time-of-day: %r is not a range hh:mm[:ss]-hh:mm[:ss] (FreeSWITCH matches only "
                        "ranges)" % item.strip())
    groups = found.groups()
    return _seconds(groups[:3], item), _seconds(groups[3:], item)


def _seconds(parts: Tuple[Optional[str], ...], item: str) -> int:
    hour, minute, second = (int(p or 0) for p in parts)
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and minute + second):
        raise SpecError("time-of-day: %r holds an impossible time (hours 0-23, minutes and seconds "
                        "0-59; 24:00 only as an end)" % item.strip())
    return hour * 3600 + minute * 60 + second


def parse_date_times(value: object, zone: Zone) -> Tuple[Tuple[float, float], ...]:
    """``date-time`` as (start, end) instants: start <= instant < end matches."""
    if not isinstance(value, str):
        raise SpecError("date-time must be a string such as '2026-12-24 00:00~2026-12-27 00:00'")
    out = []
    for item in value.split(","):
        found = _DATE_TIME_ITEM_RE.match(item)
        if not found:
            raise SpecError("date-time: %r is not a range YYYY-MM-DD[ hh:mm[:ss]]~YYYY-MM-DD[ hh:mm[:ss]]"
                            % item.strip())
        start = _wall_time(found.groups()[:6], item)
        end = _wall_time(found.groups()[6:], item)
        if end <= start:
            raise SpecError("date-time: %r ends before it starts (the end is excluded)" % item.strip())
        out.append((_instant(start, zone), _instant(end, zone)))
    return tuple(out)


def _wall_time(parts: Tuple[Optional[str], ...], item: str) -> datetime.datetime:
    year, month, day, hour, minute, second = (int(p or 0) for p in parts)
    try:
        return datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise SpecError("date-time: %r holds an impossible date or time" % item.strip()) from None


def _instant(wall: datetime.datetime, zone: Zone) -> float:
    """The instant of a wall-clock time; of its first occurrence when a DST change repeats it."""
    if zone is None:  # the local zone, fold 0 (PEP 495); mktime's isdst=-1 took the last conversion's offset
        return wall.timestamp()
    return wall.replace(tzinfo=zone).timestamp()


def parse_date(value: object) -> Tuple[int, int, int]:
    """A calendar date 'YYYY-MM-DD' as (year, month, day)."""
    found = _DATE_RE.match(value) if isinstance(value, str) else None
    if not found:
        raise SpecError("%r is not a date YYYY-MM-DD" % (value,))
    year, month, day = (int(g) for g in found.groups())
    try:
        datetime.date(year, month, day)
    except ValueError:
        raise SpecError("%r is not a date that exists" % value) from None
    return year, month, day


def parse_instant(text: str) -> float:
    """'2026-12-24T18:30:00+01:00' (ISO 8601 with an offset) or seconds since the epoch, as seconds."""
    moment = _instant_text(text)
    if isinstance(moment, float):
        return moment
    if moment.tzinfo is None:
        raise SpecError("%r has no UTC offset: write it as 2026-12-24T18:30:00+01:00 (or Z)" % text.strip())
    return moment.timestamp()


def read_at(text: str, tz: Optional[str]) -> Tuple[float, str]:
    """The instant of a tool's ``--at`` (fsroute lcr, simulate, compare; ctl test at=) and how to show it.

    Epoch seconds or ISO 8601 (a date alone is its midnight); a time without a UTC offset is read in
    ``tz`` (the rules' defaults.tz) when set, else in UTC, and the text shown says which.
    """
    moment = _instant_text(text)
    if isinstance(moment, float):
        seconds, how = moment, ""
    elif moment.tzinfo is not None:
        seconds, how = moment.timestamp(), ""
    else:
        zone = zone_named(tz) if tz else datetime.timezone.utc
        seconds = moment.replace(tzinfo=zone).timestamp()
        how = " (%r has no UTC offset: read in %s)" % (
            text.strip(), "%s, the rules' defaults.tz" % tz if tz else "UTC, the rules set no defaults.tz")
    shown = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return seconds, shown + how


def _instant_text(text: str) -> Union[float, datetime.datetime]:
    """Epoch seconds, or the ISO 8601 date-time, with or without its offset."""
    try:
        return float(text)
    except ValueError:
        pass
    text = text.strip()
    if text[-1:] in ("Z", "z"):    # Python before 3.11 reads no Z
        text = text[:-1] + "+00:00"
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise SpecError("%r is not an instant: give ISO 8601 with an offset (2026-12-24T18:30:00+01:00) "
                        "or seconds since the epoch" % text) from None


def zone_named(name: object) -> datetime.tzinfo:
    """The IANA time zone ``name`` (Europe/Berlin, UTC...)."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise SpecError("must be an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SpecError("%r is not a known IANA time zone (for example Europe/Berlin, America/New_York, "
                        "UTC)" % name) from None


def zone_of(name: Optional[str]) -> Zone:
    """The zone a validated ``defaults.tz`` names (None: the switch's local time zone)."""
    return zone_named(name) if name else None


# -- a condition ---------------------------------------------------------------------------

class TimeSpec:
    """Attributes that must all hold, read in one zone; identity matters (see calendars.Moment).

    ``spans`` maps number attributes and time-of-day to their spans,
    ``date_times`` holds date-time's instants, ``dates`` calendar dates
    (year, month, day) of which the day must be one. ``names``: the calendars
    that are this condition (for explanations; a route's own ``time:`` has none).
    """

    __slots__ = ("zone", "spans", "date_times", "dates", "names", "_tests")

    def __init__(self, zone: Zone, spans: Dict[str, Tuple[Span, ...]],
                 date_times: Tuple[Tuple[float, float], ...] = (),
                 dates: FrozenSet[Tuple[int, int, int]] = frozenset()) -> None:
        self.zone = zone
        self.spans = dict(spans)
        self.date_times = date_times
        self.dates = dates
        self.names: Tuple[str, ...] = ()
        self._tests = self._compile()

    def key(self) -> Tuple[object, ...]:
        """What makes two specs the same condition (to evaluate it once per call)."""
        return (str(self.zone) if self.zone is not None else None, tuple(sorted(self.spans.items())),
                self.date_times, tuple(sorted(self.dates)))

    def _compile(self) -> Tuple[Callable[[Reading], bool], ...]:
        tests: List[Callable[[Reading], bool]] = []
        if self.date_times:
            date_times = self.date_times
            tests.append(lambda r: any(start <= r.instant < end for start, end in date_times))
        if self.dates:
            dates = self.dates
            tests.append(lambda r: (r.year, r.mon, r.mday) in dates)
        for attribute, spans in self.spans.items():
            tests.append(_span_test(attribute, spans))
        return tuple(tests)

    def holds(self, reading: Reading) -> bool:
        """Whether every attribute holds for ``reading`` (taken in this spec's zone)."""
        for test in self._tests:
            if not test(reading):
                return False
        return True


def _span_test(attribute: str, spans: Tuple[Span, ...]) -> Callable[[Reading], bool]:
    if attribute == "time-of-day":
        return lambda r: in_spans(r.hour * 3600 + r.minute * 60 + r.second, spans)
    if attribute == "year":
        return lambda r: in_spans(r.year, spans)
    low, high = NUMBER_DOMAINS[attribute]
    allowed = frozenset(v for v in range(low, high + 1) if in_spans(v, spans))
    if attribute in ("mon", "mday", "hour", "minute", "wday", "yday"):
        field = Reading._fields.index(attribute)
        return lambda r: r[field] in allowed
    return lambda r: attribute_value(attribute, r) in allowed


# -- a condition that can never hold ------------------------------------------------------------

# Without year, dates or date-time, the days of 2000-2027 show every combination of the day
# attributes (the calendar repeats every 28 years from 1901 to 2099).
_ANY_YEARS = range(2000, 2028)
_YEARS_LOOKED_AT = range(1, 10000)
_MAX_YEARS = 56
_DAY_ATTRIBUTES = ("year", "yday", "mon", "mday", "week", "mweek", "wday")


def never_matches(spec: TimeSpec) -> Optional[str]:
    """Why no instant can satisfy ``spec`` (its day and its time of day looked at apart), else None.

    Any one valid attribute alone holds at some instant: only combinations are looked at.
    """
    day_tests = [(a, s) for a, s in spec.spans.items() if a in _DAY_ATTRIBUTES]
    if len(day_tests) + bool(spec.dates) + bool(spec.date_times) > 1 and not any(
            all(in_spans(attribute_value(a, r), s) for a, s in day_tests) for r in _candidate_days(spec)):
        described = ["dates"] if spec.dates else []
        described += ["date-time"] if spec.date_times else []
        return "no day satisfies %s together" % " and ".join(described + [a for a, _ in day_tests])
    minute_tests = [(a, s) for a, s in spec.spans.items() if a in ("hour", "minute", "minute-of-day")]
    tod = spec.spans.get("time-of-day", ())
    if len(minute_tests) + bool(tod) > 1 and not any(
            all(in_spans(attribute_value(a, r), s) for a, s in minute_tests) and (not tod or _meets(r, tod))
            for r in _MINUTES):
        return "no time of day satisfies %s together" % " and ".join(
            [a for a, _ in minute_tests] + (["time-of-day"] if tod else []))
    return None


_MINUTES = tuple(Reading(0.0, 2000, 1, 1, m // 60, m % 60, 0, 7, 1) for m in range(1440))


def _meets(minute: Reading, spans: Tuple[Span, ...]) -> bool:
    """Whether a second of ``minute`` is in a time-of-day span."""
    low = minute.hour * 3600 + minute.minute * 60
    high = low + 59
    return any((first <= high and last >= low) if first <= last else (high >= first or low <= last)
               for first, last in spans)


def _candidate_days(spec: TimeSpec) -> Tuple[Reading, ...]:
    if spec.dates:
        return tuple(_noon(datetime.date(*d)) for d in sorted(spec.dates))
    if spec.date_times:
        days = []
        for start, end in spec.date_times:
            first, last = (datetime.date(*read_clock(t, spec.zone)[1:4]) for t in (start, end))
            days += [_noon(first + datetime.timedelta(n)) for n in range(min((last - first).days + 1, 366 * 28))]
        return tuple(days)
    if "year" not in spec.spans:
        return _days_of(tuple(_ANY_YEARS))
    return _days_of(tuple([y for y in _YEARS_LOOKED_AT if in_spans(y, spec.spans["year"])][:_MAX_YEARS]))


@functools.lru_cache(maxsize=4)
def _days_of(years: Tuple[int, ...]) -> Tuple[Reading, ...]:
    return tuple(_noon(datetime.date(y, 1, 1) + datetime.timedelta(n)) for y in years
                 for n in range(366 if calendar.isleap(y) else 365))


def _noon(d: datetime.date) -> Reading:
    return Reading(0.0, d.year, d.month, d.day, 12, 0, 0, d.isoweekday() % 7 + 1, d.timetuple().tm_yday)


def spec_from_attributes(attrs: Dict[str, str], zone: Zone, date_zone: Zone = None) -> TimeSpec:
    """The TimeSpec of an XML ``<condition>``'s time attributes (others are ignored).

    FreeSWITCH reads every attribute in the channel's ``timezone`` (``zone``)
    but ``date-time`` always in the switch's own zone (``date_zone``; None:
    local), since switch_str_time parses it with the local clock.
    """
    for attribute, value in attrs.items():
        if attribute in NUMBER_DOMAINS and _XML_BLANK_RE[attribute == "wday"].search(value):
            raise SpecError("%s %r has a blank FreeSWITCH stops reading at (switch_%s_cmp): it means less "
                            "than it says" % (attribute, value, "dow" if attribute == "wday" else "number"))
    spans = {a: parse_spans(a, v) for a, v in attrs.items() if a in NUMBER_DOMAINS or a == "time-of-day"}
    date_times = parse_date_times(attrs["date-time"], date_zone) if "date-time" in attrs else ()
    return TimeSpec(zone, spans, date_times)
