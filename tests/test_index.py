"""The prefix index decides exactly as a first-match scan over every route would.

Rule sets are generated as YAML text and loaded with ``fsroute.core.loader.parse``,
so the regexes are compiled as in production (re.ASCII). Each generated
pattern comes with an example number it is meant to match, and the numbers
tried are those examples (as is, cut, extended or with one character
changed) plus random text, so matches and near misses both happen.
"""

import re
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsroute.core import router
from fsroute.core import loader, model, routetable
from fsroute.core.index import RouteIndex, literal_prefix
from budget import examples

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Characters numbers are made of: few, so that generated routes and numbers collide.
NUMBER_CHARS = "0124+*#.abAB"
SOURCES = ("127.0.0.1", "127.0.1.1")  # the acl lets the first through, not the second


# -- literal_prefix on known patterns ----------------------------------------------

@pytest.mark.parametrize("pattern, prefix", [
    (r"^00(44\d{6,12})$", "0044"),
    (r"^9(10[01][0-9])$", "910"),
    (r"^(\d+)$", ""),
    (r"^1?23", ""),
    (r"^a|b", ""),
    (r"(?i)^abc", ""),
    (r"^abc", "abc"),
    (r"^\+44(\d+)$", "+44"),
    (r"^(?:00|\+)44", ""),             # alternation anywhere: no prefix
    (r"^00(44)?1", "00"),              # optional group ends the prefix
    (r"^0(?:0)(44)1", "00441"),        # plain groups are walked into
    (r"^1+2", "1"),                    # one 1 at least, then anything
    (r"^12*", "1"),
    (r"^12{2}", "1"),
    (r"^(12)+3", ""),                  # quantified group
    (r"^(?P<cc>44)1", ""),             # named group: stop
    (r"^44(?=1)", "44"),
    (r"^[4]4", ""),
    (r"^\d44", ""),
    (r"^4\.5", "4.5"),
    (r"^0044$", "0044"),
    (r"^(1[)])?2", ""),                # ')' in a class does not close the group
    (r"^(1\))?2", ""),                 # nor does an escaped one
    (r"^(1[)]2)3", "1"),
    (r"^(?i:ab)c", ""),                # scoped flags
    (r"^9(?#trunk)?1001", ""),         # a quantifier after a comment makes the 9 optional
    (r"^12(?#x)3", ""),                # any comment: no prefix (the route is looked at for every number)
    (r"0044", ""),                     # unanchored: a match may start anywhere
    (r"\A0044", ""),
    ("", ""),
])
def test_literal_prefix(pattern, prefix):
    assert literal_prefix(re.compile(pattern, re.ASCII)) == prefix


@pytest.mark.parametrize("flags", [re.IGNORECASE, re.MULTILINE, re.VERBOSE])
def test_literal_prefix_none_under_flags_that_change_literals_or_anchors(flags):
    assert literal_prefix(re.compile("^0044", flags)) == ""


def test_a_route_is_filed_under_its_prefix_and_found_only_by_numbers_that_start_with_it():
    routes = loader.parse("version: 1\nroutes:\n"
                          "  - {name: uk, match: {destination_number: '^00(44\\d{6,12})$'}, gateway: gw1}\n"
                          "  - {name: uk again, match: {destination_number: '^0044(1)'}, gateway: gw2}\n"
                          "  - {name: any, match: {destination_number: '(\\d+)$'}, gateway: gw3}\n",
                          "r.yaml").routes
    uk, uk_again, anything = routes
    assert literal_prefix(uk.dest) == "0044" and literal_prefix(uk_again.dest) == "00441"
    index = RouteIndex(routes)
    assert index.candidates("00441234567") == [uk, uk_again, anything]  # both prefixes, in file order
    assert index.candidates("00449") == [uk, anything]
    assert index.candidates("0441234567") == [anything]
    assert RouteIndex(routes[:2]).candidates("0441234567") == []


# -- generated patterns, each with an example it should match ------------------------

@st.composite
def literal(draw):
    text = draw(st.text(alphabet=NUMBER_CHARS + "()", min_size=1, max_size=4))
    return re.escape(text), text


@st.composite
def digits(draw):
    quantifier, low, high = draw(st.sampled_from([
        ("", 1, 1), ("?", 0, 1), ("*", 0, 3), ("+", 1, 3), ("{2}", 2, 2), ("{0,2}", 0, 2),
        ("{1,3}", 1, 3), ("{6,12}", 6, 12)]))
    return r"\d" + quantifier, draw(st.text(alphabet="0123456789", min_size=low, max_size=high))


@st.composite
def char_class(draw):
    regex, members = draw(st.sampled_from([
        ("[0-9]", "0123456789"), ("[2-9]", "23456789"), ("[ab]", "ab"), ("[^0]", "12a+"),
        ("[+#]", "+#"), ("[]1]", "]1"), ("[)1]", ")1"), (".", "0a+"), (r"[\d*]", "0*"),
    ]))
    return regex, draw(st.sampled_from(members))


@st.composite
def repeated_char(draw):
    char = draw(st.sampled_from("0124aB"))
    quantifier, count = draw(st.sampled_from([("?", 0), ("?", 1), ("*", 0), ("*", 2), ("+", 1),
                                              ("+", 2), ("{2}", 2), ("{1,3}", 1), ("{1,3}", 3),
                                              ("??", 1), ("+?", 1)]))
    return char + quantifier, char * count


@st.composite
def sequence(draw, depth):
    parts = draw(st.lists(element(depth), min_size=1, max_size=3))
    return "".join(r for r, _ in parts), "".join(e for _, e in parts)


@st.composite
def group(draw, depth):
    kind = draw(st.sampled_from(["(", "(", "(?:", "(?:", "(?i:", "(?=", "(?P<g%d>"]))
    if kind == "(?P<g%d>":
        kind %= draw(st.integers(0, 10 ** 9))  # group names must differ
    if draw(st.integers(0, 2)) == 0:  # alternation inside the group
        branches = draw(st.lists(sequence(depth + 1), min_size=2, max_size=3))
        body = "|".join(r for r, _ in branches)
        example = draw(st.sampled_from([e for _, e in branches]))
    else:
        body, example = draw(sequence(depth + 1))
    if kind == "(?=":  # a lookahead matches nothing itself
        return kind + body + ")", ""
    quantifier, times = draw(st.sampled_from([("", 1), ("", 1), ("?", 0), ("?", 1), ("+", 1), ("+", 2),
                                              ("*", 0), ("{0,2}", 0), ("{0,2}", 2), ("{2}", 2)]))
    return kind + body + ")" + quantifier, example * times


def element(depth):
    simple = [literal(), literal(), digits(), char_class(), repeated_char()]
    if depth < 1:
        simple += [group(depth), group(depth)]
    return st.one_of(simple)


@st.composite
def destination_pattern(draw):
    """(regex text, example): anchored or not, groups, alternation, flags, $."""
    body, example = draw(sequence(0))
    if draw(st.integers(0, 3)) > 0:  # most real patterns start with a literal
        lead, lead_example = draw(literal())
        body, example = lead + body, lead_example + example
    anchored = draw(st.sampled_from([True, True, True, False]))
    pattern = ("^" if anchored else "") + body
    if draw(st.booleans()):
        pattern += "$"
    if draw(st.integers(0, 5)) == 0:  # top-level alternation: '^a|b'
        other, other_example = draw(sequence(1))
        pattern += "|" + other
        example = draw(st.sampled_from([example, other_example]))
    flags = draw(st.sampled_from(["", "", "", "", "", "", "(?i)", "(?m)", "(?s)"]))
    if flags == "(?i)":
        example = "".join(c.swapcase() if draw(st.booleans()) else c for c in example)
    if not _compiles(flags + pattern):
        return re.escape(example) or "^", example
    return flags + pattern, example


def _compiles(pattern):
    try:
        re.compile(pattern, re.ASCII)
        return True
    except re.error:
        return False


@st.composite
def route_spec(draw):
    """One route: (destination pattern or None, caller condition or None, acl?, example)."""
    if draw(st.integers(0, 7)) == 0:
        dest, example = None, draw(st.text(alphabet=NUMBER_CHARS, max_size=6))
    else:
        dest, example = draw(destination_pattern())
    caller = draw(st.sampled_from([None, None, None, "^1", "^2", "9$"]))
    acl = draw(st.integers(0, 5)) == 0
    return dest, caller, acl, example


def yaml_quoted(text):
    """A YAML single-quoted scalar: backslashes are literal, a quote is doubled."""
    return "'%s'" % text.replace("'", "''")


def rules_text(specs):
    lines = ["version: 1",
             "acls:",
             "  peers:",
             "    default: deny",
             "    nodes: [{allow: 127.0.0.0/24}]",
             "routes:"]
    for i, (dest, caller, acl, _) in enumerate(specs):
        lines.append("  - name: r%d" % i)
        match = []
        if dest is not None:
            match.append("destination_number: %s" % yaml_quoted(dest))
        if caller is not None:
            match.append("caller_id_number: %s" % yaml_quoted(caller))
        if match:
            lines.append("    match: {%s}" % ", ".join(match))
        if acl:
            lines.append("    acl: peers")
        lines.append("    gateway: gw1")
    return "\n".join(lines) + "\n"


@st.composite
def number_for(draw, examples):
    """A number close to one of the routes' examples, or random text."""
    how = draw(st.sampled_from(["as is", "as is", "longer", "shorter", "changed", "random"]))
    base = draw(st.sampled_from(examples))
    if how == "longer":
        return base + draw(st.text(alphabet=NUMBER_CHARS + "\n", min_size=1, max_size=4))
    if how == "shorter":
        return base[:draw(st.integers(0, max(0, len(base) - 1)))]
    if how == "changed" and base:
        at = draw(st.integers(0, len(base) - 1))
        return base[:at] + draw(st.sampled_from(NUMBER_CHARS)) + base[at + 1:]
    if how == "random":
        return draw(st.text(alphabet=NUMBER_CHARS, max_size=10))
    return base


@st.composite
def rule_set_and_numbers(draw):
    specs = draw(st.lists(route_spec(), min_size=1, max_size=8))
    examples = [example for _, _, _, example in specs]
    numbers = draw(st.lists(number_for(examples), min_size=1, max_size=12))
    return specs, numbers


def matching(routes, number):
    """Names of the routes whose destination regex matches ``number``, in the given order."""
    return [r.name for r in routes if r.dest is None or r.dest.search(number)]


def linear_find(ruleset, get, destination, source):
    """The reference: every route in file order, first one whose conditions and acl hold."""
    refused = None
    for route in ruleset.routes:
        if route.dest is not None and not route.dest.search(destination):
            continue
        if not all(regex.search(get(name) or "") for name, regex in route.conditions):
            continue
        if route.acl is not None and not ruleset.acls[route.acl].allows(source):
            refused = refused or route
            continue
        return route, None
    return None, refused


def parse(text, packed):
    """The rule set of ``text``; ``packed``: its routes stored as a big set's are (routetable.py)."""
    with mock.patch.object(routetable, "PACK_FROM", 0 if packed else routetable.PACK_FROM):
        ruleset = loader.parse(text)
    assert isinstance(ruleset.routes, routetable.RouteTable) == packed
    return ruleset


@settings(max_examples=examples(1000), **SETTINGS)
@given(rule_set_and_numbers(), st.sampled_from(["1000", "2000", "9"]), st.sampled_from(SOURCES), st.booleans())
def test_index_gives_what_a_linear_scan_gives(case, caller, source, packed):
    specs, numbers = case
    ruleset = parse(rules_text(specs), packed)
    positions = {r.name: i for i, r in enumerate(ruleset.routes)}
    variables = {"caller_id_number": caller}
    for number in numbers:
        candidates = ruleset.index.candidates(number)
        order = [positions[r.name] for r in candidates]
        assert order == sorted(set(order)), "candidates out of file order or repeated"
        # Every matching route is a candidate (so the first match is the same too).
        assert matching(candidates, number) == matching(ruleset.routes, number)
        assert matching(candidates, number)[:1] == matching(ruleset.routes, number)[:1]
        variables["destination_number"] = number
        route, match, refused = router.find_route(ruleset, variables.get, number, source)
        assert (route, refused) == linear_find(ruleset, variables.get, number, source)
        if route is not None and route.dest is not None:
            assert match.group(0) == route.dest.search(number).group(0)


# -- carrier-like tables: many overlapping digit prefixes -----------------------------

@st.composite
def prefix_table(draw):
    """Digit prefixes that nest (4, 44, 441...), some routes without a usable prefix."""
    roots = draw(st.lists(st.text(alphabet="0124", min_size=1, max_size=2), min_size=1, max_size=5))
    patterns = []
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.integers(0, 9))
        prefix = draw(st.sampled_from(roots)) + draw(st.text(alphabet="0124", max_size=3))
        low = draw(st.integers(0, 3))
        if kind == 0:
            patterns.append(r"^(\d{%d,%d})$" % (low, low + 3))        # no prefix: everywhere
        elif kind == 1:
            patterns.append(r"^\+?%s" % prefix)                       # optional plus: no prefix
        else:
            patterns.append(r"^00(%s\d{%d,%d})$" % (prefix, low, low + 2))
    numbers = draw(st.lists(
        st.builds(lambda root, rest: "00" + root + rest, st.sampled_from(roots),
                  st.text(alphabet="0124", max_size=7)), min_size=1, max_size=20))
    return patterns, numbers


@settings(max_examples=examples(300), **SETTINGS)
@given(prefix_table(), st.booleans())
def test_index_on_carrier_like_tables(table, packed):
    patterns, numbers = table
    specs = [(pattern, None, False, "") for pattern in patterns]
    ruleset = parse(rules_text(specs), packed)
    for number in numbers:
        assert matching(ruleset.index.candidates(number), number) == matching(ruleset.routes, number)


def test_index_keeps_file_order_across_prefixes_and_catch_alls():
    specs = [(r"^(\d+)$", None, False, ""), (r"^0044(\d+)$", None, False, ""),
             (r"^00(\d+)$", None, False, ""), (r"^004(\d+)$", None, False, ""), (None, "^1", False, "")]
    ruleset = loader.parse(rules_text(specs))
    assert [r.name for r in ruleset.index.candidates("00441")] == ["r0", "r1", "r2", "r3", "r4"]
    assert [r.name for r in ruleset.index.candidates("0033")] == ["r0", "r2", "r4"]
    assert [r.name for r in ruleset.index.candidates("")] == ["r0", "r4"]


def test_route_index_accepts_plain_route_tuples():
    routes = [model.Route("a", 1, re.compile(r"^12(\d)$", re.ASCII), (), None, None, "gw1", None),
              model.Route("b", 2, None, (), None, None, "gw1", None)]
    index = RouteIndex(routes)
    assert [r.name for r in index.candidates("123")] == ["a", "b"]
    assert [r.name for r in index.candidates("13")] == ["b"]
