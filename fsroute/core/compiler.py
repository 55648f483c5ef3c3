"""Compiling a RuleSet: what calls read the plain records through, built once after the grammar.

The index files routes by destination prefix; Moments holds the time
conditions' verdicts of the current second. Neither is part of what the
file says, so the records (model.py) know nothing of them.
"""

from __future__ import annotations

from .calendars import Moments
from .index import RouteIndex
from .model import RuleSet


def compile_rules(rules: RuleSet) -> RuleSet:
    """``rules`` with its index and time verdicts in place (returned for chaining)."""
    rules.index = RouteIndex(rules.routes)
    rules.moments = Moments()
    return rules
