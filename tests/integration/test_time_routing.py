"""Time routing in a real FreeSWITCH: fsroute's time conditions agree with the XML dialplan's.

Each call is decided twice at the same moment: an XML extension (continue="true")
holding the time attributes sets ``sip_h_X-Xml-Time`` to open or closed with an
action or an anti-action, then the fsroute extension routes the call with a route
carrying the same attributes (to gw1) ahead of a fallback (to gw2). The header
reaches the gateway with the INVITE, so one INVITE shows both decisions. The
conditions are built around the switch's own clock (``strftime``), away from the
hour's end, both in the switch's local zone.
"""

import time

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def switch_clock(fs):
    """(hour, wday 1 = Sunday, mday, mon, year) on the switch's clock, not within 20 s of the hour's end."""
    while True:
        hour, minute, second, wday, mday, mon, year = (
            int(v) for v in fs.switch.api("strftime %H %M %S %w %d %m %Y").split())
        if minute < 59 or second < 40:
            return hour, wday + 1, mday, mon, year
        time.sleep(61 - second)


def cases(hour, wday, mday, mon, year):
    """(attributes, the decision they give now)."""
    day, tomorrow = DAYS[wday - 1], DAYS[wday % 7]
    return [
        ({"wday": str(wday), "hour": str(hour)}, "open"),
        ({"wday": str(wday), "hour": str((hour + 12) % 24)}, "closed"),
        ({"hour": "%d-%d" % ((hour + 1) % 24, (hour + 23) % 24)}, "closed"),     # wraps around, misses now
        ({"wday": "%s-%s" % (day, tomorrow)}, "open"),
        ({"wday": "%s-%s" % (tomorrow, day)}, "open"),                           # wraps: every day
        ({"wday": str(wday % 7 + 1)}, "closed"),
        ({"time-of-day": "%02d:00-%02d:59:59" % (hour, hour)}, "open"),
        ({"minute-of-day": "%d-%d" % (hour * 60 + 1, hour * 60 + 60)}, "open"),  # 1-based
        ({"mday": str(mday), "mon": str(mon), "year": str(year)}, "open"),
        ({"year": str(year + 1)}, "closed"),
    ]


def xml_extension(number, attributes):
    attrs = " ".join('%s="%s"' % item for item in attributes.items())
    return """    <extension name="time-%s" continue="true">
      <condition field="destination_number" expression="^%s$"/>
      <condition %s>
        <action application="set" data="sip_h_X-Xml-Time=open"/>
        <anti-action application="set" data="sip_h_X-Xml-Time=closed"/>
      </condition>
    </extension>
""" % (number, number, attrs)


def fsroute_rules(numbers_and_attributes):
    lines = ["version: 1", "defaults: {status_ttl: 0.5}", "routes:"]
    for number, attributes in numbers_and_attributes:
        time_key = ", ".join("%s: '%s'" % item for item in attributes.items())
        lines.append("  - {name: timed %s, match: {destination_number: '^%s$'}, time: {%s}, gateway: gw1}"
                     % (number, number, time_key))
    lines.append("  - {name: fallback, match: {destination_number: '^(\\d+)$'}, gateway: gw2}")
    return "\n".join(lines) + "\n"


def test_time_conditions_agree_with_the_xml_dialplan(fs):
    now = switch_clock(fs)
    table = [("77%02d" % i, attributes, expected) for i, (attributes, expected) in enumerate(cases(*now))]
    fs.switch.write_config(extra_extensions="".join(xml_extension(n, a) for n, a, _ in table))
    try:
        fs.switch.api("reloadxml")
        fs.use_rules(fsroute_rules([(n, a) for n, a, _ in table]))
        seen = []
        for number, attributes, expected in table:
            result = fs.call(number)
            assert result.code == 200, (number, attributes, result.code)
            [(gateway, invite)] = [(name, gw.invites[-1]) for name, gw in fs.gateways.items()
                                   if gw.invites and gw.invites[-1].uri_user == number]
            fsroute_says = "open" if gateway == "gw1" else "closed"
            seen.append((attributes, invite.header("X-Xml-Time"), fsroute_says, expected))
        assert [(a, xml, ours) for a, xml, ours, _ in seen] == [(a, e, e) for a, _, _, e in seen], now
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")


def test_when_any_takes_the_call_when_one_of_its_calendars_holds_now(fs):
    hour, wday, _, _, _ = switch_clock(fs)
    fs.use_rules("""\
version: 1
defaults: {status_ttl: 0.5}
calendars:
  now: {wday: '%d', hour: '%d'}
  later: {hour: '%d'}
  tomorrow: {wday: '%d'}
routes:
  - {name: one holds, match: {destination_number: '^7801$'}, when_any: [later, now], gateway: gw1}
  - {name: none holds, match: {destination_number: '^7802$'}, when_any: [later, tomorrow], gateway: gw1}
  - {name: fallback, match: {destination_number: '^(\\d+)$'}, gateway: gw2}
""" % (wday, hour, (hour + 12) % 24, wday % 7 + 1))
    for number, expected in (("7801", "gw1"), ("7802", "gw2")):
        result = fs.call(number)
        assert result.code == 200, (number, result.code)
        assert [name for name, gw in fs.gateways.items()
                if gw.invites and gw.invites[-1].uri_user == number] == [expected], number
