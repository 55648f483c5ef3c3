"""Time attributes read as FreeSWITCH reads them (src/switch_xml.c switch_xml_std_datetime_check,
src/switch_utils.c switch_number_cmp, switch_dow_cmp, switch_tod_cmp, switch_fulldate_cmp)."""

import datetime

import pytest
from zoneinfo import ZoneInfo

from fsroute.core.timespec import (SpecError, TimeSpec, attribute_value, never_matches, parse_date, parse_date_times,
                                   parse_instant, parse_spans, read_clock, spec_from_attributes, zone_named)

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text, zone=UTC):
    """The reading of the wall-clock time ``text`` ('2026-12-01 10:00:00') in ``zone``."""
    wall = datetime.datetime.fromisoformat(text).replace(tzinfo=zone)
    return read_clock(wall.timestamp(), zone)


# switch_xml_std_datetime_check computes, from the broken-down time tm:
#   year = tm_year + 1900          yday = tm_yday + 1          mon = tm_mon + 1       mday = tm_mday
#   week = tm_yday / 7 + 1 (not ISO)                            wday = tm_wday + 1 (1 = Sunday)
#   mweek: firstdow = (7 - (tm_mday - (tm_wday + 1)) % 7) % 7; ceil((tm_mday + firstdow) / 7.0)
#   hour = tm_hour                 minute = tm_min             minute-of-day = tm_hour * 60 + tm_min + 1
#   time-of-day = tm_hour * 3600 + tm_min * 60 + tm_sec
VALUES = [
    ("2026-01-04 12:00:00", "wday", 1),             # a Sunday
    ("2026-01-05 12:00:00", "wday", 2),             # Monday
    ("2026-01-10 12:00:00", "wday", 7),             # Saturday
    ("2026-12-24 18:30:00", "year", 2026),
    ("2026-12-24 18:30:00", "mon", 12),
    ("2026-12-24 18:30:00", "mday", 24),
    ("2026-01-01 00:00:00", "yday", 1),
    ("2024-12-31 23:59:59", "yday", 366),           # leap year
    ("2026-01-07 12:00:00", "week", 1),             # tm_yday 6 -> 6 / 7 + 1
    ("2026-01-08 12:00:00", "week", 2),             # tm_yday 7 -> 2, whatever the weekday
    ("2024-12-31 12:00:00", "week", 53),            # tm_yday 365 -> 53
    ("2026-12-01 12:00:00", "mweek", 1),            # Tuesday the 1st: firstdow 2
    ("2026-12-05 12:00:00", "mweek", 1),            # the first Saturday
    ("2026-12-06 12:00:00", "mweek", 2),            # weeks start on Sunday
    ("2026-12-31 12:00:00", "mweek", 5),
    ("2026-02-01 12:00:00", "mweek", 1),            # a month starting on Sunday: firstdow 0
    ("2026-02-08 12:00:00", "mweek", 2),
    ("2026-08-31 12:00:00", "mweek", 6),            # Saturday the 1st: the 31st is in week 6
    ("2026-12-24 00:00:00", "hour", 0),
    ("2026-12-24 23:59:00", "minute", 59),
    ("2026-12-24 00:00:00", "minute-of-day", 1),    # 1-based
    ("2026-12-24 23:59:59", "minute-of-day", 1440),
    ("2026-12-24 17:30:00", "time-of-day", 63000),
]


@pytest.mark.parametrize("wall, attribute, expected", VALUES)
def test_attribute_values_as_switch_xml_std_datetime_check_computes_them(wall, attribute, expected):
    assert attribute_value(attribute, at(wall)) == expected


# (attribute, value as written, wall-clock time, matches?)
MATCHES = [
    # switch_number_cmp: a list of numbers and ranges, both ends included; a > b wraps around
    ("hour", "9-17", "2026-12-01 09:00:00", True),
    ("hour", "9-17", "2026-12-01 17:59:59", True),
    ("hour", "9-17", "2026-12-01 18:00:00", False),
    ("hour", "9-17", "2026-12-01 08:59:59", False),
    ("hour", "18-8", "2026-12-01 23:00:00", True),       # "to match numbers not in 9-17, enter 18-8"
    ("hour", "18-8", "2026-12-01 08:30:00", True),
    ("hour", "18-8", "2026-12-01 12:00:00", False),
    ("hour", "9,12,15", "2026-12-01 12:10:00", True),
    ("hour", "9,12,15", "2026-12-01 13:10:00", False),
    ("hour", 12, "2026-12-01 12:10:00", True),
    ("minute", "0-29", "2026-12-01 12:29:59", True),
    ("minute", "0-29", "2026-12-01 12:30:00", False),
    ("minute-of-day", "1-60", "2026-12-01 00:59:00", True),
    ("minute-of-day", "1-60", "2026-12-01 01:00:00", False),
    ("mday", "24-26", "2026-12-26 12:00:00", True),
    ("mday", "24-26", "2026-12-27 12:00:00", False),
    ("mon", "6-8", "2026-08-31 12:00:00", True),
    ("mon", "11-2", "2026-01-15 12:00:00", True),        # wraps over the new year
    ("mon", "11-2", "2026-03-01 12:00:00", False),
    ("yday", "1", "2026-01-01 23:00:00", True),
    ("week", "1", "2026-01-08 00:00:00", False),
    ("mweek", "2", "2026-12-06 00:00:00", True),
    ("year", "2026-2027", "2027-12-31 23:59:59", True),
    ("year", "2026-2027", "2028-01-01 00:00:00", False),
    # switch_dow_cmp: 1 = Sunday; sun..sat (first three letters, any case); ranges wrap
    ("wday", "mon-fri", "2026-12-04 12:00:00", True),    # Friday
    ("wday", "mon-fri", "2026-12-05 12:00:00", False),   # Saturday
    ("wday", "mon-fri", "2026-12-06 12:00:00", False),   # Sunday
    ("wday", "2-6", "2026-12-07 12:00:00", True),        # Monday
    ("wday", "1,7", "2026-12-06 12:00:00", True),
    ("wday", "fri-mon", "2026-12-06 12:00:00", True),    # Sunday, inside the wrapped range
    ("wday", "fri-mon", "2026-12-08 12:00:00", False),   # Tuesday
    ("wday", "SUN", "2026-12-06 12:00:00", True),
    ("wday", "Sat,sun", "2026-12-05 12:00:00", True),
    ("wday", 1, "2026-12-06 12:00:00", True),
    # switch_tod_cmp: hh:mm[:ss]-hh:mm[:ss], both ends included, wrapping when start > end
    ("time-of-day", "08:00-17:30", "2026-12-01 08:00:00", True),
    ("time-of-day", "08:00-17:30", "2026-12-01 07:59:59", False),
    ("time-of-day", "08:00-17:30", "2026-12-01 17:30:00", True),     # the end's own second matches
    ("time-of-day", "08:00-17:30", "2026-12-01 17:30:01", False),
    ("time-of-day", "08:00:30-08:00:45", "2026-12-01 08:00:45", True),
    ("time-of-day", "08:00:30-08:00:45", "2026-12-01 08:00:29", False),
    ("time-of-day", "22:00-06:00", "2026-12-01 23:30:00", True),
    ("time-of-day", "22:00-06:00", "2026-12-01 06:00:00", True),
    ("time-of-day", "22:00-06:00", "2026-12-01 06:00:01", False),
    ("time-of-day", "08:00-12:00,13:00-17:00", "2026-12-01 12:30:00", False),
    ("time-of-day", "08:00-12:00,13:00-17:00", "2026-12-01 13:00:00", True),
    ("time-of-day", "18:00-24:00", "2026-12-01 23:59:59", True),
]


@pytest.mark.parametrize("attribute, value, wall, expected", MATCHES)
def test_values_match_as_freeswitch_compares_them(attribute, value, wall, expected):
    spec = TimeSpec(UTC, {attribute: parse_spans(attribute, value)})
    assert spec.holds(at(wall)) is expected


def test_date_time_start_included_end_excluded():
    # switch_fulldate_cmp: tsStart <= ts && tsEnd > ts
    spec = TimeSpec(UTC, {}, parse_date_times("2026-12-24 00:00~2026-12-26 23:59", UTC))
    assert spec.holds(at("2026-12-24 00:00:00"))
    assert spec.holds(at("2026-12-26 23:58:59"))
    assert not spec.holds(at("2026-12-26 23:59:00"))
    assert not spec.holds(at("2026-12-23 23:59:59"))
    listed = TimeSpec(UTC, {}, parse_date_times("2026-01-01~2026-01-02,2026-12-31 12:00~2027-01-01", UTC))
    assert listed.holds(at("2026-01-01 23:59:59")) and listed.holds(at("2026-12-31 13:00:00"))
    assert not listed.holds(at("2026-06-01 00:00:00"))


def test_dates_match_whole_days_in_the_zone():
    spec = TimeSpec(BERLIN, {}, dates=frozenset({parse_date("2026-12-25")}))
    assert spec.holds(at("2026-12-25 00:00:00", BERLIN))
    assert spec.holds(at("2026-12-25 23:59:59", BERLIN))
    assert not spec.holds(at("2026-12-24 23:59:59", BERLIN))
    # 2026-12-24 23:30 UTC is already the 25th in Berlin
    assert spec.holds(read_clock(at("2026-12-24 23:30:00").instant, BERLIN))


@pytest.mark.parametrize("attribute, value, message", [
    ("hour", 25, "hour 25 is out of range: hour goes from 0 to 23"),
    ("hour", "9-24", "hour 24 is out of range"),
    ("wday", 8, "wday 8 is out of range"),
    ("wday", "monday", "'monday' is not a number or a range"),   # FS would read "mon" then fail at "day"
    ("wday", "mon-fry", "'fry' is not a day"),
    ("mon", 0, "mon 0 is out of range: mon goes from 1 to 12"),
    ("mday", "32", "mday 32 is out of range"),
    ("minute-of-day", 0, "minute-of-day 0 is out of range"),      # 1-based
    ("yday", "367", "yday 367 is out of range"),
    ("mweek", 7, "mweek 7 is out of range"),
    ("hour", "9-", "'9-' is not a number or a range"),
    ("hour", 9.5, "hour must be a number or a string"),
    ("time-of-day", 510, "time-of-day must be a string such as '08:00-17:30', not the number 510"),
    ("time-of-day", "08:00", "FreeSWITCH matches only ranges"),
    ("time-of-day", "08:00-25:00", "impossible time"),
    ("time-of-day", "08:60-09:00", "impossible time"),
])
def test_impossible_values_are_refused(attribute, value, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spans(attribute, value)


def test_impossible_dates_and_zones_are_refused():
    with pytest.raises(SpecError, match="ends before it starts"):
        parse_date_times("2026-12-26 00:00~2026-12-24 00:00", UTC)
    with pytest.raises(SpecError, match="ends before it starts"):
        parse_date_times("2026-12-24~2026-12-24", UTC)
    with pytest.raises(SpecError, match="impossible date"):
        parse_date_times("2026-02-30~2026-03-02", UTC)
    with pytest.raises(SpecError, match="not a range"):
        parse_date_times("2026-12-24", UTC)
    with pytest.raises(SpecError, match="not a date that exists"):
        parse_date("2026-02-29")
    with pytest.raises(SpecError, match="'Mars/Olympus' is not a known IANA time zone"):
        zone_named("Mars/Olympus")
    with pytest.raises(SpecError, match="IANA time zone name"):
        zone_named("../etc/passwd")


# -- daylight saving time: the wall-clock reading of the instant in the zone ----------------------
# Europe/Berlin 2026: 29 March 02:00 CET -> 03:00 CEST; 25 October 03:00 CEST -> 02:00 CET.
# FreeSWITCH converts the instant to the zone's broken-down time (switch_time_exp_tz_name) and
# compares that, as fsroute does: a skipped 02:30 is never read, a repeated one is read twice.

def _minutes(start_utc, end_utc):
    t = datetime.datetime.fromisoformat(start_utc).replace(tzinfo=UTC).timestamp()
    end = datetime.datetime.fromisoformat(end_utc).replace(tzinfo=UTC).timestamp()
    while t < end:
        yield t
        t += 60


def test_a_skipped_wall_clock_time_never_matches():
    spec = TimeSpec(BERLIN, {"time-of-day": parse_spans("time-of-day", "02:00-02:59:59")})
    instants = list(_minutes("2026-03-28 23:00", "2026-03-29 04:00"))
    assert not [t for t in instants if spec.holds(read_clock(t, BERLIN))]
    # the day before, the same hour is there
    assert any(spec.holds(read_clock(t, BERLIN)) for t in _minutes("2026-03-28 00:00", "2026-03-28 02:00"))


def test_a_repeated_wall_clock_time_matches_both_times():
    spec = TimeSpec(BERLIN, {"time-of-day": parse_spans("time-of-day", "02:30-02:30:59")})
    matching = [t for t in _minutes("2026-10-24 22:00", "2026-10-25 04:00") if spec.holds(read_clock(t, BERLIN))]
    assert [datetime.datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in matching] == ["00:30", "01:30"]
    hour = TimeSpec(BERLIN, {"hour": parse_spans("hour", "2")})
    assert sum(hour.holds(read_clock(t, BERLIN)) for t in _minutes("2026-10-24 22:00", "2026-10-25 04:00")) == 120


def test_date_time_bounds_on_a_dst_change():
    # a repeated wall time names its first occurrence (CEST); a skipped one is taken with the
    # offset before the change (02:30 CET = 01:30 UTC, which is already 03:30 CEST)
    repeated = parse_date_times("2026-10-25 02:30~2026-10-26 00:00", BERLIN)
    assert repeated[0][0] == datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()
    skipped = parse_date_times("2026-03-29 02:30~2026-03-30 00:00", BERLIN)
    assert skipped[0][0] == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC).timestamp()


# -- what never matches -----------------------------------------------------------------------

@pytest.mark.parametrize("spans, why", [
    ({"mon": "2", "mday": "30-31"}, "no day satisfies mon and mday together"),
    ({"mon": "4,6,9,11", "mday": "31"}, "no day satisfies mon and mday together"),
    ({"yday": "1", "mon": "2"}, "no day satisfies yday and mon together"),
    ({"mweek": "6", "mon": "2", "year": "2026"}, "no day satisfies mweek and mon and year together"),
    ({"hour": "9-10", "minute-of-day": "1-60"}, "no time of day satisfies hour and minute-of-day together"),
    ({"year": "2300", "mon": "2", "mday": "29"}, "no day satisfies year and mon and mday together"),  # not leap
    ({"hour": "9", "time-of-day": "10:00-11:00"}, "no time of day satisfies hour and time-of-day together"),
])
def test_never_matching_combinations_are_found(spans, why):
    spec = TimeSpec(UTC, {a: parse_spans(a, v) for a, v in spans.items()})
    assert never_matches(spec) == why


@pytest.mark.parametrize("spans", [
    {"mon": "2", "mday": "29"},                     # leap years exist
    {"year": "2400", "mon": "2", "mday": "29"},     # a leap year far ahead
    {"wday": "sun", "mday": "1", "mon": "2"},
    {"mweek": "6", "mon": "8"},                     # August 2026 has a sixth week
    {"hour": "9", "time-of-day": "09:59:59-10:30"},
    {"hour": "18-8", "minute": "59"},
])
def test_possible_combinations_are_not_flagged(spans):
    assert never_matches(TimeSpec(UTC, {a: parse_spans(a, v) for a, v in spans.items()})) is None


def test_spec_from_xml_attributes_reads_date_time_in_the_switch_zone():
    spec = spec_from_attributes({"wday": "2-6", "date-time": "2026-12-24 00:00~2026-12-27 00:00",
                                 "field": "ignored"}, BERLIN, UTC)
    assert spec.zone is BERLIN and set(spec.spans) == {"wday"}
    assert spec.date_times[0][0] == datetime.datetime(2026, 12, 24, tzinfo=UTC).timestamp()


def test_instants():
    assert parse_instant("2026-12-24T18:30:00+01:00") == datetime.datetime(2026, 12, 24, 17, 30, tzinfo=UTC).timestamp()
    assert parse_instant("1798133400") == 1798133400.0
    assert parse_instant("2026-12-24T17:30:00Z") == parse_instant("2026-12-24T18:30:00+01:00")
    with pytest.raises(SpecError, match="no UTC offset"):
        parse_instant("2026-12-24T18:30:00")
    with pytest.raises(SpecError, match="is not an instant"):
        parse_instant("christmas")
