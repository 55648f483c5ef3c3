"""Least-cost routing for one number: each carrier's longest matching prefix, ranked by rate.

Pure: the decks come from a callable (the runtime keeps them loaded), the
instant from the caller. Ties on rate keep the order the route lists its
carriers in: that order is the route's preference.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, NamedTuple, Optional, Tuple

from .decks import MAX_DIGITS, Deck, Rate
from .model import Carrier


class Quote(NamedTuple):
    """What one carrier charges for a number; ``rate`` in micro-units per minute."""
    rate: int
    position: int     # in the route's carrier list: the tie-break
    carrier: Carrier
    deck: Deck
    row: int

    def details(self) -> Rate:
        return self.deck.row(self.row)


class Ranking(NamedTuple):
    """The carriers serving a number, cheapest first, and the ones that could not be asked."""
    quotes: Tuple[Quote, ...]
    unloaded: Tuple[str, ...]   # names of carriers whose deck is not loaded (yet)


def is_lookup_number(number: str) -> bool:
    """Whether ``number`` can be looked up in decks: ASCII digits only."""
    return number.isdigit() and number.isascii()


def rank(carriers: Iterable[Carrier], deck_of: Callable[[Carrier], Optional[Deck]], number: str,
         now: float) -> Ranking:
    """The Ranking of ``carriers`` (model.Carrier, in order of preference) for ``number`` at ``now``.

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
            quotes.append(tuple.__new__(Quote, (deck.rates[row], position, carrier, deck, row)))  # as Quote(...), in C
    quotes.sort()
    return Ranking(tuple(quotes), tuple(unloaded))


def affordable(quotes: Tuple[Quote, ...], max_rate: Optional[int]) -> Tuple[Quote, ...]:
    """The quotes at or below ``max_rate`` (micro-units; None: all), still cheapest first."""
    if max_rate is not None:
        for index, quote in enumerate(quotes):
            if quote.rate > max_rate:
                return quotes[:index]
    return quotes
