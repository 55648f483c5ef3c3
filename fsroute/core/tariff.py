"""One deck row's price (rate, connect fee, increments) and what a call of some length costs at it.

The arithmetic is billing.call_cost's; this module only reads a row's three
prices out of a Deck's columns and says in words how a cost was reached, so
that ``fsroute lcr``, explanations and replays show the same computation.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

from .billing import PER_SECOND, billed_seconds, call_cost
from .decks import Deck, rate_text


class Tariff(NamedTuple):
    """A deck row's prices: ``rate`` per minute and ``connect_fee`` in micro-units, billing ``increments``."""
    rate: int
    connect_fee: int
    increments: Tuple[int, int]

    def cost(self, seconds: int) -> int:
        """Micro-units for an answered call of ``seconds`` (billing.call_cost)."""
        return call_cost(self.rate, self.connect_fee, self.increments, seconds)

    def explain(self, seconds: int) -> str:
        """How the cost of ``seconds`` is reached: '0.01 + 0.03/min x 120 s billed (60/60) = 0.07'."""
        fee = "%s + " % rate_text(self.connect_fee) if self.connect_fee else ""
        return "%s%s/min x %d s billed (%d/%d) = %s" % (
            fee, rate_text(self.rate), billed_seconds(seconds, self.increments), self.increments[0],
            self.increments[1], rate_text(self.cost(seconds)))


def tariff_at(deck: Deck, row: int) -> Tariff:
    """Row ``row``'s Tariff; a row without increments is billed by the second, without a fee it has none."""
    fee = deck.fees[row] if deck.fees is not None else 0
    increments = PER_SECOND
    if deck.increments is not None and deck.increments[2 * row]:
        increments = (deck.increments[2 * row], deck.increments[2 * row + 1])
    return Tariff(deck.rates[row], fee, increments)
