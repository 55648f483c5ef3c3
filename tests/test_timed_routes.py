"""Routes decided by time: calendars, when/unless, the rules grammar, the injected instant
(fsroute_now, simulate --at, ctl test at=, compare --at) and the import of XML time attributes."""

import json
import textwrap
import time

import pytest

from fsroute import ctl
from fsroute.core import loader, router
from fsroute.core.calendars import Moment
from fsroute.core.model import Outcome, RulesError
from fsroute.core.timespec import TimeSpec, parse_instant
from fsroute.migrate.compare import compare
from fsroute.migrate.importer import import_files
from fsroute.migrate.legacy import read_legacy
from fsroute.runtime.process import store_for
from fsroute.tools.cli import main
from fsroute.tools.simulate import Simulation

from test_importer import DEFAULT, PEER, PUBLIC, SITE_ACL, SITE_DISTRIBUTOR

RULES = """\
version: 1
defaults: {tz: Europe/Berlin}
calendars:
  business_hours: {wday: mon-fri, time-of-day: '08:00-18:00'}
  holidays: {dates: [2026-12-25, 2026-12-26]}
  christmas_eve: {date-time: '2026-12-24 14:00~2026-12-25 00:00'}
routes:
  - name: office
    match: {destination_number: '^1(\\d+)$'}
    when: business_hours
    unless: [holidays, christmas_eve]
    gateway: gw_office
  - name: new york night
    match: {destination_number: '^1(\\d+)$'}
    time: {hour: 18-7, tz: America/New_York}
    gateway: gw_night
  - name: anything else
    match: {destination_number: '^1(\\d+)$'}
    gateway: gw_other
"""

# (instant, route): Berlin is UTC+1 in December, New York UTC-5
DECISIONS = [
    ("2026-12-23T10:00:00+01:00", "office"),            # Wednesday, business hours
    ("2026-12-23T18:00:00+01:00", "office"),            # 18:00:00 is still inside '08:00-18:00'
    ("2026-12-23T18:00:01+01:00", "anything else"),     # 12:00 in New York
    ("2026-12-24T13:59:59+01:00", "office"),
    ("2026-12-24T14:00:00+01:00", "anything else"),     # unless christmas_eve (date-time)
    ("2026-12-25T10:00:00+01:00", "new york night"),    # unless holidays; 04:00 in New York
    ("2026-12-26T16:00:00+01:00", "anything else"),     # a holiday, 10:00 in New York
    ("2026-12-27T10:00:00+01:00", "new york night"),    # a Sunday: 04:00 in New York
    ("2026-12-28T07:59:59+01:00", "new york night"),    # Monday, before business hours
]


@pytest.fixture
def rules(write_rules):
    return write_rules(RULES)


def decide_at(ruleset, at, dest="1234"):
    return router.decide(ruleset, {"destination_number": dest}.get, lambda gateway: True, None,
                         parse_instant(at))


@pytest.mark.parametrize("at, route", DECISIONS)
def test_calendars_when_unless_and_route_time(rules, at, route):
    decision = decide_at(loader.load(rules), at)
    assert decision.outcome is None and decision.route.name == route


def test_no_instant_with_timed_routes_is_an_error_not_a_guess(rules):
    with pytest.raises(ValueError, match="route office has time conditions"):
        router.decide(loader.load(rules), {"destination_number": "1234"}.get, lambda gateway: True, None)


def test_each_condition_is_evaluated_once_per_call(write_rules, monkeypatch):
    routes = "".join("  - {name: r%d, match: {destination_number: '^%d'}, time: {hour: '3'}, "
                     "unless: closed, gateway: gw1}\n" % (i, i % 10) for i in range(2000))
    path = write_rules("version: 1\ncalendars: {closed: {dates: [2026-12-25]}}\nroutes:\n" + routes)
    ruleset = loader.load(path)
    assert len({id(r.when[0]) for r in ruleset.routes}) == 1      # equal conditions are one object
    calls = []
    real = TimeSpec.holds
    monkeypatch.setattr(TimeSpec, "holds", lambda self, reading: calls.append(self) or real(self, reading))
    decision = router.decide(ruleset, {"destination_number": "5555"}.get, lambda gateway: True, None,
                             parse_instant("2026-12-01T12:00:00+00:00"))
    assert decision.outcome is Outcome.NO_ROUTE
    assert len(calls) == 1          # hour '3' failed once; the 200 candidate routes reused it
    moment = Moment(parse_instant("2026-12-01T03:00:00+00:00"))
    assert all(moment.allows(r) for r in ruleset.routes[:50])
    assert len(calls) == 3          # one each for hour and closed at the second instant


def test_defaults_tz_and_route_tz(write_rules):
    text = """\
    version: 1
    defaults: {tz: Asia/Tokyo}
    routes:
      - {name: tokyo morning, time: {hour: 9}, gateway: gw1}
      - {name: utc morning, time: {hour: 9, tz: UTC}, gateway: gw2}
    """
    ruleset = loader.load(write_rules(text))
    assert decide_at(ruleset, "2026-12-01T09:30:00+09:00").route.name == "tokyo morning"
    assert decide_at(ruleset, "2026-12-01T09:30:00+00:00").route.name == "utc morning"
    assert decide_at(ruleset, "2026-12-01T12:00:00+00:00").outcome is Outcome.NO_ROUTE


def test_without_any_tz_the_switch_local_zone_is_used(write_rules, monkeypatch):
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    try:
        ruleset = loader.load(write_rules("version: 1\nroutes:\n  - {name: r, time: {hour: 9}, gateway: gw1}\n"))
        assert decide_at(ruleset, "2026-12-01T09:10:00-03:00").outcome is None
        assert decide_at(ruleset, "2026-12-01T09:10:00+00:00").outcome is Outcome.NO_ROUTE
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_repeated_local_wall_time_is_its_first_occurrence_whatever_was_read_before(write_rules, monkeypatch):
    # time.mktime(isdst=-1) gave a repeated wall time the offset of the conversion before it: after a
    # summer date 02:30 was CEST, after a winter one CET, for the same rules
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        starts = []
        for before in ("2026-07-01 00:00~2026-07-02 00:00", "2026-12-01 00:00~2026-12-02 00:00"):
            ruleset = loader.load(write_rules("version: 1\ncalendars:\n  before: {date-time: '%s'}\n"
                                              "  night: {date-time: '2026-10-25 02:30~2026-10-25 06:00'}\n"
                                              "routes:\n  - {name: r, when: night, gateway: gw1}\n" % before))
            starts.append(ruleset.routes[0].when[0].date_times[0][0])
        assert starts == [parse_instant("2026-10-25T00:30:00Z")] * 2  # 02:30 CEST, the first 02:30
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_existing_files_load_and_route_unchanged_without_an_instant(write_rules):
    ruleset = loader.load(write_rules("version: 1\nroutes:\n  - {name: r, gateway: gw1}\n"))
    assert router.decide(ruleset, {"destination_number": "1"}.get, lambda gateway: True, None).route.name == "r"
    assert ruleset.warnings == ()


def problems(write_rules, text):
    with pytest.raises(RulesError) as info:
        loader.load(write_rules(textwrap.dedent(text)))
    return [str(p).split(":", 1)[1] for p in info.value.problems]


def test_check_refuses_impossible_values_with_line_and_column(write_rules):
    found = problems(write_rules, """\
    version: 1
    defaults: {tz: Europe/Nowhere}
    calendars:
      bad_hours: {hour: 25, tz: Mars/Olympus}
      bad_days: {wday: 8, dates: [2026-02-30]}
      eve: {date-time: '2026-12-26 00:00~2026-12-24 00:00'}
      empty: {}
    routes:
      - {name: r1, time: {time-of-day: 8:30}, when: [bad_days, nothing], unless: {x: 1}, gateway: gw1}
      - {name: r2, time: {minute: 60, colour: blue}, gateway: gw1}
    """)
    assert found == [  # in file order, as every problem of a rules file
        "2:16: defaults.tz: 'Europe/Nowhere' is not a known IANA time zone (for example Europe/Berlin, "
        "America/New_York, UTC)",
        "4:21: calendar 'bad_hours': hour 25 is out of range: hour goes from 0 to 23",
        "4:29: calendar 'bad_hours' tz: 'Mars/Olympus' is not a known IANA time zone (for example "
        "Europe/Berlin, America/New_York, UTC)",
        "5:20: calendar 'bad_days': wday 8 is out of range: wday goes from 1 to 7",
        "5:30: calendar 'bad_days': '2026-02-30' is not a date that exists",
        "6:20: calendar 'eve': date-time: '2026-12-26 00:00~2026-12-24 00:00' ends before it starts "
        "(the end is excluded)",
        "7:10: calendar 'empty' needs at least one of: year, yday, mon, mday, week, mweek, wday, hour, "
        "minute, minute-of-day, time-of-day, date-time, dates",
        # an unquoted 8:30 is the text written, not YAML 1.1's base-60 number 510
        "9:36: route 'r1' time: time-of-day: '8:30' is not a range hh:mm[:ss]-hh:mm[:ss] (FreeSWITCH matches "
        "only ranges)",
        # bad_days is reported above, where it is wrong; a name nobody defined is reported where used
        "9:60: route 'r1' when: no calendar named 'nothing' (calendars: none defined)",
        "9:78: route 'r1' unless (a calendar name or a list of them) must be a list",
        "10:31: route 'r2' time: minute 60 is out of range: minute goes from 0 to 59",
        "10:35: route 'r2' time: unknown key 'colour' (did you mean 'hour'?)",
    ]


def test_a_misspelt_calendar_name_gets_the_closest_one(write_rules):
    found = problems(write_rules, """\
    version: 1
    calendars: {weekend: {wday: 'sat,sun'}, holidays: {dates: [2026-12-25]}}
    routes:
      - {name: r1, when: weekends, gateway: gw1}
    """)
    assert found == ["4:22: route 'r1' when: no calendar named 'weekends' (did you mean 'weekend'?)"]


def test_timed_routes_may_come_before_the_defaults_and_calendars_they_use(write_rules):
    """The loader builds untimed routes as it reads them; timed ones wait for tz and calendars."""
    ruleset = loader.load(write_rules("""\
    version: 1
    routes:
      - {name: plain before, match: {destination_number: '^1'}, gateway: gw1}
      - {name: timed, when: weekend, time: {hour: 9-17}, gateway: gw2}
      - {name: plain after, gateway: gw3}
    calendars: {weekend: {wday: 'sat,sun'}}
    defaults: {tz: Asia/Tokyo}
    """))
    assert [r.name for r in ruleset.routes] == ["plain before", "timed", "plain after"]
    assert decide_at(ruleset, "2026-12-05T10:00:00+09:00", "555").route.name == "timed"      # Saturday
    assert decide_at(ruleset, "2026-12-05T10:00:00+00:00", "555").route.name == "plain after"  # 19:00 Tokyo
    assert decide_at(ruleset, "2026-12-05T10:00:00+09:00", "155").route.name == "plain before"


def test_a_timed_route_is_no_catch_all_for_check(write_rules, capsys):
    path = write_rules("""\
    version: 1
    routes:
      - {name: office hours, time: {hour: 9-17}, gateway: gw1}
      - {name: always, gateway: gw2}
    """)
    assert main(["check", "--strict", path]) == 0
    assert capsys.readouterr().err == ""


def test_ctl_test_explains_a_route_refused_by_its_time(write_rules, fake_freeswitch, monkeypatch):
    path = write_rules("""\
    version: 1
    routes:
      - {name: office hours, time: {hour: 9-17, tz: UTC}, gateway: gw1}
    """)
    monkeypatch.setenv("FSROUTE_RULES", path)
    out = ctl.command("test 555 at=2026-12-01T20:00:00+00:00")
    assert "outcome: no_route" in out
    assert ("route 'office hours' (line 3): its time condition does not hold at 2026-12-01 20:00:00 UTC "
            "(2026-12-01T20:00:00Z)") in out
    out = ctl.command("test 555 at=2026-12-01T10:00:00+00:00")
    assert "route: office hours" in out


def test_explain_names_the_calendar_that_refused_and_shows_the_rules_zone_and_utc(write_rules):
    from fsroute.core.explain import explain

    ruleset = loader.load(write_rules("""\
    version: 1
    defaults: {tz: Europe/Berlin}
    calendars:
      office: {wday: mon-fri, hour: 9-17}
      holidays: {dates: ['2026-12-25']}
      ny_desk: {tz: America/New_York, hour: 9-17}
    routes:
      - {name: office hours, when: office, unless: holidays, gateway: gw1}
      - {name: new york, when: ny_desk, gateway: gw2}
      - {name: night, time: {hour: 0-6}, gateway: gw3}
      - {name: rest, gateway: gw4}
    """))

    def why(at):
        return explain(ruleset, {"destination_number": "555"}.get, parse_instant(at))

    assert why("2026-12-01T23:00:00Z") == [  # a Tuesday: midnight in Berlin, 18:00 in New York
        "route 'office hours' (line 8): when calendar 'office' does not hold at 2026-12-02 00:00:00 Europe/Berlin "
        "(2026-12-01T23:00:00Z)",
        "route 'new york' (line 9): when calendar 'ny_desk' does not hold at 2026-12-01 18:00:00 America/New_York "
        "(2026-12-01T23:00:00Z)",
        "route 'night' (line 10): every condition holds; it takes the call"]
    assert why("2026-12-25T10:00:00Z")[0] == (  # a Friday, in office hours, but a holiday
        "route 'office hours' (line 8): unless calendar 'holidays' holds at 2026-12-25 11:00:00 Europe/Berlin "
        "(2026-12-25T10:00:00Z)")
    assert why("2026-12-05T12:00:00Z")[2] == (  # a Saturday: the route's own time: is no calendar
        "route 'night' (line 10): its time condition does not hold at 2026-12-05 13:00:00 Europe/Berlin "
        "(2026-12-05T12:00:00Z)")


def test_check_warns_about_conditions_that_can_never_match(write_rules, capsys):
    path = write_rules("""\
    version: 1
    calendars:
      feb_31: {mon: 2, mday: 31}
    routes:
      - {name: r1, time: {hour: 9-10, minute-of-day: 1-60}, gateway: gw1}
      - {name: r2, when: feb_31, gateway: gw1}
    """)
    assert main(["check", path]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("OK: ")
    assert err.splitlines() == [
        "%s:3:11: warning: calendar 'feb_31' can never match: no day satisfies mon and mday together" % path,
        "%s:5:22: warning: route 'r1' time can never match: no time of day satisfies hour and minute-of-day "
        "together" % path]


# -- the instant of a call -------------------------------------------------------------------

def test_the_handler_routes_at_fsroute_now(call, rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw_office", "gw_night", "gw_other"])
    session = call(rules, "1234", fsroute_now="2026-12-23T10:00:00+01:00")
    assert session.getVariable("fsroute_route") == "office"
    session = call(rules, "1234", fsroute_now=str(parse_instant("2026-12-25T10:00:00+01:00")))  # epoch seconds
    assert session.getVariable("fsroute_route") == "new york night"


def test_the_handler_reads_the_clock_without_fsroute_now(call, rules, fake_freeswitch, clock):
    """Without fsroute_now the loaded rules' clock gives the instant (as for least-cost routes)."""
    fake_freeswitch.set_gateways("external", up=["gw_office", "gw_night", "gw_other"])
    store_for(rules, clock)
    for now, route in [("2026-12-23T10:00:00+01:00", "office"), ("2026-12-25T10:00:00+01:00", "new york night")]:
        clock.wall = parse_instant(now)
        assert call(rules, "1234").getVariable("fsroute_route") == route


def test_a_bad_fsroute_now_fails_the_call_with_on_error(call, rules, fake_freeswitch):
    session = call(rules, "1234", fsroute_now="tomorrow")
    assert session.getVariable("fsroute_result") == "error"
    assert session.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert any("'tomorrow' is not an instant" in m for m in fake_freeswitch.log_lines("err"))


def test_simulate_at(rules, capsys):
    assert main(["simulate", rules, "--dest", "1234", "--at", "2026-12-25T10:00:00+01:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["route"] == "new york night"
    assert main(["simulate", rules, "--dest", "1234", "--at", "2026-12-23T09:00:00+01:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["route"] == "office"
    # without an offset: read in the rules' defaults.tz (Europe/Berlin), and the output says so
    assert main(["simulate", rules, "--dest", "1234", "--at", "2026-12-23 09:00"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["at:      2026-12-23T08:00:00Z ('2026-12-23 09:00' has no UTC offset: read in Europe/Berlin, "
                       "the rules' defaults.tz)", "result:  bridged"]
    assert "route:   office" in out
    with pytest.raises(SystemExit) as info:
        main(["simulate", rules, "--dest", "1234", "--at", "soon"])
    assert info.value.code == 2
    assert "'soon' is not an instant" in capsys.readouterr().err


def test_one_at_parser_for_lcr_simulate_compare_and_ctl_test(rules, tmp_path, fake_freeswitch, monkeypatch):
    # 2026-12-23 17:30 in Berlin is 16:30 UTC: inside the office's 08:00-18:00 either way; 18:30 Berlin
    # (17:30 UTC) is outside it in Berlin, inside it in UTC. A time without an offset is read in defaults.tz.
    monkeypatch.setenv("FSROUTE_RULES", rules)
    assert "route: office\n" not in ctl.command("test 1234 at=2026-12-23T18:30")
    answer = ctl.command("test 1234 at=2026-12-23T17:30")
    assert "route: office\n" in answer
    assert ("at: 2026-12-23T16:30:00Z ('2026-12-23T17:30' has no UTC offset: read in Europe/Berlin, "
            "the rules' defaults.tz)\n") in answer
    report = Simulation(rules).run("1234", at="2026-12-23T18:30")
    assert report["route"] != "office" and report["at"].startswith("2026-12-23T17:30:00Z (")
    no_tz = tmp_path / "utc.yaml"
    no_tz.write_text(open(rules).read().replace("defaults: {tz: Europe/Berlin}\n", ""))
    without = Simulation(str(no_tz))
    assert without.rules.defaults.tz is None
    assert without.run("1234", at="2026-12-23T18:30")["at"] == (
        "2026-12-23T18:30:00Z ('2026-12-23T18:30' has no UTC offset: read in UTC, the rules set no defaults.tz)")
    assert without.run("1234", at="1798050600")["at"] == "2026-12-23T18:30:00Z"  # epoch seconds: as given


def test_ctl_test_at(rules, fake_freeswitch, monkeypatch):
    monkeypatch.setenv("FSROUTE_RULES", rules)
    answer = ctl.command("test 1234 at=2026-12-23T10:00:00+01:00")
    assert "at: 2026-12-23T09:00:00Z\n" in answer and "route: office\n" in answer
    assert "route: new york night\n" in ctl.command("test 1234 127.0.0.1 at=2026-12-25T10:00:00+01:00")
    assert ctl.command("test 1234 at=soon").startswith("-ERR at=: 'soon' is not an instant")
    assert ctl.command("test 1234 at=2026-12-23T10:00:00Z at=2026-12-24T10:00:00Z") == ctl.USAGE


# -- import and compare ---------------------------------------------------------------------------

OFFICE_AND_WEEKEND = """\
    <extension name="office">
      <condition wday="mon-fri" time-of-day="08:00-18:00"/>
      <condition mon="12" mday="24-26"/>
      <condition field="destination_number" expression="^(1\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_office/$1"/>
      </condition>
    </extension>
    <extension name="weekend">
      <condition wday="1,7"/>
      <condition field="destination_number" expression="^(1\\d+)$" hour="9-17">
        <action application="bridge" data="sofia/gateway/gw_weekend/$1"/>
      </condition>
    </extension>
"""
NOT_IMPORTED = """\
    <extension name="lenient">
      <condition wday="monday"/>
      <condition field="destination_number" expression="^(2\\d+)$">
        <action application="bridge" data="sofia/gateway/gw1/$1"/>
      </condition>
    </extension>
    <extension name="offset">
      <condition hour="9" tz-offset="1"/>
      <condition field="destination_number" expression="^(3\\d+)$">
        <action application="bridge" data="sofia/gateway/gw1/$1"/>
      </condition>
    </extension>
"""
REST = """\
    <extension name="rest">
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_other/$1"/>
      </condition>
    </extension>
"""


def timed_dialplan(*extensions):
    return '<include>\n  <context name="public">\n%s  </context>\n</include>\n' % "".join(extensions)


@pytest.fixture
def utc(monkeypatch):
    """The switch's local zone is UTC (the XML side and routes without tz read it)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def test_import_carries_time_attributes_over(tmp_path, utc):
    dialplan = tmp_path / "public.xml"
    dialplan.write_text(timed_dialplan(OFFICE_AND_WEEKEND, NOT_IMPORTED, REST))
    result = import_files([str(dialplan)])
    ruleset = loader.parse(result.text, "imported")
    by_name = {r.name: r for r in ruleset.routes}
    assert list(by_name) == ["office", "weekend", "rest"]
    # the time conditions before the bridge's condition, ANDed as FreeSWITCH's break=on-false does
    assert "    time: {wday: mon-fri, time-of-day: '08:00-18:00', mon: '12', mday: '24-26'}" in result.text
    assert [s.spans for s in by_name["office"].when] == [
        {"wday": ((2, 6),), "time-of-day": ((28800, 64800),), "mon": ((12, 12),), "mday": ((24, 26),)}]
    assert [s.spans for s in by_name["weekend"].when] == [{"wday": ((1, 1), (7, 7))}]
    reports = "\n".join(str(r) for r in result.reports)
    assert ("time attribute(s) hour on a condition with a field: FreeSWITCH lets the field's regex decide "
            "alone, so they are left out") in reports
    assert "extension 'lenient' is not imported: wday: 'monday' is not a number or a range" in reports
    assert "extension 'offset' is not imported: condition attribute(s) tz-offset cannot be expressed" in reports


def test_time_attributes_with_blanks_freeswitch_stops_at_are_not_imported(tmp_path, utc):
    # switch_dow_cmp stops at any blank ('mon - fri' is Monday), switch_number_cmp at one before '-' or ','
    # ('9 - 17' is 9): they were read as the ranges they seem to say, and compare called them a match
    extension = """    <extension name="%s">
      <condition %s/>
      <condition field="destination_number" expression="^(1\\d+)$">
        <action application="bridge" data="sofia/gateway/gw1/$1"/>
      </condition>
    </extension>
"""
    dialplan = tmp_path / "public.xml"
    dialplan.write_text(timed_dialplan(extension % ("days", 'wday="mon - fri"'), extension % ("hours", 'hour="9 - 17"'),
                                       extension % ("dates", 'mday="1 ,23"'),
                                       extension % ("fine", 'hour="9- 17" mday="1, 23"')))
    result = import_files([str(dialplan)])
    assert [r.name for r in loader.parse(result.text, "imported").routes] == ["fine"]
    reports = "\n".join(str(r) for r in result.reports)
    assert "extension 'days' is not imported: wday 'mon - fri' has a blank FreeSWITCH stops reading at " \
           "(switch_dow_cmp)" in reports
    assert "extension 'hours' is not imported: hour '9 - 17' has a blank" in reports
    assert "extension 'dates' is not imported: mday '1 ,23' has a blank" in reports


def test_compare_at_evaluates_the_xml_time_conditions(tmp_path, utc):
    dialplan = tmp_path / "public.xml"
    dialplan.write_text(timed_dialplan(OFFICE_AND_WEEKEND, REST))
    rules = tmp_path / "rules.yaml"
    rules.write_text(import_files([str(dialplan)]).text)
    legacy = read_legacy([str(dialplan)])
    at = {"wednesday, christmas eve": "2026-12-24T10:00:00+00:00", "wednesday evening": "2026-12-23T19:00:00Z",
          "sunday night": "2026-12-27T23:00:00Z", "wednesday, not christmas": "2026-12-02T10:00:00Z"}
    rows = {name: compare(str(rules), legacy, ["12345"], at=instant)[0] for name, instant in at.items()}
    assert {name: row.verdict for name, row in rows.items()} == dict.fromkeys(at, "match")
    assert rows["wednesday, christmas eve"].new["dialstring"] == "sofia/gateway/gw_office/12345"
    assert rows["wednesday evening"].new["dialstring"] == "sofia/gateway/gw_other/12345"
    # the XML's weekend extension ignores its field's hour= (FreeSWITCH does too), so 23:00 still goes there
    assert rows["sunday night"].old["dialstring"] == "sofia/gateway/gw_weekend/12345"
    assert rows["wednesday, not christmas"].new["dialstring"] == "sofia/gateway/gw_other/12345"
    assert compare(str(rules), legacy, ["12345"])[0].verdict == "?"    # without --at: not guessed


def test_compare_at_on_the_site(tmp_path, utc, capsys):
    rules = tmp_path / "site.yaml"
    rules.write_text(import_files([PUBLIC, DEFAULT], SITE_DISTRIBUTOR, SITE_ACL).text)
    argv = ["compare", str(rules), "--dialplan", PUBLIC, "--dialplan", DEFAULT, "--distributor", SITE_DISTRIBUTOR,
            "--acl", SITE_ACL, "--dest", "8001234", "--src-ip", PEER, "--caller", "+442071234567", "--json"]
    assert main(argv + ["--at", "2026-12-01T10:00:00Z"]) == 0          # a Tuesday: office hours
    row, = json.loads(capsys.readouterr().out)
    assert row["verdict"] == "match" and row["new"]["route"] == "public/office hours"
    assert main(argv + ["--at", "2026-12-06T10:00:00Z"]) in (0, 1)     # a Sunday: both skip it
    row, = json.loads(capsys.readouterr().out)
    assert row["verdict"] != "?" and row["new"]["route"] != "public/office hours"
    assert "office hours" not in row["old"]["detail"]


def test_calls_within_one_second_share_their_verdicts(rules):
    ruleset = loader.load(rules)
    start = parse_instant("2026-12-24T13:59:59+01:00")
    first = ruleset.moments.at(start + 0.1)
    assert ruleset.moments.at(start + 0.9) is first
    assert ruleset.moments.at(start + 1.0) is not first
    # date-time's end (14:00:00, excluded) is a whole second: the fraction before it still matches
    assert decide_at(ruleset, "2026-12-24T13:59:59.999+01:00").route.name == "office"
    assert decide_at(ruleset, "2026-12-24T14:00:00.001+01:00").route.name == "anything else"


def test_untimed_rules_neither_read_the_clock_nor_fsroute_now(call, write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = write_rules("version: 1\nroutes:\n  - {name: r, gateway: gw1}\n")
    assert not loader.load(path).timed and loader.load(write_rules(RULES, "timed.yaml")).timed
    session = call(path, "1234", fsroute_now="not an instant")   # would fail the call if it were read
    assert session.getVariable("fsroute_result") == "bridged"


def test_ctl_reload_shows_warnings(write_rules, fake_freeswitch):
    path = write_rules("version: 1\nroutes:\n  - {name: r, time: {mon: 2, mday: 31}, gateway: gw1}\n")
    answer = ctl.command("reload " + path)
    assert answer.startswith("+OK reloaded %s" % path)
    assert answer.splitlines()[1] == ("%s:3:21: warning: route 'r' time can never match: no day satisfies mon "
                                      "and mday together" % path)


def test_a_condition_both_required_and_excluded_is_a_warning(write_rules):
    ruleset = loader.load(write_rules("""\
    version: 1
    calendars: {weekend: {wday: 'sat,sun'}}
    routes:
      - {name: r1, when: weekend, unless: [weekend], gateway: gw1}
      - {name: r2, time: {wday: 'sat,sun'}, unless: weekend, gateway: gw1}
      - {name: r3, time: {wday: 'sat'}, unless: weekend, gateway: gw1}
    """))
    assert [(p.line, p.message) for p in ruleset.warnings] == [
        (4, "warning: route 'r1' can never match: the same condition is in when (or time) and in unless"),
        (5, "warning: route 'r2' can never match: the same condition is in when (or time) and in unless")]


# -- when_any: at least one calendar of a list -------------------------------------------------

ANY_OF = """\
version: 1
defaults: {tz: Europe/Berlin}
calendars:
  weeknights: {wday: mon-fri, hour: 18-7}
  weekends: {wday: 'sat,sun'}
  holidays: {dates: [2026-12-25]}
  december: {mon: 12}
routes:
  - name: cheap
    match: {destination_number: '^1'}
    when_any: [weeknights, weekends]
    unless: holidays
    gateway: gw_cheap
  - name: december off hours
    match: {destination_number: '^2'}
    when: december
    when_any: [weeknights, weekends]
    gateway: gw_december
  - name: weekend
    match: {destination_number: '^3'}
    when_any: weekends
    gateway: gw_weekend
  - name: rest
    gateway: gw_day
"""

# (instant in Berlin, destination, route)
ANY_OF_DECISIONS = [
    ("2026-12-23T10:00:00+01:00", "1555", "rest"),                   # Wednesday, daytime: neither holds
    ("2026-12-23T20:00:00+01:00", "1555", "cheap"),                  # a weeknight
    ("2026-12-26T10:00:00+01:00", "1555", "cheap"),                  # a Saturday
    ("2026-12-25T20:00:00+01:00", "1555", "rest"),                   # a weeknight, but unless holidays
    ("2026-11-28T10:00:00+01:00", "2555", "rest"),                   # a Saturday, but when december fails
    ("2026-12-05T10:00:00+01:00", "2555", "december off hours"),     # a Saturday in December
    ("2026-12-23T10:00:00+01:00", "2555", "rest"),                   # December, daytime on a Wednesday
    ("2026-12-26T10:00:00+01:00", "3555", "weekend"),                # one name alone
    ("2026-12-23T20:00:00+01:00", "3555", "rest"),
]


@pytest.mark.parametrize("at, dest, route", ANY_OF_DECISIONS)
def test_when_any_takes_the_call_when_one_of_its_calendars_holds(write_rules, at, dest, route):
    decision = decide_at(loader.load(write_rules(ANY_OF)), at, dest)
    assert decision.outcome is None and decision.route.name == route


def test_the_handler_routes_when_any_at_fsroute_now(call, write_rules, fake_freeswitch):
    path = write_rules(ANY_OF)
    fake_freeswitch.set_gateways("external", up=["gw_cheap", "gw_december", "gw_weekend", "gw_day"])
    for now, route in [("2026-12-23T20:00:00+01:00", "cheap"), ("2026-12-26T10:00:00+01:00", "cheap"),
                       ("2026-12-23T10:00:00+01:00", "rest"), ("2026-12-25T20:00:00+01:00", "rest")]:
        session = call(path, "1555", fsroute_now=now)
        assert session.getVariable("fsroute_route") == route, now
    only = write_rules("version: 1\ncalendars: {weekends: {wday: 'sat,sun', tz: UTC}}\nroutes:\n"
                       "  - {name: weekend, when_any: weekends, gateway: gw_weekend}\n"
                       "  - {name: rest, gateway: gw_day}\n", "only.yaml")  # no other time condition in the file
    assert call(only, "1555", fsroute_now="2026-12-26T10:00:00Z").getVariable("fsroute_route") == "weekend"
    assert call(only, "1555", fsroute_now="2026-12-23T10:00:00Z").getVariable("fsroute_route") == "rest"


def test_when_any_names_are_checked_with_line_and_column(write_rules):
    found = problems(write_rules, """\
    version: 1
    calendars: {weekend: {wday: 'sat,sun'}, nights: {hour: 18-7}}
    routes:
      - {name: r1, when_any: [nights, weekends], gateway: gw1}
      - {name: r2, when_any: [], gateway: gw1}
      - {name: r3, when_any: {nights: 1}, gateway: gw1}
      - {name: r4, when_any: holiday, gateway: gw1}
    """)
    assert found == [
        "4:35: route 'r1' when_any: no calendar named 'weekends' (did you mean 'weekend'?)",
        "5:26: route 'r2' when_any needs at least one calendar (at least one of them must hold)",
        "6:26: route 'r3' when_any (a calendar name or a list of them) must be a list",
        "7:26: route 'r4' when_any: no calendar named 'holiday' (calendars: nights, weekend)"]


def test_when_any_that_unless_excludes_entirely_is_a_warning(write_rules):
    ruleset = loader.load(write_rules("""\
    version: 1
    calendars: {weekend: {wday: 'sat,sun'}, nights: {hour: 18-7}}
    routes:
      - {name: r1, when_any: [weekend, nights], unless: [nights, weekend], gateway: gw1}
      - {name: r2, when_any: [weekend, nights], unless: nights, gateway: gw1}
    """))
    assert [(p.line, p.message) for p in ruleset.warnings] == [
        (4, "warning: route 'r1' can never match: every calendar of when_any is in unless too")]


def test_explain_names_the_when_any_calendars_that_did_not_hold(write_rules):
    from fsroute.core.explain import explain

    ruleset = loader.load(write_rules(ANY_OF))

    def why(at, dest):
        return [line for line in explain(ruleset, {"destination_number": dest}.get, parse_instant(at))
                if "not looked at" not in line]

    assert why("2026-12-23T09:00:00Z", "1555") == [  # a Wednesday, 10:00 in Berlin
        "route 'cheap' (line 9): when_any calendars 'weeknights', 'weekends' do not hold at 2026-12-23 10:00:00 "
        "Europe/Berlin (2026-12-23T09:00:00Z)",
        "route 'rest' (line 23): every condition holds; it takes the call"]
    assert why("2026-12-23T19:00:00Z", "3555")[0] == (
        "route 'weekend' (line 19): when_any calendar 'weekends' does not hold at 2026-12-23 20:00:00 "
        "Europe/Berlin (2026-12-23T19:00:00Z)")
    assert why("2026-11-28T09:00:00Z", "2555")[0] == (  # when is judged first, as the router does
        "route 'december off hours' (line 14): when calendar 'december' does not hold at 2026-11-28 10:00:00 "
        "Europe/Berlin (2026-11-28T09:00:00Z)")
    assert why("2026-12-25T19:00:00Z", "1555")[0] == (
        "route 'cheap' (line 9): unless calendar 'holidays' holds at 2026-12-25 20:00:00 Europe/Berlin "
        "(2026-12-25T19:00:00Z)")


def test_check_knows_when_any_routes_are_no_catch_all_and_may_shadow(write_rules, capsys):
    path = write_rules("""\
    version: 1
    calendars: {weekend: {wday: 'sat,sun'}, nights: {hour: 18-7}}
    routes:
      - {name: off hours, match: {destination_number: '^1'}, when_any: [weekend, nights], gateway: gw1}
      - {name: weekend only, match: {destination_number: '^1'}, when: weekend, gateway: gw2}
      - {name: nights or weekend, match: {destination_number: '^1'}, when_any: [nights, weekend], gateway: gw2}
      - {name: all week, match: {destination_number: '^1'}, gateway: gw3}
      - {name: any, when_any: weekend, gateway: gw4}
      - {name: always, gateway: gw5}
    """)
    assert main(["check", path]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "%s:5: warning: route 'weekend only' never takes a call: route 'off hours' (line 4) comes first and "
        "takes every call it matches" % path,
        "%s:6: warning: route 'nights or weekend' never takes a call: route 'off hours' (line 4) comes first and "
        "takes every call it matches" % path]


def test_the_example_in_docs_time_md_routes_as_it_says():
    from rulesdata import ROOT

    text = (ROOT / "docs" / "time.md").read_text()
    ruleset = loader.parse(text.split("```yaml\n", 1)[1].split("```", 1)[0], str(ROOT / "docs" / "rules.yaml"))
    assert ruleset.warnings == ()
    assert decide_at(ruleset, "2026-12-23T10:00:00+01:00").route.name == "office"       # a Wednesday
    assert decide_at(ruleset, "2026-12-23T20:00:00+01:00").route.name == "off hours"    # a weeknight
    assert decide_at(ruleset, "2026-12-26T10:00:00+01:00").route.name == "off hours"    # a Saturday
    assert decide_at(ruleset, "2026-12-24T15:00:00+01:00").route.name == "anything else"  # christmas_eve
