"""Routes read from their name and regex alone (sections/routes.read_alike_route) are the routes
read_route makes, and a problem in one is reported where it is, as if every route were read in full."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsroute.core import grammar, loader
from fsroute.core.model import RulesError

HEAD = ("version: 1\ndefaults: {profile: external}\nacls: {peers: {default: allow}}\n"
        "groups: {carrier: {gateways: [gw1, gw2]}}\nroutes:\n")


GOOD = {  # a route of each may still be refused: '$1' of a regex without a group
    "name": [None],  # a fresh name
    "regex": ["^00(44\\d+)$", "^(1)(2)(\\d+)$", "^9\\d+$", "^\\+(\\d{7,15})$"],
    "number": ["number: '$1'", "number: '44$1'", None],
    "action": ["gateway: gw1", "group: carrier", "hangup: USER_BUSY", "gateway: '${dest_gw}'"],
    "acl": [None, "acl: peers"],
}
BAD = {
    "name": ['say "hi"', "x" * 129, "tab\there", ""],
    "regex": ["^00(33", ""],
    "number": ["number: '$2'", "number: 1", "number: true"],
    "action": ["gateway: bad/name", "group: nogroup", "hangup: NOT_A_CAUSE", "max_attempts: 2", None],
    "acl": ["acl: none_such"],
}


def routes(bad_odds):
    """Lists of (name, regex, tail); each value is one of BAD's once in ``bad_odds``, else GOOD's."""
    def pick(field):
        if not bad_odds:
            return st.sampled_from(GOOD[field])
        return st.one_of(*[st.sampled_from(GOOD[field])] * (bad_odds - 1) + [st.sampled_from(BAD[field])])
    tail = st.tuples(pick("number"), pick("action"), pick("acl"))
    return st.lists(st.tuples(pick("name"), pick("regex"), tail), min_size=1, max_size=6)


def route_text(name, regex, tail):
    lines = ["  - name: '%s'" % name, "    match: {destination_number: '%s'}" % regex]
    return "\n".join(lines + ["    " + line for line in tail]) + "\n"


def outcome(text):
    """The routes the text loads to, or its problems."""
    try:
        ruleset = loader.parse(text, "rules.yaml")
    except RulesError as exc:
        return [str(p) for p in exc.problems]
    return [ruleset.routes[i] for i in range(len(ruleset.routes))]


def loads_the_same_either_way(routes, repeat):
    # Routes that differ only in name and regex are what the shortcut serves: the list again, new names.
    items = [("r%d" % i if name is None else name, regex, [line for line in tail if line])
             for i, (name, regex, tail) in enumerate(routes * (repeat + 1))]
    text = HEAD + "".join(route_text(*item) for item in items)
    fast = outcome(text)
    real = grammar.read_alike_route
    grammar.read_alike_route = lambda *args: None
    try:
        full = outcome(text)
    finally:
        grammar.read_alike_route = real
    assert fast == full


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(routes(0), st.integers(0, 2))
def test_good_routes_load_the_same_with_and_without_reading_alike_routes(routes, repeat):
    loads_the_same_either_way(routes, repeat)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(routes(5), st.integers(0, 2))
def test_files_with_problems_load_the_same_with_and_without_reading_alike_routes(routes, repeat):
    loads_the_same_either_way(routes, repeat)


@pytest.mark.parametrize("name, regex, problem", [
    ('r"5', "^00(445\\d+)$", "26:11: route name must be one printable line of at most 128 characters, "
                             "without '\"' (it goes into log lines and channel variables)"),
    ("r" * 129, "^00(445\\d+)$", "26:11: route name must be one printable line of at most 128 characters, "
                                "without '\"' (it goes into log lines and channel variables)"),
    ("r5", "^00(445", "27:33: route 'r5' match destination_number: bad regex '^00(445': "
                      "missing ), unterminated subpattern"),
    ("r5", "^00445\\d+$", "28:13: route 'r5' number uses $1 but the destination_number regex has 0 groups"),
])
def test_the_one_bad_route_among_alike_routes_is_reported_at_its_line(name, regex, problem):
    good = "".join(route_text("r%d" % i, "^00(44%d\\d+)$" % i, ["number: '$1'", "gateway: gw1"])
                   for i in range(5))
    problems = outcome(HEAD + good + route_text(name, regex, ["number: '$1'", "gateway: gw1"]))
    assert problems[0] == "rules.yaml:" + problem
    assert len(problems) == (2 if "bad regex" in problem else 1)  # and its '$1' of no regex


def test_alike_routes_share_their_tail_but_keep_their_own_name_line_and_regex():
    text = HEAD + "".join(route_text("r%d" % i, "^00(44%d\\d+)$" % i, ["number: '$1'", "group: carrier"])
                          for i in range(3))
    routes = outcome(text)
    assert [(r.name, r.line, r.dest.pattern, r.number, r.group) for r in routes] == [
        ("r%d" % i, HEAD.count("\n") + 1 + 4 * i, "^00(44%d\\d+)$" % i, (1,), "carrier") for i in range(3)]
