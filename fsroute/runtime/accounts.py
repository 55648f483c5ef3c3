"""Account limits in the switch: a call's max_cps and max_calls, counted by FreeSWITCH's ``limit`` machinery.

Once per call, just before its first bridge, and only for a call fsroute is
about to dial:

1. ``max_cps``: ``limit_execute <backend> <realm> <realm>.acct.<A>.cps N/S set
   fsroute_account_admitted=true``. The ``set`` runs only when the rate count
   is below its maximum, so the variable says whether it was; a rate count is
   a window of attempts and is never released.
2. ``max_calls``: ``limit <backend> <realm> <realm>.acct.<A> MAX !CAUSE``. The
   count is held by the channel until it hangs up, whichever way (the limit
   backend's own state hook releases it, also after a transfer or when
   fsroute has long returned), so a crashed or killed call cannot leak one;
   over the maximum the ``limit`` application hangs the call up itself with
   ``defaults.on_over_limit``'s cause.

With ``limits.backend: hiredis`` every switch of a fleet shares the counts.
When Redis fails, mod_hiredis refuses the count unless its profile has
``ignore-connect-fail=true``: the call is then refused (fail closed; the
record's detail says the backend failed) -- see docs/fraud.md for why that
is the default and how to fail open.

The accounts table (a CSV beside the rules) is read here, with the
generation, never on a call's path.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Collection, Dict, Mapping, NamedTuple, Optional, Tuple

from fsroute.core.accounts import parse_table
from fsroute.core.model import Accounts, Capacity, LimitSettings, Problem, RuleSet, RulesError
from .files import file_signature
from .limits import LIMIT_ERROR, refusal

ADMITTED = "fsroute_account_admitted"
OVER_CPS, OVER_CALLS = "max_cps", "max_calls"
CALLER_GONE = "caller_gone"  # the caller hung up meanwhile: neither limit refused the call
MAX_TABLE_BYTES = 64 * 1024 * 1024


def resource(limits: LimitSettings, account: str, rate: bool = False) -> str:
    """The limit resource of ``account``'s concurrent calls (or, ``rate``, its call rate)."""
    return "%s.acct.%s%s" % (limits.realm, account, ".cps" if rate else "")


def admit(session: Any, rules: RuleSet, capacity: Capacity, account: str, cause: str) -> Optional[str]:
    """Count the call against ``account``'s limits: None when admitted, else why not (OVER_CPS,
    OVER_CALLS, LIMIT_ERROR when the backend failed, CALLER_GONE: the caller hung up before a limit was
    asked). Over max_calls the switch has hung up with ``cause``. (After ``limit`` a hung-up channel is
    taken for its refusal: right after it, the switch's ``hangupCause()`` still said NONE.)"""
    limits = rules.defaults.limits
    hiredis = limits.backend == "hiredis"
    if capacity.max_cps is not None:
        if hiredis:
            session.setVariable("hiredis_limit_exceeded", "")
        session.setVariable(ADMITTED, "")
        session.execute("limit_execute", "%s %s %s %d/%d set %s=true" % (
            limits.backend, limits.realm, resource(limits, account, rate=True), capacity.max_cps[0],
            capacity.max_cps[1], ADMITTED))
        if session.getVariable(ADMITTED) != "true":
            if not session.ready():  # limit_execute never hangs up: the caller did
                return CALLER_GONE
            return LIMIT_ERROR if refusal(rules, session) == LIMIT_ERROR else OVER_CPS
    if capacity.max_calls is not None:
        if not session.ready():
            return CALLER_GONE
        if hiredis:
            session.setVariable("hiredis_limit_exceeded", "")
        session.execute("limit", "%s %s %s %d !%s" % (limits.backend, limits.realm, resource(limits, account),
                                                      capacity.max_calls, cause))
        if not session.ready():
            return LIMIT_ERROR if refusal(rules, session) == LIMIT_ERROR else OVER_CALLS
    return None


class TableState(NamedTuple):
    """The accounts table as a generation holds it: its rows' limits and sell decks, its file's signature."""
    limits: Dict[str, Capacity]
    signature: Tuple[Any, ...]
    sell_decks: Mapping[str, str] = MappingProxyType({})


NO_TABLE = TableState({}, ())


def read_table(accounts: Optional[Accounts], sell_decks: Collection[str] = ()) -> TableState:
    """The accounts table the rules name (empty without one) and its file's signature; raises RulesError.
    ``sell_decks``: the names its sell_deck column may use."""
    if accounts is None or accounts.table is None:
        return NO_TABLE
    path = accounts.table
    signature = file_signature(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise RulesError([Problem(path, 0, 0, "cannot read the accounts table: %s" % (exc.strerror or exc))])
    if len(data) > MAX_TABLE_BYTES:
        raise RulesError([Problem(path, 0, 0, "the accounts table is larger than %d MiB"
                                  % (MAX_TABLE_BYTES >> 20))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulesError([Problem(path, 0, 0, "the accounts table is not UTF-8 (%s)" % exc.reason)])
    limits, decks = parse_table(text, path, accounts.limits, sell_decks)
    return TableState(limits, signature, decks)
