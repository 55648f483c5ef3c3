"""Fraud rules, decided: which rules watch a call, under which key, and which levels a new count reaches.

Pure: the counts live in the runtime (runtime/fraud.py: this switch's, and
Redis for a fleet), the clock is the caller's. A level is *reached* when a
count goes from below it to at or above it: each crossing is one warning
or one block, so a count that keeps rising in one window warns once.
"""

from __future__ import annotations

from typing import Iterable, List, NamedTuple, Optional, Tuple

from .billing import call_cost, increments_of
from .calendars import Moment
from .decks import Rate
from .model import FraudRule
from .tablerows import TableOf

WARN, BLOCK = "warn", "block"


class Watched(NamedTuple):
    """One rule watching one call: what it counts under."""
    rule: str
    key: str
    account: str


class FraudCall(NamedTuple):
    """What the call record carries for ``ended``: the rules that counted the call, and what prices it."""
    watched: Tuple[Watched, ...]
    talk_seconds: Optional[float] = None  # answered calls: from the answer to the bridge's end
    rate: Optional[Rate] = None           # the least-cost rate of the carrier that carried it


class Reached(NamedTuple):
    """A level a count reached: what the warning, the block, the event and the log line say."""
    rule: str
    key: str          # the account, or account/number with per: account+destination
    level: str        # WARN or BLOCK
    measure: str
    value: float      # in the measure's unit: calls, seconds (minutes), micro-units (spend)
    threshold: float


def watching(rules: Iterable[FraudRule], route: Optional[str], number: str, moment: Optional[Moment],
             table_of: Optional[TableOf] = None, now: float = 0.0) -> List[FraudRule]:
    """The rules that watch a call of ``route`` to ``number`` at ``moment`` (None: an untimed call,
    which a rule with time conditions does not watch). A rule naming a table watches the numbers with a
    row in force at ``now`` in the generation's loaded table (``table_of``; one not loaded has no rows)."""
    out = []
    for rule in rules:
        if rule.routes and route not in rule.routes:
            continue
        if rule.prefixes and not number.startswith(rule.prefixes):
            continue
        if (rule.when or rule.unless or rule.when_any) and (moment is None or not moment.allows(rule)):
            continue
        if rule.table is not None and not _listed(table_of, rule.table, number, now):
            continue
        out.append(rule)
    return out


def _listed(table_of: Optional[TableOf], name: str, number: str, now: float) -> bool:
    bound = table_of(name) if table_of is not None else None
    return bound is not None and bound.find(number, now)[0] >= 0


def key_of(rule: FraudRule, account: str, number: str) -> str:
    """What the rule counts under: the account, or account and number dialled."""
    return "%s/%s" % (account, number) if rule.per_destination else account


def window_of(rule: FraudRule, now: float) -> int:
    """The number of the rule's fixed window holding ``now`` (windows start at multiples of its length)."""
    return int(now // rule.window)


def reached(rule: FraudRule, key: str, measure: str, before: float, after: float) -> List[Reached]:
    """The levels of ``measure`` a count passed going from ``before`` to ``after`` (block first)."""
    out = []
    for threshold in rule.thresholds:
        if threshold.measure != measure:
            continue
        for level, value in ((BLOCK, threshold.block), (WARN, threshold.warn)):
            if value is not None and before < value <= after:
                out.append(Reached(rule.name, key, level, measure, after, value))
    return out


def measures(rule: FraudRule) -> Tuple[str, ...]:
    """The measures the rule has levels for."""
    return tuple(t.measure for t in rule.thresholds)


def spend(rule: FraudRule, rate: Optional[Rate], seconds: int) -> Optional[int]:
    """Micro-units a call of ``seconds`` cost under the rule: at its own rate when it names one, else at
    the least-cost rate of the carrier that carried it; None when neither is known."""
    if rule.rate is not None:
        return call_cost(rule.rate, rule.connect_fee, rule.increments, seconds)
    if rate is None:
        return None
    return call_cost(rate.rate, rate.connect_fee, increments_of(rate.increments), seconds)


def describe(found: Reached) -> str:
    """A reached level in words, in the measure's own unit."""
    return "%s %s of %s reached %s (%s)" % (found.rule, found.level, found.key, found.measure,
                                            amount(found.measure, found.value, found.threshold))


def amount(measure: str, count: float, threshold: float) -> str:
    """'<count>/<threshold> <unit>' as people read it (minutes, money, calls)."""
    value, unit = in_unit(measure, count)
    level, _ = in_unit(measure, threshold)
    return "%s/%s%s" % (value, level.rstrip("0").rstrip(".") if "." in level else level, unit)


def in_unit(measure: str, value: float) -> Tuple[str, str]:
    """(the number, its unit) of a count: minutes from seconds, money from micro-units, whole calls."""
    if measure == "minutes":
        return "%.1f" % (value / 60), " min"
    if measure == "spend":
        return "%.4f" % (value / 1e6), ""
    return "%d" % value, ""
