"""Accounts: who a call is billed to, and the limits each account has.

``account_of`` is the one place a call's account is found (limits, fraud
counting and margin routing all ask it, so they never disagree about whose
call it is): the key the rules name (a channel variable, or the node of an
ACL that admitted the source; by default the source address), else the
configured ``unknown`` account. A key value that could not stand in a limit
resource (spaces, quotes...) counts as no key: it would inject arguments
into the ``limit`` application's data.

``limits_of`` gives an account's Capacity: its own row (inline, or from the
CSV table beside the rules) over the defaults. ``parse_table`` reads that
table; the runtime reads its file off the call path, with the generation.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from .acl import Acl, parse_address
from .model import Accounts, Capacity, Problem, RulesError
from .router import source_address

ACCOUNT_RE = re.compile(r"[A-Za-z0-9_.@+:/-]{1,64}\Z")
TABLE_COLUMNS = ("account", "max_calls", "max_cps")
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


def parse_table(text: str, filename: str, base: Capacity) -> Dict[str, Capacity]:
    """{account: Capacity} of a CSV table ``account,max_calls,max_cps`` (header first; an empty cell
    keeps ``base``'s value); raises RulesError with file:line for every bad row."""
    rows = csv.reader(io.StringIO(text))
    problems: List[Problem] = []
    header = next(rows, None)
    if header is None or tuple(h.strip() for h in header) != TABLE_COLUMNS:
        raise RulesError([Problem(filename, 1, 1, "the accounts table must start with the header %s"
                                  % ",".join(TABLE_COLUMNS))])
    out: Dict[str, Capacity] = {}
    for row in rows:
        line = rows.line_num
        if not row or not "".join(row).strip():
            continue
        try:
            name, capacity = _row(row, base)
        except ValueError as exc:
            problems.append(Problem(filename, line, 1, str(exc)))
            continue
        if name in out:
            problems.append(Problem(filename, line, 1, "account %r appears twice" % name))
        out[name] = capacity
    if problems:
        raise RulesError(problems[:50])
    return out


def _row(row: List[str], base: Capacity) -> Tuple[str, Capacity]:
    if len(row) != len(TABLE_COLUMNS):
        raise ValueError("expected %d columns (%s), found %d" % (len(TABLE_COLUMNS), ",".join(TABLE_COLUMNS),
                                                                  len(row)))
    name, calls, cps = (cell.strip() for cell in row)
    if not ACCOUNT_RE.match(name):
        raise ValueError("account %r: letters, digits and _ . @ + : / - only (at most 64)" % name)
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
    return name, Capacity(max_calls, max_cps)
