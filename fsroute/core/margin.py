"""Margin protection: what a call is sold at (a customer's sell deck) and which carriers keep the margin.

A least-cost route may name a sell side (model.Margin): the channel variable
that names the call's sell deck (one of ``sell_decks:``), else a default.
The sell deck is looked up like a carrier's deck, at the same number and
instant, and the expected call is priced on both sides by the same rule
(billing.call_cost through tariff.Tariff). With a minimum margin, carriers
whose expected cost would break it are dropped; a call whose sell price is
unknown keeps none (no margin can be shown).

``sell_deck_name`` names the call's sell deck: the call's variable, else its
account's (``accounts:``, core.accounts), else the route's default, else
every account's.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Callable, Mapping, NamedTuple, Optional, Tuple

from .decks import MAX_DIGITS, Deck, rate_text
from .lcr import Quote
from .model import HasDeck, Margin, SellDeck
from .tariff import Tariff, tariff_at
from .text import one_line

Getter = Callable[[str], Optional[str]]
# (the call's account, the sell deck its own row names or None); None: the rules have no accounts
AccountDeck = Callable[[Getter], Optional[Tuple[str, Optional[str]]]]


class Sale(NamedTuple):
    """What a call is sold at: the sell deck's name, its matched prefix and Tariff, and the expected
    call's price (``revenue``, micro-units)."""
    deck: str
    prefix: str
    tariff: Tariff
    revenue: int
    source: str = ""  # where the deck's name came from: '${fsroute_sell_deck}', "account acme's", ...


class Price(NamedTuple):
    """What one least-cost attempt is expected to cost and earn, for a call of ``seconds``."""
    seconds: int
    tariff: Tariff      # the carrier's row
    cost: int           # micro-units
    sale: Optional[Sale] = None

    @property
    def margin(self) -> Optional[int]:
        """Expected revenue less expected cost (None without a sell price)."""
        return self.sale.revenue - self.cost if self.sale is not None else None


def sell_deck_name(spec: Margin, get: Getter, account_deck: Optional[AccountDeck] = None,
                   every_account: Optional[str] = None) -> Tuple[Optional[str], str]:
    """(the name of the call's sell deck, where it came from) or (None, why there is none).

    The call's channel variable (``sell.variable``), else the sell deck its account's own row names
    (``account_deck``: asked only then), else the route's ``sell.default``, else ``every_account``'s
    (``accounts.sell_deck``). The one place a call's sell deck is named.
    """
    named = get(spec.sell_variable)
    if named:
        return named, "${%s}" % spec.sell_variable
    account = account_deck(get) if account_deck is not None else None
    if account is not None and account[1]:
        return account[1], "account %s's" % account[0]
    if spec.sell_default:
        return spec.sell_default, "the route's default"
    if every_account:
        return every_account, "every account's"
    return None, "${%s} unset, %sno default" % (spec.sell_variable, "account %s names none, " % account[0]
                                                  if account is not None else "")


def sale_for(spec: Margin, sell_decks: Mapping[str, SellDeck], get: Getter,
             deck_of: Callable[[HasDeck], Optional[Deck]], number: str, now: float, seconds: int,
             account_deck: Optional[AccountDeck] = None, every_account: Optional[str] = None
             ) -> Tuple[Optional[Sale], str]:
    """(the call's Sale, "") or (None, why there is no sell price) for ``number`` (digits) at ``now``; the
    sell deck as sell_deck_name names it."""
    name, source = sell_deck_name(spec, get, account_deck, every_account)
    if not name:
        return None, "no sell deck (%s)" % source
    sell = sell_decks.get(name)
    if sell is None:
        return None, "sell deck %s is not one of sell_decks" % one_line(repr(name), 40)
    deck = deck_of(sell)
    if deck is None:
        return None, "sell deck %s is not loaded" % name
    row = deck.find(number[:MAX_DIGITS], now)
    if row < 0:
        return None, "sell deck %s has no prefix of %s in force" % (name, number)
    tariff = tariff_at(deck, row)
    return Sale(name, deck.prefix(row), tariff, tariff.cost(seconds), source), ""


def keeps(spec: Margin, revenue: int, cost: int) -> bool:
    """Whether selling at ``revenue`` what costs ``cost`` keeps the route's minimum margin."""
    margin = revenue - cost
    if spec.min_amount is not None and margin < spec.min_amount:
        return False
    if spec.min_percent is None:
        return True
    numerator, denominator = _ratio(spec.min_percent)
    return margin * 100 * denominator >= numerator * revenue


@functools.lru_cache(maxsize=64)
def _ratio(percent: float) -> Tuple[int, int]:
    """``percent`` as the decimal the rules wrote (4.9 is 49/10, not the float just above it), so that a
    margin of exactly the minimum keeps it."""
    return Fraction(repr(percent)).as_integer_ratio()


def protect(spec: Margin, quotes: Tuple[Quote, ...], sale: Optional[Sale]) -> Tuple[Quote, ...]:
    """The quotes that keep the route's minimum margin, cheapest first.

    Without a minimum every quote is kept; without a sell price none is (its margin is unknown).
    """
    if not spec.guarded:
        return quotes
    if sale is None:
        return ()
    return tuple(quote for quote in quotes if keeps(spec, sale.revenue, quote.cost))


def money_text(micro: int) -> str:
    """A signed micro-unit amount: '-0.012', '0.03'."""
    return ("-" if micro < 0 else "") + rate_text(abs(micro))


def margin_text(revenue: int, cost: int) -> str:
    """'0.012 (13.3%)': the margin of selling at ``revenue`` what costs ``cost``, and its share of revenue."""
    margin = revenue - cost
    share = " (%.1f%%)" % (100.0 * margin / revenue) if revenue else ""
    return money_text(margin) + share


def minimum_text(spec: Margin) -> str:
    """The route's minimum margin in words: 'min_margin 0.005 and 10%'."""
    parts = []
    if spec.min_amount is not None:
        parts.append(rate_text(spec.min_amount))
    if spec.min_percent is not None:
        parts.append("%g%%" % spec.min_percent)
    return "min_margin %s" % " and ".join(parts)
