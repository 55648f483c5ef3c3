"""Leg, set and export variables, number formats, caller-ID rewrites and variable gateways."""

import pytest

from fsroute.core import dialstring, templates
from fsroute.core.loader import parse
from fsroute.core.model import RulesError

RULES = """\
    version: 1
    defaults: {strict_gateways: true}
    gateways:
      carrier_a: {number: '1234#$0', strip: 1, leg: {sip_h_X-Account: 'acc,1|x', leg_timeout: 20}}
      carrier_b:
        number: '+$0'
        caller_id: {match: '^0(\\d+)$', number: '+49$1', name: 'ACME ${caller_id_name}', else: {hangup: CALL_REJECTED}}
        export: {carrier: b}
    groups:
      both: {strategy: priority, gateways: [carrier_a, carrier_b]}
    routes:
      - name: intl
        match: {destination_number: '^00(\\d+)$'}
        number: '$1'
        group: both
        set: {route_tag: 'intl-$1'}
        leg: {leg_progress_timeout: 5}
      - name: var gw
        match: {destination_number: '^1(\\d{10})$'}
        number: '1${default_areacode}$1'
        gateway: '${default_gateway}'
"""


@pytest.fixture
def rules_path(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["carrier_a", "carrier_b"])
    return write_rules(RULES)


def bridges(session):
    return [data for app, data in session.executed if app == "bridge"]


def test_each_carrier_gets_its_format_leg_variables_and_caller_id(call, rules_path):
    session = call(rules_path, "004930123", caller_id_number="0301234", caller_id_name="Bob",
                   bridge_outcomes={"carrier_a": "NORMAL_TEMPORARY_FAILURE"})
    assert bridges(session) == [
        "[sip_h_X-Account=acc\\,1\\|x,leg_timeout=20,leg_progress_timeout=5]sofia/gateway/carrier_a/1234#930123",
        "[leg_progress_timeout=5,origination_caller_id_number=+49301234,origination_caller_id_name=ACME Bob]"
        "sofia/gateway/carrier_b/+4930123"]
    assert session.variables["fsroute_result"] == "bridged"
    assert session.variables["route_tag"] == "intl-4930123"
    assert session.variables["carrier"] == "b"
    assert session.variables["export_vars"] == "carrier"


def test_a_caller_id_the_rule_refuses_leaves_that_carrier_out(call, rules_path):
    session = call(rules_path, "004930123", caller_id_number="5551234")
    assert [b.split("]")[-1] for b in bridges(session)] == ["sofia/gateway/carrier_a/1234#930123"]


def test_every_carrier_refusing_the_caller_id_blocks_with_the_rules_cause(write_rules, call, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["b"])
    path = write_rules("""\
        version: 1
        gateways:
          b: {caller_id: {match: '^0', else: {hangup: CALL_REJECTED}}}
        routes:
          - {name: r, gateway: b}
    """)
    session = call(path, "123", caller_id_number="999")
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("blocked", "CALL_REJECTED")
    assert bridges(session) == []


def test_a_gateway_from_a_variable_is_checked_at_call_time(call, rules_path, fake_freeswitch):
    fake_freeswitch.globals["default_areacode"] = "555"  # a global, as vars.xml sets it
    session = call(rules_path, "12345678901", default_gateway="carrier_a")
    assert bridges(session) == ["[sip_h_X-Account=acc\\,1\\|x,leg_timeout=20]sofia/gateway/carrier_a/1234#5552345678901"]
    for hostile in ("evil/x", "gw1|sofia/gateway/evil", "${system(id)}", "", "undeclared"):
        session = call(rules_path, "12345678901", default_gateway=hostile)
        assert session.variables["fsroute_result"] == "invalid_number"
        assert bridges(session) == []


@pytest.mark.parametrize("name", ["x]sofia/gateway/evil/1", "it's", "${system(id)}", "a\\b", "a\nb", "a" * 300])
def test_a_hostile_caller_id_name_never_reaches_the_dial_string(call, rules_path, name):
    session = call(rules_path, "004930123", caller_id_number="0301234", caller_id_name=name,
                   bridge_outcomes={"carrier_a": "NORMAL_TEMPORARY_FAILURE"})
    assert session.variables["fsroute_result"] == "invalid_number"
    assert session.hangup_cause == "INVALID_NUMBER_FORMAT"
    assert bridges(session) == []


@pytest.mark.parametrize("value, written", [
    ("plain", "plain"), ("a,b", "a\\,b"), ("a|b", "a\\|b"), ("PCMU,PCMA", "PCMU\\,PCMA"),
    ("<sip:1@h>", "<sip:1@h>"), ("a=b", "a=b"), ("two words", "two words"), ("$5", "$5")])
def test_leg_values_are_escaped_as_freeswitch_reads_them(value, written):
    assert dialstring.leg_value(value, "v") == written


@pytest.mark.parametrize("value", ["a]b", "[a", "it's", 'say "hi"', "back\\slash", "${x}", "a:_:b",
                                   "line\nbreak", " lead", "trail ", "x" * 257])
def test_what_cannot_be_escaped_is_refused(value):
    with pytest.raises(dialstring.UnsafeValue):
        dialstring.leg_value(value, "v")


def test_templates_fill_captures_and_variables():
    parts = templates.parse("a$1-${b}", None)
    assert templates.expand(parts, lambda i: "X", {"b": "Y"}.get) == "aX-Y"
    with pytest.raises(templates.TemplateError):
        templates.parse("cost $", None)
    with pytest.raises(templates.TemplateError):
        templates.parse("$2", 1)


def test_a_gateways_number_says_it_has_only_0():
    assert problems("version: 1\ngateways: {gw1: {number: '+$1'}}\nroutes: [{name: a, gateway: gw1}]\n") == [
        "r.yaml:2:26: gateway 'gw1' number: uses $1, but it has only $0 (the route's number after strip)"]
    assert templates.over_number(templates.parse("00$0#${x}", 0, "n"), "49", {"x": "7"}.get) == "0049#7"


def problems(text):
    with pytest.raises(RulesError) as info:
        parse(text, "r.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("body, message", [
    ("leg: {'a,b': 1}", "r.yaml:3:33: route 'a' leg: 'a,b' is not a variable name (letters, digits, '_', '-')"),
    ("leg: {x: 'a]b'}", "r.yaml:3:36: route 'a' leg x: the value holds ']', which a dial string cannot carry"),
    ("set: {x: '$5'}", "r.yaml:3:36: route 'a' set x: uses $5 but the regex has 1 group"),
    ("export: {x: 'a${'}", "r.yaml:3:39: route 'a' export x: '$' at character 2 starts neither $N nor ${name} "
                           "(names: letters, digits, '_')"),
    ("caller_id: {match: '^(1)', number: \"'\"}",
     "r.yaml:3:62: route 'a' caller_id number: the value holds \"'\", which a dial string "
     "cannot carry"),
])
def test_bad_values_are_reported_where_they_stand(body, message):
    text = "version: 1\nroutes:\n  - {name: a, gateway: g, %s, match: {destination_number: '^(1)'}}\n" % body
    assert problems(text) == [message]


def test_strict_gateways_reports_every_undeclared_name():
    text = ("version: 1\ndefaults: {strict_gateways: true}\ngateways: {gw1: {}}\n"
            "groups:\n  g: {gateways: [gw1, gw2]}\nroutes:\n  - {name: a, gateway: gwl}\n  - {name: b, group: g}\n")
    assert problems(text) == [
        "r.yaml:5:23: group 'g': gateway 'gw2' is not declared under gateways (strict_gateways) "
        "(did you mean 'gw1'?)",
        "r.yaml:7:24: route 'a': gateway 'gwl' is not declared under gateways (strict_gateways) "
        "(did you mean 'gw1'?)"]


def test_without_strict_gateways_undeclared_names_load_as_before():
    rules = parse("version: 1\ngateways: {gw3: {profile: internal}}\nroutes:\n  - {name: a, gateway: gw1}\n")
    assert rules.profile_of("gw3") == "internal" and rules.profile_of("gw1") == "external"
