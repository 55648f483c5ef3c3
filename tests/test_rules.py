"""The rules file: what loads, and that every problem names file:line:col."""

import pytest

from fsroute.core import loader, model
from fsroute.core.model import Action, RulesError

from rulesdata import BASE_RULES, EXAMPLE


def problems(text, filename="r.yaml"):
    with pytest.raises(RulesError) as caught:
        loader.parse(text, filename)
    return [str(p) for p in caught.value.problems]


def test_example_loads_with_everything_compiled():
    ruleset = loader.load(str(EXAMPLE))
    assert [r.name for r in ruleset.routes] == ["out through gw1", "default"]
    assert ruleset.groups["gw_group_1"].members == (model.Member("gw1", 1), model.Member("gw2", 2))
    assert ruleset.ingress_acl == "trunk_peers"
    assert ruleset.defaults.on_denied == Action("CALL_REJECTED")
    assert "SERVICE_UNAVAILABLE" in ruleset.defaults.failover_on
    assert len(ruleset.sha) == 12 and ruleset.sha256.startswith(ruleset.sha)
    first = ruleset.routes[0]
    match = first.dest.search("91001")
    assert first.rewrite(match, "91001") == "1001"


def test_defaults_apply_and_weight_defaults_to_one():
    ruleset = loader.parse("version: 1\ngroups:\n  g: {gateways: [a, {name: b}]}\n"
                          "routes:\n  - {name: r, group: g}\n")
    assert ruleset.defaults == model.Defaults()
    assert ruleset.groups["g"].members == (model.Member("a", 1), model.Member("b", 1))
    assert ruleset.groups["g"].strategy == "weighted_round_robin"


def test_number_template_captures_and_literals():
    ruleset = loader.parse("version: 1\nroutes:\n  - name: r\n    match: {destination_number: '^(00)(\\d+)$'}\n"
                          "    number: '+$2#$0'\n    gateway: gw1\n")
    route = ruleset.routes[0]
    assert route.rewrite(route.dest.search("004412"), "004412") == "+4412#004412"


def test_no_number_dials_the_destination_as_is():
    ruleset = loader.parse("version: 1\nroutes:\n  - {name: r, match: {destination_number: '^1'}, gateway: g}\n")
    assert ruleset.routes[0].rewrite(None, "1234") == "1234"


def test_unknown_keys_name_line_and_column():
    text = "version: 1\nroutes:\n  - name: r\n    gateway: gw1\n    gatway: gw2\n"
    assert problems(text) == [
        "r.yaml:5:5: route 'r': unknown key 'gatway' (did you mean 'gateway'?)"]


def test_wrong_types():
    text = "version: 1\ndefaults:\n  max_attempts: three\n  status_ttl: [1]\nroutes: {}\n"
    assert problems(text) == [
        "r.yaml:3:17: defaults.max_attempts must be a whole number from 1 to 20",
        "r.yaml:4:15: defaults.status_ttl must be a number of seconds from 0.5 to 3600",
        "r.yaml:5:9: routes must be a list",
    ]


def test_bad_regex_and_bad_cidr():
    text = ("version: 1\nacls:\n  a:\n    default: deny\n    nodes:\n      - allow: 10.0.0.0/33\n"
            "routes:\n  - name: r\n    match: {destination_number: '^(1'}\n    gateway: g\n")
    found = problems(text)
    assert found[0].startswith("r.yaml:6:16: acl 'a': '10.0.0.0/33' is not a CIDR")
    assert found[1].startswith("r.yaml:9:33: route 'r' match destination_number: bad regex '^(1': missing )")
    assert len(found) == 2


@pytest.mark.parametrize("weight", ["0", "-1", "1.5", "'2'", "true", "1000001"])
def test_weight_must_be_a_positive_integer(weight):
    text = "version: 1\ngroups:\n  g:\n    gateways:\n      - {name: a, weight: %s}\nroutes: []\n" % weight
    assert problems(text) == [
        "r.yaml:5:27: group 'g': weight of 'a' must be a whole number from 1 to 1000000"]


def test_route_needs_exactly_one_target():
    text = ("version: 1\ngroups: {g: {gateways: [a]}}\nroutes:\n"
            "  - {name: both, gateway: a, group: g}\n  - {name: neither}\n")
    assert problems(text) == [
        "r.yaml:4:5: route 'both' must name exactly one of 'gateway', 'group' or 'lcr' (it names gateway and group)",
        "r.yaml:5:5: route 'neither' must name exactly one of 'gateway', 'group' or 'lcr' (it names neither)",
    ]


def test_unknown_references():
    text = ("version: 1\ningress_acl: nope\nroutes:\n  - {name: r, acl: missing, group: nogroup}\n")
    assert problems(text) == [
        "r.yaml:2:14: ingress_acl: no acl named 'nope'",
        "r.yaml:4:20: route 'r': no acl named 'missing'",
        "r.yaml:4:36: route 'r': no group named 'nogroup'",
    ]


def test_same_gateway_twice_in_a_group_is_called_out():
    text = ("version: 1\ngroups:\n  gw_group_1:\n    gateways:\n      - {name: gw1, weight: 1}\n"
            "      - {name: gw1, weight: 2}\nroutes: []\n")
    assert problems(text) == [
        "r.yaml:6:9: group 'gw_group_1': gateway 'gw1' is listed twice (first at line 5); "
        "list it once and give it the combined weight"]


def test_duplicate_route_names_and_duplicate_keys():
    text = ("version: 1\nroutes:\n  - {name: r, gateway: a}\n  - {name: r, gateway: b}\n"
            "defaults: {profile: a, profile: b}\n")
    found = problems(text)
    assert "r.yaml:5:24: defaults: key 'profile' appears twice (first at line 5)" in found
    assert "r.yaml:4:5: route name 'r' is used twice (first at line 3)" in found


@pytest.mark.parametrize("version", ["2", "'1'", "1.0"])
def test_unsupported_version(version):
    found = problems("version: %s\nroutes: []\n" % version)
    assert len(found) == 1 and found[0].startswith("r.yaml:1:10: unsupported version")


def test_missing_required_keys_and_empty_file():
    assert problems("defaults: {}\n") == [
        "r.yaml:1:1: the rules file: missing required key 'version'",
        "r.yaml:1:1: the rules file: missing required key 'routes'"]
    assert problems("") == ["r.yaml:1:1: the rules file is empty"]


def test_yaml_syntax_error_has_position():
    found = problems("version: 1\nroutes: [\n")
    assert len(found) == 1 and found[0].startswith("r.yaml:3:1: invalid YAML")


def test_number_template_is_checked_against_the_regex():
    text = ("version: 1\nroutes:\n  - name: r\n    match: {destination_number: '^9(\\d+)$'}\n"
            "    number: '$2'\n    gateway: g\n  - {name: s, number: '1|2', gateway: g}\n"
            "  - {name: t, number: '$1', gateway: g}\n")
    assert problems(text) == [
        "r.yaml:5:13: route 'r' number uses $2 but the destination_number regex has 1 group",
        "r.yaml:7:23: route 's' number '1|2' may hold only 0-9 A-Z a-z + * # . _ - and $N captures",
        "r.yaml:8:23: route 't' number uses $1 but the route matches no destination_number",
    ]


def test_hangup_causes_are_freeswitch_causes():
    text = "version: 1\ndefaults:\n  on_denied: {hangup: CALL_REJECTD}\n  failover_on: [USER_BUSY, BOGUS]\nroutes: []\n"
    assert problems(text) == [
        "r.yaml:3:23: defaults.on_denied.hangup: 'CALL_REJECTD' is not a FreeSWITCH hangup cause",
        "r.yaml:4:28: defaults.failover_on: 'BOGUS' is not a FreeSWITCH hangup cause",
    ]


def test_continue_action_and_on_error():
    ruleset = loader.parse("version: 1\ndefaults: {on_no_route: continue, on_error: {hangup: switch_congestion}}\n"
                          "routes: []\n")
    assert ruleset.defaults.on_no_route == Action(None)
    assert ruleset.defaults.on_error == Action("SWITCH_CONGESTION")


def test_gateway_names_cannot_inject_dial_string_syntax():
    found = problems("version: 1\nroutes:\n  - {name: r, gateway: 'gw1/x'}\n"
                     "groups: {g: {gateways: ['-err']}}\n")
    assert found == [
        "r.yaml:3:24: route 'r' gateway 'gw1/x' is not valid (letters, digits, '_', '.', '-')",
        "r.yaml:4:25: group 'g' gateway '-err' is not valid",
    ]


def test_regexes_use_ascii_digits_like_freeswitch_pcre():
    ruleset = loader.parse("version: 1\nroutes:\n  - {name: r, match: {destination_number: '^\\d+$'}, gateway: g}\n")
    assert ruleset.routes[0].dest.search("123")
    assert not ruleset.routes[0].dest.search("\u0661\u0662\u0663")  # Arabic-Indic digits


def test_gateway_profiles():
    ruleset = loader.parse("version: 1\ngateways: {gw3: {profile: internal}}\nroutes: [{name: r, gateway: gw3}]\n")
    assert ruleset.profile_of("gw3") == "internal"
    assert ruleset.profile_of("gw1") == "external"


def test_load_reports_unreadable_file(tmp_path):
    with pytest.raises(RulesError) as caught:
        loader.load(str(tmp_path / "missing.yaml"))
    assert "cannot read the rules file" in str(caught.value)


def test_non_utf8_names_the_byte():
    with pytest.raises(RulesError) as caught:
        loader.parse(b"version: 1\nroutes: []\n# \xff\n", "r.yaml")
    assert str(caught.value) == "r.yaml:3:3: the file is not UTF-8 (byte 0xff)"


def test_base_rules_fixture_is_valid():
    assert len(loader.parse(BASE_RULES).routes) == 2


def test_route_names_are_one_printable_line():
    found = problems('version: 1\nroutes:\n  - {name: "a\\nfsroute uuid=x result=bridged", gateway: g}\n')
    assert len(found) == 1 and found[0].startswith("r.yaml:3:12: route name must be one printable line")


@pytest.mark.parametrize("ttl", ["0", "0.1", "0.49"])
def test_a_status_ttl_below_half_a_second_is_refused_where_it_stands(ttl):
    # Below it, nearly every call would start its own gwlist reading.
    text = "version: 1\ndefaults:\n  status_ttl: %s\nroutes: []\n" % ttl
    assert problems(text) == ["r.yaml:3:15: defaults.status_ttl must be a number of seconds from 0.5 to 3600"]


def test_loading_leaves_the_cyclic_gc_alone(monkeypatch):
    # Inside FreeSWITCH the collector serves every call thread: a load must not pause it.
    import gc

    from fsroute.core import yamltree
    seen = []
    real_parse = yamltree.parse

    def parse(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(yamltree, "parse", parse)
    assert gc.isenabled()
    loader.parse(BASE_RULES, "r.yaml")
    assert seen and all(seen)


@pytest.mark.parametrize("tail", [
    "  - {name: r9, group: nosuch}\n",            # a reference only the whole file can check
    "  - {name: r9, gateway: gw1, frob: 1}\n",    # a problem inside a route
    "  - {name: r1, gateway: gw1}\n  - {name: r1, gateway: gw1}\n",  # a name used twice
    "  - {name: r9, gateway: gw1}\nacls: {bad: {default: maybe}}\n",  # a problem outside the routes
])
def test_routes_built_while_reading_report_like_a_plain_read(tail):
    from fsroute.core import yamltree
    from fsroute.core.grammar import Builder
    text = "version: 1\nroutes:\n  - {name: r0, gateway: gw1}\n" + tail
    with pytest.raises(RulesError) as plain:
        Builder("r.yaml").build(yamltree.parse(text), "0" * 64)
    assert problems(text) == [str(p) for p in plain.value.problems]


def test_routes_built_while_reading_are_the_routes_of_a_plain_read():
    from fsroute.core import yamltree
    from fsroute.core.grammar import Builder
    streamed = loader.parse(BASE_RULES, "r.yaml")
    plain = Builder("r.yaml").build(yamltree.parse(BASE_RULES), streamed.sha256)
    assert [(r.name, r.line, r.dest.pattern if r.dest else None, r.number, r.acl, r.gateway, r.group)
            for r in streamed.routes] == [
        (r.name, r.line, r.dest.pattern if r.dest else None, r.number, r.acl, r.gateway, r.group)
        for r in plain.routes]


def test_numbers_that_yaml_1_1_would_turn_into_other_numbers_are_read_as_written():
    # YAML 1.1 reads 0044 as octal 36, +44870 as 44870, 1_900 as 1900, 0x1F as 31: the file loaded and
    # dialled, set and watched other numbers than it said
    rules = loader.parse("""\
version: 1
defaults:
  quality: {classes: {uk: [0044]}}
routes:
  - name: uk
    match: {destination_number: '^9(\\\\d+)$'}
    number: 0044$1
    set: {x_prefix: 0044, x_ref: 0x1F}
    gateway: gw1
  - {name: rest, match: {destination_number: '^(\\\\d+)$'}, number: 0044, gateway: gw1}
fraud:
  - {name: premium, prefixes: [+44870, 0044], calls: {block: 5}}
""", "rules.yaml")
    assert rules.routes[1].number == ("0044",)
    assert [(name, value) for name, value in rules.routes[0].dialling.set] == [("x_prefix", ("0044",)),
                                                                                ("x_ref", ("0x1F",))]
    assert rules.fraud[0].prefixes == ("+44870", "0044")  # as if quoted
    assert rules.defaults.quality.classes == (("uk", ("0044",)),)
    with pytest.raises(RulesError):  # YAML 1.1's base-60 float 510.5 is the text '8:30.5' too
        loader.parse("version: 1\ndefaults: {status_ttl: 8:30.5}\nroutes: []\n", "r.yaml")
    with pytest.raises(RulesError) as refused:  # a key that wants a number says so where it stands
        loader.parse("version: 1\ndefaults: {max_attempts: 0x3}\nroutes: []\n", "r.yaml")
    assert str(refused.value.problems[0]).startswith("r.yaml:2:26: defaults.max_attempts must be")
