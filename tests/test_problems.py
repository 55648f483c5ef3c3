"""Problems as an operator reads them: in line order, naming the route, one per mistake, with a suggestion."""

import pytest

from fsroute.core import loader
from fsroute.core.model import Problem, RulesError


def problems(text, filename="r.yaml"):
    with pytest.raises(RulesError) as caught:
        loader.parse(text, filename)
    return [str(p) for p in caught.value.problems]


def test_problems_come_in_line_order():
    text = ("version: 1\nroutes:\n  - {name: r, group: nosuch}\n"
            "groups:\n  g: {strategy: fastest, gateways: [gw1]}\n")
    assert problems(text) == [
        "r.yaml:3:22: route 'r': no group named 'nosuch'",
        "r.yaml:5:17: group 'g': unknown strategy 'fastest' (expected one of: weighted_round_robin, "
        "weighted_random, hash_caller, hash_destination, priority, least_calls)",
    ]


def test_a_bad_strategy_is_not_also_a_missing_group():
    text = "version: 1\ngroups:\n  g: {strategy: priorty, gateways: [gw1]}\nroutes:\n  - {name: r, group: g}\n"
    assert problems(text) == ["r.yaml:3:17: group 'g': unknown strategy 'priorty' (did you mean 'priority'?)"]


def test_a_broken_acl_is_not_also_a_missing_acl():
    text = ("version: 1\nacls:\n  peers: {default: maybe}\ningress_acl: peers\n"
            "routes:\n  - {name: r, acl: peers, gateway: gw1}\n")
    assert problems(text) == ["r.yaml:3:20: acl 'peers': default must be 'allow' or 'deny'"]


def test_a_misspelt_gateway_key_is_one_problem_naming_the_route():
    text = "version: 1\nroutes:\n  - name: premium block\n    gatway: gw1\n"
    assert problems(text) == ["r.yaml:4:5: route 'premium block': unknown key 'gatway' (did you mean 'gateway'?)"]


def test_a_misspelt_name_key_is_not_also_a_missing_name():
    text = "version: 1\nroutes:\n  - {nmae: r, gateway: gw1}\n"
    assert problems(text) == ["r.yaml:3:6: a route: unknown key 'nmae' (did you mean 'name'?)"]


def test_a_route_naming_neither_or_both_is_still_reported():
    text = "version: 1\nroutes:\n  - {name: a}\n  - {name: b, gateway: gw1, group: g}\ngroups: {g: {gateways: [x]}}\n"
    assert problems(text) == [
        "r.yaml:3:5: route 'a' must name exactly one of 'gateway', 'group' or 'lcr' (it names neither)",
        "r.yaml:4:5: route 'b' must name exactly one of 'gateway', 'group' or 'lcr' (it names gateway and group)",
    ]


def test_unknown_names_suggest_the_closest():
    text = ("version: 1\nacls:\n  trunk_peers: {default: deny}\ngroups:\n  gw_group_1: {gateways: [gw1]}\n"
            "ingress_acl: trunk_peer\nroutes:\n  - {name: r, acl: trunk_pers, group: gw_grup_1}\n"
            "  - {name: s, group: zzz}\n")
    assert problems(text) == [
        "r.yaml:6:14: ingress_acl: no acl named 'trunk_peer' (did you mean 'trunk_peers'?)",
        "r.yaml:8:20: route 'r': no acl named 'trunk_pers' (did you mean 'trunk_peers'?)",
        "r.yaml:8:39: route 'r': no group named 'gw_grup_1' (did you mean 'gw_group_1'?)",
        "r.yaml:9:22: route 's': no group named 'zzz'",
    ]


def test_unknown_top_level_key_suggests_the_closest():
    assert problems("version: 1\nroute:\n  - {name: r, gateway: gw1}\n") == [
        "r.yaml:2:1: the rules file: unknown key 'route' (did you mean 'routes'?)"]


def test_a_bad_regex_is_echoed_as_written():
    text = "version: 1\nroutes:\n  - {name: r, match: {destination_number: '^(\\d+$'}, gateway: gw1}\n"
    assert problems(text) == ["r.yaml:3:43: route 'r' match destination_number: bad regex '^(\\d+$': "
                              "missing ), unterminated subpattern"]


@pytest.mark.parametrize("text, line", [("version: 1\nroutes:\n\t- {name: r, gateway: gw1}\n", 3),
                                        ("version: 1\nroutes:\n  - name: r\n\t  gateway: gw1\n", 4)])
def test_a_tab_in_indentation_is_explained(text, line):
    [problem] = problems(text)
    assert problem.startswith("r.yaml:%d:" % line)
    assert problem.endswith(": YAML does not allow tabs for indentation; use spaces")


def test_an_unreadable_file_is_reported_without_a_line(tmp_path):
    path = str(tmp_path / "missing.yaml")
    with pytest.raises(RulesError) as caught:
        loader.load(path)
    assert str(caught.value) == "%s: error: cannot read the rules file: No such file or directory" % path


def test_problems_with_a_line_keep_file_line_col():
    assert str(Problem("r.yaml", 3, 7, "x")) == "r.yaml:3:7: x"
    assert str(Problem("r.yaml", 0, 0, "x")) == "r.yaml: error: x"
