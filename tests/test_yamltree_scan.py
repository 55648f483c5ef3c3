"""The list of routes read line by line (yamltree.scan_block) gives the very tree libyaml's events give.

A big rules file is read that way, so any difference would change what a
file means: every text here is parsed both ways and compared node by node
(kind, value, line, column), whether the scanner took it or left it to libyaml.
"""

import pytest

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
    try:
        events = flat(yamltree.parse_events(text, FOLD))
    except yamltree.YamlProblem as exc:
        with pytest.raises(yamltree.YamlProblem) as fast:
            yamltree.parse(text, FOLD)
        assert (fast.value.line, fast.value.col, fast.value.message) == (exc.line, exc.col, exc.message)
        return
    assert flat(yamltree.parse(text, FOLD)) == events


@pytest.mark.parametrize("text", [
    HEAD + "routes:\n  - name: a\n    gateway: gw1\nroutes:\n  - name: b\n    gateway: gw1\n",  # routes twice
    HEAD + "note: \"x\nroutes:\n  - name: a\n    gateway: gw1\n\"\nroutes: []\n",  # 'routes:' inside a string
    HEAD + "routes:\n- name: a\n  gateway: gw1\n",                    # the list at column 1
    "routes:\n  - name: a\n    gateway: gw1\n---\nversion: 1\n",       # a second document
])
def test_what_only_the_whole_file_can_tell_is_left_to_libyaml(text):
    assert not scanned(text)
    try:
        events = flat(yamltree.parse_events(text, FOLD))
    except yamltree.YamlProblem:
        with pytest.raises(yamltree.YamlProblem):
            yamltree.parse(text, FOLD)
        return
    assert flat(yamltree.parse(text, FOLD)) == events


def test_items_are_folded_as_they_are_read():
    seen = []
    text = HEAD + "routes:\n" + "".join("  - name: r%d\n    gateway: gw1\n" % i for i in range(5))
    root = yamltree.parse(text, ("routes", lambda node: seen.append(node.line) or node.line))
    assert seen == [4, 6, 8, 10, 12]
    assert [v for k, v in root.pairs() if k.value == "routes"][0].value == seen
