"""Compiling a RuleSet: what calls read the plain records through, built once after the grammar.

The index files routes by destination prefix; Moments holds the time
conditions' verdicts of the current second; a big set's routes are stored
out of the garbage collector's sight (routetable.py). None of it is part of
what the file says, so the records (model.py) know nothing of them.
"""

from __future__ import annotations

from .calendars import Moments
from .index import RouteIndex
from .model import RuleSet
from .routetable import stored


def compile_rules(rules: RuleSet) -> RuleSet:
    """``rules`` with its index and time verdicts in place (returned for chaining)."""
    routes = list(rules.routes)
    rules.routes = ()
    rules.index = RouteIndex(routes)  # prefixes read from the routes as built
    rules.routes = stored(routes)  # a big set's plain routes out of the collector's sight
    rules.index.read_from(rules.routes)
    rules.moments = Moments()
    return rules
