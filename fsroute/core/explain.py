"""How a rules file treats a call, for people and tests: the router's own reasons, without a switch.

There is no second matcher here: ``explain`` is ``router.decide(...,
explain=True)`` rendered as lines. Tools that have the switch's state
(``ctl test``, ``simulate --explain``, a traced call) call decide
themselves and print ``Decision.reasons``.
"""

from __future__ import annotations

from typing import Callable, List, Optional

from .model import RuleSet
from .router import DeckOf, decide
from .selection import Selector


def explain(rules: RuleSet, get: Callable[[str], Optional[str]], now: Optional[float] = None,
            deck_of: Optional[DeckOf] = None) -> List[str]:
    """Lines saying how ``rules`` treat the call whose channel variables ``get`` returns, coming at
    ``now`` (seconds since the epoch; routes with time conditions and least-cost routes need it, as
    for router.decide, which raises ValueError without it); with ``deck_of`` (as for decide), how a
    least-cost route ranks its carriers.

    It assumes every gateway is up and none benched (no gateway states here), and round robin at its
    start (a fresh Selector): the route and every refusal are the router's; the gateways may not be.
    """
    return list(decide(rules, get, _all_up, Selector(), now, deck_of=deck_of, explain=True).reasons)


def _all_up(gateway: str) -> bool:
    return True
