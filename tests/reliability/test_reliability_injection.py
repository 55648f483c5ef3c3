"""1. Dial-string injection: hostile destinations never reach ``bridge``.

The rules give hostile text every chance: a catch-all route ``^(.*)$`` ->
``$1`` copies the whole destination into the number, a prefixed route
rewrites ``A<x>`` to ``00<x>``, and a route without ``number`` dials the
destination as it came. Whatever the text, a bridge is only ever executed as
``sofia/gateway/<gateway of the rules>/<[0-9A-Za-z+*#._-]{1,64}>``; hostile
text ends as ``invalid_number`` or ``no_route``, with no exception and no
ERROR line. Destinations longer than 128 characters are refused before any
regex runs (shown by recording every regex call, not by timing).
"""

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fsroute.core.router
import fsroute.runtime.process
from fsroute.core.index import RouteIndex
from fsroute.core.loader import parse
from fsroute.core.model import NUMBER_RE, RulesError
from fsroute.testing import FakeFreeSWITCH
from budget import examples
from reliability_helpers import SAFE_BRIDGE_RE, assert_safe_bridges, bridges, error_lines, run_call, write_rules

RULES = """\
version: 1
defaults:
  profile: external
groups:
  g:
    strategy: weighted_round_robin
    gateways:
      - {name: gw1, weight: 1}
      - {name: gw2, weight: 2}
routes:
  - name: prefixed
    match: {destination_number: '^A(.*)$'}
    number: '00$1'
    gateway: gw1
  - name: as dialled
    match: {destination_number: '^B'}
    gateway: gw2
  - name: vip
    match: {destination_number: '^7(\\d+)$', caller_id_number: '^1'}
    number: '$1'
    gateway: gw1
  - name: catch all
    match: {destination_number: '^(.*)$'}
    number: '$1'
    group: g
"""
GATEWAYS = {"gw1", "gw2"}
REFUSED = ("invalid_number", "no_route")

# Each holds at least one character a dial string must never carry.
FRAGMENTS = {
    "pipe": "|", "comma": ",", "colon": ":", "semicolon": ";", "at": "@", "slash": "/",
    "backslash": "\\", "braces": "{absolute_codec_string=PCMU}", "brackets": "[leg_timeout=1]",
    "angle": "<sip:1@example.com>", "channel_var": "${system(id)}", "api_var": "${sofia_contact(x)}",
    "dollar_capture": "$1", "space": " ", "tab": "\t", "newline": "\n", "cr": "\r", "crlf": "\r\n",
    "nul": "\x00", "del": "\x7f", "esc": "\x1b", "arabic_indic": "\u0669\u0661\u0660\u0660\u0661",
    "ext_arabic_indic": "\u06f9\u06f1\u06f0\u06f0\u06f1", "devanagari": "\u0967\u0968\u0969",
    "fullwidth": "\uff11\uff12\uff13", "zero_width_space": "\u200b", "rtl_override": "\u202e",
    "percent_escape": "%00", "quote": "'", "dquote": '"', "ampersand": "&", "caret": "^",
    "tilde": "~", "equals": "=", "question": "?", "bang": "!", "uri": "sip:1001@example.com",
    "gateway_path": "gw9/1001", "dial_string": "sofia/gateway/evil/1",
    "enterprise": ":_:sofia/gateway/gw9/1", "emoji": "\U0001f4de", "latin1": "\u00e9",
    "lone_surrogate": "\ud800",
}
POSITIONS = {
    "alone": lambda f: f,
    "prefix": lambda f: f + "1001",
    "middle": lambda f: "10" + f + "01",
    "suffix": lambda f: "1001" + f,
}
VARIANTS = ("", "A", "B")  # catch all, prefixed rewrite, dialled as is

HUGE = {
    "digits_1MB": "1" * 2 ** 20,
    "pipes_1MB": "|" * 2 ** 20,
    "dial_strings_1MB": ("1001|sofia/gateway/evil/" * 50000)[: 2 ** 20],
    "arabic_indic_1MB": "\u0669" * 2 ** 20,
    "nul_1MB": "\x00" * 2 ** 20,
    "newlines_1MB": "1\n" * 2 ** 19,
    "digits_129": "1" * 129,
    "prefixed_129": "A" + "1" * 128,
}


@pytest.fixture
def rules_path(tmp_path):
    return write_rules(tmp_path / "rules.yaml", RULES)


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=sorted(GATEWAYS))
    return fake_freeswitch


def expected_number(destination, caller):
    """The number the rules above rewrite ``destination`` to, if ``$`` meant end of text."""
    if destination.startswith("A"):
        return "00" + destination[1:]
    if (re.fullmatch(r"7([0-9]+)", destination) and caller.startswith("1")
            and len(caller) <= fsroute.core.router.MAX_VALUE_LEN):
        return destination[1:]
    return destination


def check_call(fake, rules_path, destination, caller="1555"):
    """Route one call; check the guarantees; return the session."""
    before = len(error_lines(fake))
    session = run_call(fake, rules_path, {"destination_number": destination,
                                          "caller_id_number": caller,
                                          "network_addr": "127.0.0.1"})
    assert_safe_bridges(session, GATEWAYS)
    assert error_lines(fake)[before:] == []
    result = session.variables.get("fsroute_result")
    number = expected_number(destination, caller)
    if len(destination) <= fsroute.core.router.MAX_DESTINATION_LEN and NUMBER_RE.match(number):
        # Clean text: it is dialled exactly, so the checks above are not vacuous.
        assert result == "bridged", (destination, result)
        assert bridges(session)[0].endswith("/" + number)
    else:
        assert result in REFUSED, "hostile destination %r ended as %r with bridges %r" % (
            destination, result, bridges(session))
        assert bridges(session) == []
    return session


@pytest.mark.parametrize("position", sorted(POSITIONS))
@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
def test_hostile_fragments_never_reach_bridge(switch, rules_path, tried, fragment, position):
    text = FRAGMENTS[fragment]
    assert not NUMBER_RE.match(text)  # the fragment really is hostile
    for variant in VARIANTS:
        destination = variant + POSITIONS[position](text)
        session = check_call(switch, rules_path, destination)
        assert session.variables["fsroute_result"] in REFUSED, (variant, destination)
        tried["injection"] += 1


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_destinations_are_refused(switch, rules_path, tried, name):
    session = check_call(switch, rules_path, HUGE[name])
    assert session.variables["fsroute_result"] == "invalid_number"
    assert session.hangup_cause == "INVALID_NUMBER_FORMAT"
    tried["injection"] += 1


def test_clean_numbers_are_still_dialled(switch, rules_path, tried):
    """The control: the same rules do bridge clean numbers, up to the 64-character limit."""
    for destination, dialled in (("1001", "1001"), ("A4420", "004420"), ("B12", "B12"),
                                 ("+4930123", "+4930123"), ("*98#", "*98#"), ("9" * 64, "9" * 64)):
        session = check_call(switch, rules_path, destination)
        assert session.variables["fsroute_result"] == "bridged"
        assert bridges(session)[0].endswith("/" + dialled)
        tried["injection"] += 1
    session = check_call(switch, rules_path, "9" * 65)
    assert session.variables["fsroute_result"] == "invalid_number"
    tried["injection"] += 1


class _RecordingRegex:
    """A compiled regex that records what it is asked to search."""

    def __init__(self, regex, calls):
        self._regex = regex
        self._calls = calls

    def search(self, text, *args):
        self._calls.append(text)
        return self._regex.search(text, *args)

    def match(self, text, *args):
        self._calls.append(text)
        return self._regex.match(text, *args)

    def fullmatch(self, text, *args):
        self._calls.append(text)
        return self._regex.fullmatch(text, *args)

    def __getattr__(self, name):  # pattern, flags, groups for the index and the rewrite
        return getattr(self._regex, name)


def test_long_destinations_are_refused_before_any_regex(switch, rules_path, monkeypatch, tried):
    run_call(switch, rules_path, {"destination_number": "1", "network_addr": "127.0.0.1"})  # load
    rules = fsroute.runtime.process.store_for(rules_path).current().rules
    calls = []
    routes = tuple(
        route._replace(dest=_RecordingRegex(route.dest, calls),
                       conditions=tuple((name, _RecordingRegex(rx, calls)) for name, rx in route.conditions))
        for route in rules.routes)
    monkeypatch.setattr(rules, "routes", routes)
    monkeypatch.setattr(rules, "index", RouteIndex(routes))
    for name, value in list(vars(fsroute.core.router).items()):  # NUMBER_RE and any other module-level regex
        if isinstance(value, re.Pattern):
            monkeypatch.setattr(fsroute.core.router, name, _RecordingRegex(value, calls))

    for destination in ("7" * 129, "7" * 4096, "A" * 2 ** 20, "(a+)+$" * 1000):
        session = check_call(switch, rules_path, destination, caller="1" * 2 ** 20)
        assert session.variables["fsroute_result"] == "invalid_number"
        assert calls == [], "a regex ran on a %d-character destination" % len(destination)
        tried["injection"] += 1

    # Control: at the bound the regexes do run (so the recorder works) ...
    check_call(switch, rules_path, "7" * 128)
    assert "7" * 128 in calls
    # ... and an over-long other variable never reaches its condition's regex.
    del calls[:]
    session = check_call(switch, rules_path, "71001", caller="1" * 2 ** 20)
    assert all(len(text) <= fsroute.core.router.MAX_VALUE_LEN for text in calls)
    assert session.variables["fsroute_route"] == "catch all"  # vip's caller condition did not hold
    tried["injection"] += 2


@pytest.mark.parametrize("template", ["1|2", "${x", "$1@example.com", "a b", "$1,$1", "{x=y}$1",
                                      "[x]", "<$1>", "$1;x", "$1/2", "\u0669$1", "$1\n", "$1\t"])
def test_number_templates_with_dial_string_syntax_do_not_load(template, tried):
    quoted = '"%s"' % template.encode("unicode_escape").decode("ascii")  # YAML double quotes
    text = RULES.replace("number: '00$1'", "number: " + quoted)
    with pytest.raises(RulesError) as caught:
        parse(text, "rules.yaml")
    assert any("number" in p.message for p in caught.value.problems)
    tried["injection"] += 1


@pytest.mark.parametrize("name", ["gw1/1001", "gw1|gw2", "gw 1", "${gw", "${g/w}", "-err/x", "gw1,gw2", "gw1@x",
                                  "", "gw\u0669", "gw1\n"])
def test_gateway_names_with_dial_string_syntax_do_not_load(name, tried):
    text = RULES.replace("gateway: gw2", 'gateway: "%s"' % name.encode("unicode_escape").decode("ascii"))
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "gateway: \"" in row)
    with pytest.raises(RulesError) as caught:
        parse(text, "rules.yaml")
    # Refused for the name itself, where it stands: not some other problem of the file.
    assert [(p.line, "gateway" in p.message) for p in caught.value.problems] == [(line, True)], \
        caught.value.problems
    tried["injection"] += 1


_ALL_UNICODE = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_DIAL_ALPHABET = st.sampled_from(list("0123456789+*#._-Aab") + ["|", ",", ":", ";", "@", "/", "{", "}",
                                                                "[", "]", "<", ">", "$", " ", "\t",
                                                                "\n", "\r", "\x00", "\u0669", "%"])


@pytest.fixture(scope="module")
def shared_rules_path(tmp_path_factory):
    """One rules file for all generated examples (hypothesis runs them inside one test)."""
    return write_rules(tmp_path_factory.mktemp("injection") / "rules.yaml", RULES)


@settings(max_examples=examples(2000), deadline=None)
@given(variant=st.sampled_from(VARIANTS), text=st.text(_ALL_UNICODE, max_size=200))
@example(variant="", text="1001\n")
def test_generated_unicode_destinations(shared_rules_path, tried, variant, text):
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=sorted(GATEWAYS))
        check_call(fake, shared_rules_path, variant + text)
    tried["injection"] += 1


@settings(max_examples=examples(2000), deadline=None)
@given(variant=st.sampled_from(VARIANTS), text=st.text(_DIAL_ALPHABET, max_size=80))
def test_generated_near_numbers(shared_rules_path, tried, variant, text):
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=sorted(GATEWAYS))
        check_call(fake, shared_rules_path, variant + text)
    tried["injection"] += 1


# -- values a call fills in: leg / set / export variables, caller ID, a gateway from a variable ----------

VALUE_RULES = """\
version: 1
gateways:
  gw1:
    leg: {sip_h_X-Name: '${caller_id_name}', leg_timeout: 20}
    caller_id: {match: '^(.*)$', number: '$1', name: 'n ${caller_id_name}'}
    export: {exported_name: '${caller_id_name}'}
routes:
  - name: from a variable
    match: {destination_number: '^9(\\d+)$'}
    number: '$1'
    gateway: '${target_gateway}'
  - name: values
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    gateway: gw1
    set: {account: 'acc-${account_code}'}
"""
LEG_VAR_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*\Z")


def read_back(dial):
    """The leg variables and the rest of ``dial``, read as switch_ivr_originate reads them (see
    fsroute/core/dialstring.py); asserts no piece of it could be read as more syntax."""
    assert "${" not in dial and ":_:" not in dial
    assert not re.search(r"(?<!\\)\|", dial), "an unescaped | splits the dial string: %r" % dial
    assert "'" not in dial and '"' not in dial
    leg = {}
    if dial.startswith("["):
        end = dial.index("]")
        body, dial = dial[1:end], dial[end + 1:]
        assert "[" not in body
        for item in re.split(r"(?<!\\),", body):
            name, _, value = item.partition("=")
            assert LEG_VAR_RE.match(name), (name, item)
            assert "\\" not in re.sub(r"\\[,|]", "", value), "a stray backslash: %r" % item
            leg[name] = re.sub(r"\\([,|])", r"\1", value)
    return leg, dial


def check_value_call(fake, rules_path, name="x", account="7", caller="1555", target="gw1", destination="1001"):
    before = len(error_lines(fake))
    session = run_call(fake, rules_path, {"destination_number": destination, "caller_id_number": caller,
                                          "caller_id_name": name, "account_code": account,
                                          "target_gateway": target, "network_addr": "127.0.0.1"})
    assert error_lines(fake)[before:] == []
    result = session.variables.get("fsroute_result")
    assert result in ("bridged", "invalid_number"), result
    for dial in bridges(session):
        leg, rest = read_back(dial)
        assert SAFE_BRIDGE_RE.match(rest), rest
        assert SAFE_BRIDGE_RE.match(rest).group(1) == "gw1"
        # Accepted values arrive exactly as the call had them: nothing added, nothing cut.
        expected = {"sip_h_X-Name": name, "leg_timeout": "20"}
        rewritten = re.search(r"^(.*)$", caller)  # the caller_id rule of gw1; no match: the caller ID is kept
        if rewritten:
            expected.update(origination_caller_id_number=rewritten.group(1), origination_caller_id_name="n " + name)
        assert leg == expected
        assert (session.variables["account"], session.variables["exported_name"]) == ("acc-" + account, name)
    if result == "invalid_number":
        assert bridges(session) == [] and session.hangup_cause == "INVALID_NUMBER_FORMAT"
        assert "account" not in session.variables and "exported_name" not in session.variables
    return result


@pytest.fixture
def values_path(tmp_path):
    return write_rules(tmp_path / "values.yaml", VALUE_RULES)


@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
@pytest.mark.parametrize("where", ["name", "account", "caller"])
def test_hostile_values_never_inject_syntax(switch, values_path, tried, fragment, where):
    value = "a" + FRAGMENTS[fragment] + "b"
    result = check_value_call(switch, values_path, **{where: value})
    unsafe = any(c in FRAGMENTS[fragment] for c in "[]'\"\\\n\r\t\x00\x7f\x1b") or "${" in value or ":_:" in value
    if unsafe and (where != "caller" or re.search(r"^(.*)$", value)):  # a caller ID the rule does not take is kept
        assert result == "invalid_number", (where, value)
    tried["injection"] += 1


def test_commas_and_pipes_are_carried_escaped(switch, values_path, tried):
    """The control: values FreeSWITCH can read back are dialled, and read back exactly."""
    for name in ("Smith, John", "a|b", "<sip:1@example.com>", "x=y", "100% sure", "\u00e9l\u00e8ve"):
        assert check_value_call(switch, values_path, name=name) == "bridged", name
        tried["injection"] += 1


@pytest.mark.parametrize("target", ["gw1/1001", "gw1|gw2", "gw 1", "${gw}", "-err/x", "gw1,gw2", "[x]gw1",
                                    "", "gw\u0669", "gw1\n", "a" * 65])
def test_hostile_gateway_variables_never_reach_bridge(switch, values_path, tried, target):
    assert check_value_call(switch, values_path, target=target, destination="91001") == "invalid_number"
    tried["injection"] += 1


@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
def test_hostile_variables_in_a_number_template_never_reach_bridge(switch, tmp_path, tried, fragment):
    """number: '00${x}' is filled in by fsroute; what comes out must still be a dialable number."""
    path = write_rules(tmp_path / "n.yaml", RULES.replace("number: '00$1'", "number: '00${x}'"))
    session = run_call(switch, path, {"destination_number": "A1", "x": "1" + FRAGMENTS[fragment],
                                      "network_addr": "127.0.0.1"})
    assert_safe_bridges(session, GATEWAYS)
    assert session.variables["fsroute_result"] == "invalid_number"
    session = run_call(switch, path, {"destination_number": "A1", "x": "4930", "network_addr": "127.0.0.1"})
    assert bridges(session) == ["sofia/gateway/gw1/004930"]  # the control
    tried["injection"] += 1


LCR_RULES = """\
version: 1
carriers:
  c: {deck: c.csv, gateway: gw1, number_format: '00${x}#$0', currency: USD}
routes:
  - name: international
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    lcr: {carriers: [c]}
"""


@pytest.mark.parametrize("fragment", sorted(FRAGMENTS))
def test_hostile_variables_in_a_carriers_number_format_never_reach_bridge(switch, tmp_path, tried, fragment):
    """A carrier's number_format: '00${x}#$0' is filled in by fsroute as a gateway's number is."""
    write_rules(tmp_path / "c.csv", "prefix,rate\n49,0.01\n")
    path = write_rules(tmp_path / "lcr.yaml", LCR_RULES)
    session = run_call(switch, path, {"destination_number": "491001", "x": "1" + FRAGMENTS[fragment],
                                      "network_addr": "127.0.0.1"})
    assert_safe_bridges(session, GATEWAYS)
    assert bridges(session) == [] and session.variables["fsroute_result"] == "invalid_number"
    assert error_lines(switch) == []
    session = run_call(switch, path, {"destination_number": "491001", "x": "7", "network_addr": "127.0.0.1"})
    assert bridges(session) == ["sofia/gateway/gw1/007#491001"]  # the control
    tried["injection"] += 1


_VALUE_ALPHABET = st.sampled_from(list("abAB09 =%") + ["|", ",", "[", "]", "{", "}", "$", "\\", "'", '"', ":",
                                                     "_", "\n", "\x00", "\u0669", "^"])


@settings(max_examples=examples(1000), deadline=None)
@given(name=st.text(_VALUE_ALPHABET, max_size=40), account=st.text(_VALUE_ALPHABET, max_size=10))
def test_generated_values(tmp_path_factory, tried, name, account):
    path = write_rules(tmp_path_factory.mktemp("values") / "values.yaml", VALUE_RULES)
    with FakeFreeSWITCH() as fake:
        fake.set_gateways("external", up=sorted(GATEWAYS))
        check_value_call(fake, path, name=name, account=account)
    tried["injection"] += 1


@pytest.mark.parametrize("value", ["a]b", "it's", "x${", "a\\b", "1:_:2", "[x]"])
@pytest.mark.parametrize("key", ["leg: {x: %s}", "set: {x: %s}", "export: {x: %s}",
                                 "caller_id: {match: '^', name: %s}"])
def test_values_with_dial_string_syntax_do_not_load(tried, key, value):
    quoted = '"%s"' % value.replace("\\", "\\\\")
    text = VALUE_RULES.replace("    set: {account: 'acc-${account_code}'}", "    " + key % quoted)
    with pytest.raises(RulesError) as caught:
        parse(text, "rules.yaml")
    assert [p.line for p in caught.value.problems] == [text.splitlines().index("    " + key % quoted) + 1]
    tried["injection"] += 1
