"""``accounts:``: what a call's account is (its key), and each account's max_calls / max_cps."""

from __future__ import annotations

import os
import re
from typing import Dict, Mapping, Optional, Tuple

from ..accounts import ACCOUNT_RE
from ..model import Accounts
from ..acl import Acl
from ..model import Capacity
from ..reading import Reader
from ..text import did_you_mean
from ..yamltree import MAP, SCALAR, Node
from .gateways import read_capacity
from .pricing import SELL_DECK

ACCOUNTS_KEYS = ("key", "unknown", "max_calls", "max_cps", "table", "accounts", "sell_deck")
# a channel variable, SIP header variables included (sip_h_X-Account)
KEY_VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")
SOURCE_KEY = "source"


def read_accounts(r: Reader, node: Node, acls: Mapping[str, Acl]) -> Optional[Accounts]:
    what = "accounts"
    body = r.mapping(node, what, allowed=ACCOUNTS_KEYS)
    if body is None:
        return None
    variable = acl = None
    if "key" in body:
        variable, acl = _read_key(r, body["key"][1], acls)
    unknown: Optional[str] = "unknown"
    if "unknown" in body:
        unknown = r.string(body["unknown"][1], what + " unknown", ACCOUNT_RE,
                           " (letters, digits and _ . @ + : / -, at most 64)")
    limits = read_capacity(r, body, what)
    overrides: Dict[str, Capacity] = {}
    sell_decks: Dict[str, str] = {}
    if "accounts" in body:
        for name, (key, value) in (r.mapping(body["accounts"][1], what + ".accounts") or {}).items():
            where = "account '%s'" % name
            if not ACCOUNT_RE.match(name):
                r.error(key, "%s: letters, digits and _ . @ + : / - only (at most 64)" % where)
                continue
            fields = r.mapping(value, where, allowed=("max_calls", "max_cps", "sell_deck"))
            if fields is None:
                continue
            if "sell_deck" in fields:
                deck = _read_sell_deck(r, fields["sell_deck"][1], where)
                if deck is not None:
                    sell_decks[name] = deck
            if set(fields) != {"sell_deck"}:  # a row naming only its sell deck leaves its limits to the table
                own = read_capacity(r, fields, where)
                overrides[name] = Capacity(own.max_calls if "max_calls" in fields else limits.max_calls,
                                           own.max_cps if "max_cps" in fields else limits.max_cps)
    sell_deck = _read_sell_deck(r, body["sell_deck"][1], what) if "sell_deck" in body else None
    table = None
    if "table" in body:
        text = r.string(body["table"][1], what + " table")
        if text is not None:
            table = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(r.filename)), text))
    if unknown is None:
        return None
    return Accounts(variable, acl, unknown, limits, overrides, table, sell_deck, sell_decks)


def _read_sell_deck(r: Reader, node: Node, what: str) -> Optional[str]:
    """An account's (or every account's) ``sell_deck``: one of sell_decks (read before accounts)."""
    name = r.string(node, what + " sell_deck")
    if name is not None and name not in r.declared.get(SELL_DECK, ()):
        r.error(node, "%s sell_deck: no sell deck named '%s' under sell_decks%s"
                % (what, name, did_you_mean(name, r.declared.get(SELL_DECK, ()))))
        return None
    return name


def _read_key(r: Reader, node: Node, acls: Mapping[str, Acl]) -> Tuple[Optional[str], Optional[str]]:
    """(variable, acl) of ``key: VARIABLE``, ``key: source`` or ``key: {acl: NAME}``."""
    if node.kind == MAP:
        fields = r.mapping(node, "accounts key", allowed=("acl",), required=("acl",))
        if not fields or "acl" not in fields:
            return None, None
        name = r.string(fields["acl"][1], "accounts key acl")
        if name is not None and name not in acls and name not in r.declared["acl"]:
            r.error(fields["acl"][1], "accounts key: no acl named '%s'" % name)
            return None, None
        return None, name
    if node.kind == SCALAR and node.value == SOURCE_KEY:
        return None, None
    return r.string(node, "accounts key", KEY_VARIABLE_RE,
                    " (a channel variable such as accountcode or sip_h_X-Account, 'source', or {acl: NAME})"), None
