"""Accounts: who a call is billed to, and the limits each account has.

``account_of`` is the one place a call's account is found (limits, fraud
counting and margin routing all ask it, so they never disagree about whose
call it is): the key the rules name (a channel variable, or the node of an
ACL that admitted the source; by default the source address), else the
configured ``unknown`` account. A key value that could not stand in a limit
resource (spaces, quotes...) counts as no key: it would inject arguments
into the ``limit`` application's data.

``limits_of`` gives an account's Capacity: its own row (inline, or from the
CSV table beside the rules) over the defaults; ``sell_deck_of`` the sell
deck its own row names (``account_sell_deck``; core.margin.sell_deck_name
decides the rest).
``parse_table`` reads that table; the runtime reads its file off the call
path, with the generation.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Callable, Collection, Dict, List, Mapping, Optional, Tuple

from .acl import Acl, parse_address
from .model import Accounts, Capacity, Problem, RulesError
from .router import source_address

ACCOUNT_RE = re.compile(r"[A-Za-z0-9_.@+:/-]{1,64}\Z")
TABLE_COLUMNS = ("account", "max_calls", "max_cps")
SELL_COLUMN = "sell_deck"  # an optional fourth column: the account's sell deck (core.margin)
_RATE_RE = re.compile(r"([0-9]{1,6})(?:/([0-9]{1,5}))?\Z")


Getter = Callable[[str], Optional[str]]


def account_of(accounts: Accounts, get: Getter, acls: Mapping[str, Acl]) -> str:
    """The account of the call whose channel variables ``get`` reads; ``unknown`` without a usable key."""
    if accounts.variable is not None:
        value = get(accounts.variable)
    elif accounts.acl is not None:
        value = admitting_node(acls[accounts.acl], source_address(get))
    else:
        value = source_address(get)
    return value if value and ACCOUNT_RE.match(value) else accounts.unknown


def admitting_node(acl: Acl, source: Optional[str]) -> Optional[str]:
    """The CIDR of the ``allow`` node of ``acl`` that lets ``source`` through, or None (the default or
    a deny node decides, or the source is no address)."""
    address = parse_address(source)
    if address is None:
        return None
    index = acl.deciding_node(address)
    if index is None or not acl.nodes[index][0]:
        return None
    return str(acl.nodes[index][1])


def limits_of(accounts: Accounts, table: Mapping[str, Capacity], account: str) -> Capacity:
    """The account's limits: its inline row, else its table row, else the defaults."""
    found = accounts.overrides.get(account)
    if found is None:
        found = table.get(account)
    return accounts.limits if found is None else found


def account_sell_deck(accounts: Accounts, table: Mapping[str, str], get: Getter, acls: Mapping[str, Acl]
                      ) -> Tuple[str, Optional[str]]:
    """(the call's account, the sell deck its own row names: its inline row's, else its table row's
    (``table``: account -> sell deck), else None)."""
    account = account_of(accounts, get, acls)
    return account, own_sell_deck(accounts, table, account)


def own_sell_deck(accounts: Accounts, table: Mapping[str, str], account: str) -> Optional[str]:
    """The sell deck ``account``'s own row names: its inline row's, else its table row's, else None."""
    return accounts.sell_decks.get(account) or table.get(account)


def parse_table(text: str, filename: str, base: Capacity, sell_decks: Collection[str] = ()
                ) -> Tuple[Dict[str, Capacity], Dict[str, str]]:
    """({account: Capacity}, {account: sell deck}) of a CSV table ``account,max_calls,max_cps`` with an
    optional fourth column ``sell_deck`` (one of ``sell_decks``) (header first; an empty cell keeps
    ``base``'s value, or names no sell deck); raises RulesError with file:line for every bad row."""
    rows = csv.reader(io.StringIO(text))
    problems: List[Problem] = []
    header = next(rows, None)
    columns = tuple(h.strip() for h in header) if header is not None else ()
    if columns not in (TABLE_COLUMNS, TABLE_COLUMNS + (SELL_COLUMN,)):
        raise RulesError([Problem(filename, 1, 1, "the accounts table must start with the header %s (or %s,%s)"
                                  % (",".join(TABLE_COLUMNS), ",".join(TABLE_COLUMNS), SELL_COLUMN))])
    out: Dict[str, Capacity] = {}
    decks: Dict[str, str] = {}
    for row in rows:
        line = rows.line_num
        if not row or not "".join(row).strip():
            continue
        try:
            name, capacity, deck = _row(row, base, columns, sell_decks)
        except ValueError as exc:
            problems.append(Problem(filename, line, 1, str(exc)))
            continue
        if name in out:
            problems.append(Problem(filename, line, 1, "account %r appears twice" % name))
        out[name] = capacity
        if deck:
            decks[name] = deck
    if problems:
        raise RulesError(problems[:50])
    return out, decks


def _row(row: List[str], base: Capacity, columns: Tuple[str, ...], sell_decks: Collection[str]
         ) -> Tuple[str, Capacity, str]:
    if len(row) != len(columns):
        raise ValueError("expected %d columns (%s), found %d" % (len(columns), ",".join(columns), len(row)))
    name, calls, cps = (cell.strip() for cell in row[:3])
    deck = row[3].strip() if len(row) > 3 else ""
    if not ACCOUNT_RE.match(name):
        raise ValueError("account %r: letters, digits and _ . @ + : / - only (at most 64)" % name)
    if deck and deck not in sell_decks:
        raise ValueError("account %s: no sell deck named %r under sell_decks" % (name, deck))
    max_calls = base.max_calls
    if calls:
        if not calls.isdigit() or not 1 <= int(calls) <= 1000000:
            raise ValueError("account %s: max_calls %r must be a whole number from 1 to 1000000" % (name, calls))
        max_calls = int(calls)
    max_cps = base.max_cps
    if cps:
        found = _RATE_RE.match(cps)
        if found is None or int(found.group(1)) < 1 or (found.group(2) is not None and int(found.group(2)) < 1):
            raise ValueError("account %s: max_cps %r must be CALLS or CALLS/SECONDS" % (name, cps))
        max_cps = (int(found.group(1)), int(found.group(2) or 1))
    return name, Capacity(max_calls, max_cps), deck
