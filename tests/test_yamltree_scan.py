"""The list of routes read line by line (yamltree.scan_block) gives the very tree libyaml's events give.

A big rules file is read that way, so any difference would change what a
file means: every text here is parsed both ways and compared node by node
(kind, value, line, column), whether the scanner took it or left it to libyaml.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsroute.core import yamltree
from fsroute.core.yamltree import SCALAR, Node

FOLD = ("routes", lambda node: node)
HEAD = "version: 1\ndefaults: {profile: external}\n"


def flat(root):
    """The tree as a list: (kind, line, col, scalar value or container size), depth first."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, Node):
            out.append(node)
            continue
        out.append((node.kind, node.line, node.col, node.value if node.kind == SCALAR else len(node.value)))
        if node.kind != SCALAR:
            stack.extend(reversed(node.value))
    return out


def both(text):
    return flat(yamltree.parse(text, FOLD)), flat(yamltree.parse_events(text, FOLD))


def assert_same_either_way(text):
    """The same tree both ways, or the same problem at the same place."""
    try:
        events = flat(yamltree.parse_events(text, FOLD))
    except yamltree.YamlProblem as exc:
        with pytest.raises(yamltree.YamlProblem) as fast:
            yamltree.parse(text, FOLD)
        assert (fast.value.line, fast.value.col, fast.value.message) == (exc.line, exc.col, exc.message)
        return
    assert flat(yamltree.parse(text, FOLD)) == events


def scanned(text):
    return yamltree._parse_scanning(text, FOLD) is not None


COMMON = HEAD + """routes:
  # a comment, then a blank line

  - name: to 4420
    match: {destination_number: '^00(4420\\d{5,11})$'}
    number: '$1'
    gateway: gw1   # trailing comment
  - name: 'quoted, with: colon # and hash'
    match:
      destination_number: '^1(\\d+)$'
      caller_id_number: '^\\+44'
    group: carrier_wrr
  -   name: odd spacing is left to libyaml
    gateway: gw1
groups: {carrier_wrr: {gateways: [gw1]}}
"""


def test_the_common_shape_is_scanned_and_gives_the_same_tree():
    text = COMMON.replace("  -   name: odd spacing is left to libyaml\n    gateway: gw1\n", "")
    assert scanned(text)
    fast, events = both(text)
    assert fast == events


@pytest.mark.parametrize("routes", [
    "  - name: a\n    gateway: gw1\n",                                  # plain
    "  - {name: a, gateway: gw1}\n",                                     # a flow item: libyaml
    "    - name: a\n      gateway: gw1\n    - name: b\n      group: g\n",  # deeper indentation
    "  - name: a\n    gateway: yes\n",                                   # a bool, not a name
    "  - name: a\n    on: gw1\n",                                        # a bool key
    "  - name: a\n    gateway: gw1#x\n",                                 # '#' without a space is text
    "  - name: a\n    gateway: gw1 #x\n",                                # with one, a comment
    "  - name: 'it''s'\n    gateway: gw1\n",                             # an escaped quote
    "  - name: a\n    gateway:\tgw1\n",                                  # a tab
    "  - name: a\r\n    gateway: gw1\r\n",                               # CRLF
    "  - name: a\n    match:\n    gateway: gw1\n",                       # match: null
    "  - name: a\n    match:\n        destination_number: '^1$'\n    gateway: gw1\n",  # deeper nesting
    "  - name: a\n    match: {destination_number: '^1$', }\n    gateway: gw1\n",      # trailing comma
    "  - name: a\n    match: {destination_number: '^1$'} # c\n    gateway: gw1\n",
    "  - name: a\n    name: b\n    gateway: gw1\n",                      # a key twice: the builder says so
    "  - name: a\n    gateway: gw1\n  # caf\u00e9\n",                     # a non-ASCII comment
    "  - name: a\n    gateway: gw\x01\n",                                # a control character
    "  - name: to\n      4420\n    gateway: gw1\n",                      # a plain scalar over two lines
    "  - name: a\n   gateway: gw1\n",                                    # a key out of line
    "  - name: a\n     gateway: gw1\n",
    "  - name: a\n    gateway: &g gw1\n  - name: b\n    gateway: *g\n",  # anchors and aliases
    "  - name: a\n    gateway: !!str gw1\n",                             # a tag
    "  - name: a\n    number: 0044\n    gateway: gw1\n",                 # a number
    "  - name: a\n    gateway: \"gw1\"\n",                               # double quotes
    "  - name: a\n    gateway: gw1\n  - name: b\n",                      # the last item short
    "  - name: a\n    gateway: gw1\n - name: b\n   gateway: gw1\n",      # items out of line
    "\n",                                                                 # no items
])
def test_every_text_reads_the_same_either_way(routes):
    text = HEAD + "routes:\n" + routes + "groups: {g: {gateways: [gw1]}}\n"
    assert_same_either_way(text)


@pytest.mark.parametrize("text", [
    HEAD + "routes:\n  - name: a\n    gateway: gw1\nroutes:\n  - name: b\n    gateway: gw1\n",  # routes twice
    HEAD + "note: \"x\nroutes:\n  - name: a\n    gateway: gw1\n\"\nroutes: []\n",  # 'routes:' inside a string
    HEAD + "routes:\n- name: a\n  gateway: gw1\n",                    # the list at column 1
    "routes:\n  - name: a\n    gateway: gw1\n---\nversion: 1\n",       # a second document
])
def test_what_only_the_whole_file_can_tell_is_left_to_libyaml(text):
    assert not scanned(text)
    assert_same_either_way(text)


def test_items_are_folded_as_they_are_read():
    seen = []
    text = HEAD + "routes:\n" + "".join("  - name: r%d\n    gateway: gw1\n" % i for i in range(5))
    root = yamltree.parse(text, ("routes", lambda node: seen.append(node.line) or node.line))
    assert seen == [4, 6, 8, 10, 12]
    assert [v for k, v in root.pairs() if k.value == "routes"][0].value == seen


# -- generated lists: every line the scanner might meet, in any order --------------------------

KEYS = ["name", "match", "number", "gateway", "group", "acl", "on", "yes", "null", "x y", "a:b", "_k", "K9"]
VALUES = ["gw1", "to 4420", "a  b", "yes", "No", "null", "~", "true", "0044", "1.5", "-x", "a#b", "a #b",
          "'q'", "'it''s'", "'#'", "''", "'a: b'", "\"dq\"", "{destination_number: '^1$'}",
          "{destination_number: '^1$', caller_id_number: '^2'}", "{a: 'x', }", "{}", "[a, b]", "&x a",
          "*x", "!!str a", "|", ">", "caf\u00e9", "a\tb", "(x)", "a/b+c", ".inf", "_under", "x:", "", "   "]
LINE = st.one_of(
    st.tuples(st.sampled_from(["- ", ""]), st.sampled_from(KEYS), st.sampled_from(VALUES),
              st.sampled_from(["", " # c", "  ", "#c"]), st.integers(0, 3)).map(
        lambda t: " " * (2 * t[4]) + t[0] + t[1] + ":" + (" " + t[2] if t[2] else "") + t[3]),
    st.sampled_from(["", "  # comment", "#", "   ", "    destination_number: '^1$'", "      x: 'y'"]),
)


GOOD_KEYS = ["name", "match", "number", "gateway", "group", "acl"]
GOOD_VALUES = ["gw1", "to 4420", "a  b", "'q'", "'#'", "''", "'a: b'", "(x)", "a/b+c", "_under",
               "{destination_number: '^1$'}", "{destination_number: '^1$', caller_id_number: '^2'}"]
PAIR = st.tuples(st.sampled_from(GOOD_KEYS + KEYS[6:8]), st.sampled_from(GOOD_VALUES * 3 + VALUES))
ITEM = st.lists(PAIR, min_size=1, max_size=5)


def render(items, indent, nested, extra, at):
    """Block list lines: each item's pairs, 'match' now and then as a block mapping, ``extra`` put at ``at``."""
    lines = []
    for number, pairs in enumerate(items):
        for k, (key, value) in enumerate(pairs):
            lead = " " * indent + ("- " if k == 0 else "  ")
            if key == "match" and nested and value.startswith("{") and value.endswith("}") and len(value) > 2:
                lines.append(lead + "match:")
                lines.extend(" " * (indent + 4) + pair for pair in value[1:-1].split(", "))
            else:
                lines.append(lead + key + ": " + value)
    if extra is not None:
        lines.insert(at % (len(lines) + 1), extra)
    return lines


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ITEM, min_size=1, max_size=6), st.integers(1, 4), st.booleans(), st.one_of(st.none(), LINE),
       st.integers(0, 40), st.sampled_from(["", "groups: {g: {gateways: [gw1]}}\n"]))
def test_generated_lists_read_the_same_either_way(items, indent, nested, extra, at, tail):
    text = HEAD + "routes:\n" + "\n".join(render(items, indent, nested, extra, at)) + "\n" + tail
    assert_same_either_way(text)


def test_a_flow_mapping_at_the_top_is_left_to_libyaml():
    # a block list inside {...} is not YAML; the scanner read it, left 'routes: []' behind, and the
    # rewritten text was YAML: a file libyaml refuses loaded
    text = "{version: 1,\nroutes:\n  - name: 'x'\n    gateway: gw1\n}\n"
    assert not scanned(text)
    assert_same_either_way(text)
    with pytest.raises(yamltree.YamlProblem):
        yamltree.parse(text, FOLD)
