"""Lazily compiled route regexes: what the plain-shape scanner accepts surely compiles, with the same groups."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsroute.core.patterns import FLAGS, LazyPattern, compile_route_regex, simple_groups
from budget import examples

TOKENS = ["^", "$", "0", "9", "4", "a", "Z", "#", "_", "-", "\\d", "\\+", "\\*", "\\.", "\\w", "\\1",
          "(", ")", "(?:", "(?i)", "(?P<x>", "?", "*", "+", "{2}", "{6,12}", "{3,}", "{5,2}", "{,4}", "{",
          "[0-9]", "[1-35]", "[a-f]", "[9-0]", "[]", "[^0]", "|", ".", " ", "é"]


@settings(max_examples=examples(3000), deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14), st.text(alphabet="0123456789+#abZ", max_size=12))
def test_accepted_patterns_compile_with_the_same_groups_and_matches(tokens, number):
    pattern = "".join(tokens)
    groups = simple_groups(pattern)
    if groups is None:
        return
    compiled = re.compile(pattern, FLAGS)  # must not raise
    assert compiled.groups == groups
    lazy = LazyPattern(pattern, groups)
    found, expected = lazy.search(number), compiled.search(number)
    assert (found and found.group(0)) == (expected and expected.group(0))


@pytest.mark.parametrize("pattern, groups", [
    ("^00(44\\d{6,12})$", 1), ("^9(10[01][0-9])$", 1), ("^(\\d+)$", 1), ("^\\+(\\d{7,15})$", 1),
    ("^(?:00|\\+)", None), ("^1?23", 0), ("(a)(b)", 2), ("^a|b", None), ("(?i)^abc", None),
    ("^((((((((((1))))))))))$", None), ("^(1", None), ("^1)", None), ("^*1", None), ("^1**", None),
])
def test_plain_shapes(pattern, groups):
    assert simple_groups(pattern) == groups


def test_other_patterns_are_compiled_at_once_and_errors_surface_at_load():
    assert isinstance(compile_route_regex("^00(44\\d{6,12})$"), LazyPattern)
    assert isinstance(compile_route_regex("^(a|b)$"), re.Pattern)
    with pytest.raises(re.error):
        compile_route_regex("^(a|b$")


@settings(max_examples=examples(2000), deadline=None)
@given(st.sampled_from(["", "\\+"]), st.text(alphabet="0123456789", max_size=6),
       st.text(alphabet="0123456789", max_size=6),
       st.one_of(st.sampled_from(["+", "*"]), st.tuples(st.integers(0, 20), st.integers(0, 20))
                 .map(lambda bounds: "{%d,%d}" % bounds)),
       st.text(alphabet="0123456789+", max_size=20))
def test_the_usual_shape_read_in_one_match_agrees_with_the_scanners(outer, inner, ahead, quantifier, number):
    from fsroute.core.index import literal_prefix
    pattern = "^%s%s(%s\\d%s)$" % (outer, ahead, inner, quantifier)
    try:
        slow = re.compile(pattern, FLAGS)
    except re.error:
        with pytest.raises(re.error):  # {9,3}: refused at load, as by the scanners
            compile_route_regex(pattern)
        return
    fast = compile_route_regex(pattern)
    assert isinstance(fast, LazyPattern) and fast.prefix is not None
    assert fast.groups == simple_groups(pattern) == slow.groups
    assert fast.prefix == literal_prefix(LazyPattern(pattern, fast.groups))  # what the scanner reads
    found, expected = fast.search(number), slow.search(number)
    assert (found.group(0, 1) if found else None) == (expected.group(0, 1) if expected else None)
    if found:
        assert number.startswith(fast.prefix)
