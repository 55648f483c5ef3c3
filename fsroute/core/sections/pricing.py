"""``sell_decks:`` and an lcr route's pricing keys: the call length carriers are priced at, the sell side
and the minimum margin (``expected_seconds``, ``sell``, ``min_margin``, ``on_no_margin``)."""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

from ..decks import MICRO
from ..model import NAME_RE, VARIABLE_RE, Margin, SellDeck
from ..reading import NAME_HINT, Fields, Reader
from ..yamltree import SCALAR, Node
from .defaults import read_action

PRICING_KEYS = ("expected_seconds", "sell", "min_margin", "on_no_margin")
MAX_EXPECTED_SECONDS = 86400
SELL_DECK = "sell_deck"  # the kind of name in Reader.declared


def read_sell_decks(r: Reader, node: Node) -> Dict[str, SellDeck]:
    """``sell_decks: {NAME: deck path}``: customer rate decks (paths relative to the rules file)."""
    declared = r.declared.setdefault(SELL_DECK, set())
    out = {}
    for name, (key, value) in (r.mapping(node, "sell_decks") or {}).items():
        what = "sell deck '%s'" % name
        if not r.check_name(key, what):
            continue
        declared.add(name)
        path = r.string(value, what + " (the path of its rate deck)")
        if path is not None:
            full = os.path.join(os.path.dirname(os.path.abspath(r.filename)), path)
            out[name] = SellDeck(name, os.path.normpath(full))
    return out


def read_pricing(r: Reader, body: Fields, what: str, check_names: bool
                 ) -> Tuple[Optional[int], Optional[Margin]]:
    """(expected_seconds, Margin) of an lcr route's ``body``; problems are reported, not returned.

    ``check_names``: the sell_decks are known (not a route built while the file is still being read).
    """
    expected = None
    if "expected_seconds" in body:
        expected = r.integer(body["expected_seconds"][1], what + " expected_seconds", 1, MAX_EXPECTED_SECONDS)
    if not any(key in body for key in PRICING_KEYS[1:]):
        return expected, None
    spec = Margin()
    if "sell" in body:
        spec = _read_sell(r, body["sell"][1], what, check_names) or spec
    else:
        key = "min_margin" if "min_margin" in body else "on_no_margin"
        r.error(body[key][0], "%s: %s needs 'sell' (the sell deck calls are sold at)" % (what, key))
    if "min_margin" in body:
        least = _read_minimum(r, body["min_margin"][1], what + " min_margin")
        if least is not None:
            spec = spec._replace(min_amount=least[0], min_percent=least[1])
    if "on_no_margin" in body:
        if "min_margin" not in body:
            r.error(body["on_no_margin"][0], "%s: on_no_margin needs min_margin (without one no call lacks margin)"
                    % what)
        spec = spec._replace(on_no_margin=read_action(r, body["on_no_margin"][1], what + ".on_no_margin"))
    return expected, spec


def sell_default_declared(r: Reader, spec: Optional[Margin]) -> bool:
    """Whether the route's default sell deck (if any) is one of sell_decks."""
    return spec is None or spec.sell_default is None or spec.sell_default in r.declared.get(SELL_DECK, ())


def _read_sell(r: Reader, node: Node, what: str, check_names: bool) -> Optional[Margin]:
    """``sell: {variable: NAME, default: SELL_DECK}``: where the call's sell deck comes from."""
    what += " sell"
    fields = r.mapping(node, what, allowed=("variable", "default"))
    if fields is None:
        return None
    spec = Margin()
    good = True
    if "variable" in fields:
        variable = r.string(fields["variable"][1], what + " variable", VARIABLE_RE, " (a channel variable name)")
        good = variable is not None
        spec = spec._replace(sell_variable=variable or spec.sell_variable)
    if "default" in fields:
        default = r.string(fields["default"][1], what + " default", NAME_RE, NAME_HINT)
        spec = spec._replace(sell_default=default)
        good = good and default is not None
        if default is not None and check_names and not sell_default_declared(r, spec):
            r.error(fields["default"][1], "%s default: no sell deck named '%s' under sell_decks" % (what, default))
            good = False
    return spec if good else None


def _read_minimum(r: Reader, node: Node, what: str) -> Optional[Tuple[Optional[int], Optional[float]]]:
    """``{amount: 0.005, percent: 10}`` (one or both): (micro-units, percent) a carrier's call must leave."""
    fields = r.mapping(node, what + " ({amount: MONEY, percent: P}, one or both)", allowed=("amount", "percent"))
    if fields is None:
        return None
    if not fields:
        r.error(node, "%s must give amount, percent or both" % what)
        return None
    amount = percent = None
    good = True
    if "amount" in fields:
        value = _number(fields["amount"][1], 0, 1e6)
        if value is None:
            r.error(fields["amount"][1], "%s amount must be money from 0 up, like 0.005 (per expected call)" % what)
            good = False
        else:
            amount = round(value * MICRO)
    if "percent" in fields:
        percent = _number(fields["percent"][1], 0, 99.999)
        if percent is None:
            r.error(fields["percent"][1], "%s percent must be a number from 0 to below 100 (of the sell price)"
                    % what)
            good = False
    return (amount, percent) if good else None


def _number(node: Node, low: float, high: float) -> Optional[float]:
    value = node.value if node.kind == SCALAR else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        return None
    return float(value)
