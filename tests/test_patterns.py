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
