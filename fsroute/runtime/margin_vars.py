"""The channel variables a least-cost attempt leaves for margin reports from CDRs alone.

``fsroute_lcr_cost`` (the expected call's buy cost), ``fsroute_lcr_seconds``
(the expected call length it was priced at), ``fsroute_lcr_sell_deck``,
``fsroute_lcr_sell_rate`` and ``fsroute_lcr_margin`` (expected revenue less
cost); "" for what an attempt does not have (no sell side, no attempt).
"""

from __future__ import annotations

from typing import Optional, Tuple

from fsroute.core.decks import rate_text
from fsroute.core.margin import Price, money_text

NAMES = ("fsroute_lcr_cost", "fsroute_lcr_seconds", "fsroute_lcr_sell_deck", "fsroute_lcr_sell_rate",
         "fsroute_lcr_margin")


def margin_variables(price: Optional[Price]) -> Tuple[Tuple[str, str], ...]:
    """(name, value) of each variable in NAMES for an attempt priced at ``price`` (None: cleared)."""
    if price is None:
        return tuple((name, "") for name in NAMES)
    sale = price.sale
    margin = price.margin
    return (("fsroute_lcr_cost", rate_text(price.cost)), ("fsroute_lcr_seconds", str(price.seconds)),
            ("fsroute_lcr_sell_deck", sale.deck if sale else ""),
            ("fsroute_lcr_sell_rate", rate_text(sale.tariff.rate) if sale else ""),
            ("fsroute_lcr_margin", "" if margin is None else money_text(margin)))
