"""Least-cost routing for one number: each carrier's longest matching prefix, ranked by the cost of a call.

A carrier is ranked by what a call of the route's expected length costs at
its row: the connect fee plus the rate over the billed seconds (the row's
increments), by billing.call_cost, so a low rate with a high fee or 60/60
billing does not win by its rate alone. Pure: the decks come from a callable
(the runtime keeps them loaded), the instant from the caller. Ties on cost
keep the order the route lists its carriers in: that order is the route's
preference.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, NamedTuple, Optional, Tuple

from .billing import PER_SECOND, call_cost
from .decks import MAX_DIGITS, Deck, Rate
from .model import Carrier, Lcr
from .quality import Acd
from .tariff import Tariff, tariff_at

# The length of call carriers are priced at when the route sets no expected_seconds: 3 minutes.
DEFAULT_EXPECTED_SECONDS = 180


class Quote(NamedTuple):
    """What one carrier charges for a number: ``cost`` of the expected call and ``rate`` per minute, in
    micro-units. Quotes sort by cost, then by the route's order of carriers."""
    cost: int
    position: int     # in the route's carrier list: the tie-break
    carrier: Carrier
    deck: Deck
    row: int
    rate: int

    def details(self) -> Rate:
        return self.deck.row(self.row)

    def tariff(self) -> Tariff:
        """The row's rate, connect fee and increments."""
        return tariff_at(self.deck, self.row)


class Ranking(NamedTuple):
    """The carriers serving a number, cheapest first, and the ones that could not be asked."""
    quotes: Tuple[Quote, ...]
    unloaded: Tuple[str, ...]   # names of carriers whose deck is not loaded (yet)


def is_lookup_number(number: str) -> bool:
    """Whether ``number`` can be looked up in decks: ASCII digits only."""
    return number.isdigit() and number.isascii()


class CallLength(NamedTuple):
    """The length of call a route's carriers are priced at, and where it came from: ROUTE's own, the
    MEASURED ACD, or the DEFAULT (``measured``: what was measured, when asked)."""
    seconds: int
    source: str
    measured: Optional[Acd] = None

    def why(self) -> str:
        """Why that length, in words (only explanations ask)."""
        if self.source == ROUTE:
            return "the route's expected_seconds"
        if self.measured is None:
            return "the default"
        return self.measured.why() if self.source == MEASURED else "the default (%s)" % self.measured.why()


ROUTE, MEASURED, DEFAULT = "route", "measured", "default"


def call_length(spec: Lcr, measured: Optional[Acd] = None) -> CallLength:
    """The route's ``expected_seconds``, else the destination's measured ACD (``measured``, from the
    quality windows, when the rules measure quality and it has enough calls), else the default. One figure
    per call, so that every carrier is priced for the same call."""
    if spec.expected_seconds:
        return CallLength(spec.expected_seconds, ROUTE)
    seconds = measured.seconds if measured is not None else None
    if seconds is not None:
        return CallLength(max(1, int(seconds + 0.5)), MEASURED, measured)
    return CallLength(DEFAULT_EXPECTED_SECONDS, DEFAULT, measured)


def rank(carriers: Iterable[Carrier], deck_of: Callable[[Carrier], Optional[Deck]], number: str,
         now: float, seconds: int = DEFAULT_EXPECTED_SECONDS) -> Ranking:
    """The Ranking of ``carriers`` (model.Carrier, in order of preference) for ``number`` at ``now``,
    by the cost of a call of ``seconds``.

    ``deck_of(carrier)`` returns its Deck or None; ``number`` holds digits
    only (longer than MAX_DIGITS is matched on its first MAX_DIGITS).
    """
    quotes: List[Quote] = []
    unloaded: List[str] = []
    digits = number[:MAX_DIGITS]
    for position, carrier in enumerate(carriers):
        deck = deck_of(carrier)
        if deck is None:
            unloaded.append(carrier.name)
            continue
        row = deck.find(digits, now)
        if row >= 0:
            rate = deck.rates[row]
            if deck.fees is None and deck.increments is None:  # the common deck: by the second, no fee
                cost = call_cost(rate, 0, PER_SECOND, seconds)
            else:
                cost = tariff_at(deck, row).cost(seconds)
            quotes.append(tuple.__new__(Quote, (cost, position, carrier, deck, row, rate)))  # as Quote(...), in C
    quotes.sort()
    return Ranking(tuple(quotes), tuple(unloaded))


def affordable(quotes: Tuple[Quote, ...], max_rate: Optional[int]) -> Tuple[Quote, ...]:
    """The quotes whose rate is at or below ``max_rate`` (micro-units per minute; None: all), still
    cheapest first."""
    if max_rate is None:
        return quotes
    return tuple(quote for quote in quotes if quote.rate <= max_rate)
