"""Whether a failed attempt goes on to the next gateway: ``failover_on`` by cause name and by SIP status.

A ``failover_on`` list holds FreeSWITCH cause names (``NORMAL_TEMPORARY_FAILURE``)
and SIP statuses of the failed leg, exact (``sip:503``) or by class (``sip:5xx``).
The status is what the switch leaves on the caller's channel after a failed bridge,
``last_bridge_proto_specific_hangup_cause`` = ``sip:503`` (seen in a real
FreeSWITCH 1.11: set from the outbound leg for every SIP final response, and
left over from an earlier bridge, so the call loop clears it before each one).

A callee's own rejection (486 Busy Here, 600 Busy Everywhere, 603 Decline, or a
cause saying so, e.g. a 503 whose Q.850 Reason is 17 USER_BUSY) is tried on
another carrier only when the list names that rejection itself: its cause name
or its exact status. A class (``sip:6xx``) or another cause of the same response
never does: one carrier's "busy" tried on another is a second ring to a busy person.

The list an attempt is judged by is the nearest one to its gateway: the
gateway's, else its carrier's (least-cost), else its group's, else the route's,
else ``defaults``'.
"""

from __future__ import annotations

import re
from typing import FrozenSet, Iterable, Optional

from .causes import CALLEE_CAUSES
from .legs import Dial
from .model import Group, Route, RuleSet

# The channel variable holding the failed leg's protocol status, "sip:NNN".
SIP_STATUS_VARIABLE = "last_bridge_proto_specific_hangup_cause"
SIP_ENTRY_RE = re.compile(r"sip:([1-6])([0-9][0-9]|xx)\Z")
CALLEE_STATUSES = frozenset((486, 600, 603))


def sip_entry(text: str) -> Optional[str]:
    """``text`` as a failover_on SIP entry (``sip:503``, ``sip:5xx``; any case), None when it is not one."""
    lowered = text.strip().lower()
    return lowered if SIP_ENTRY_RE.match(lowered) else None


def sip_status(text: Optional[str]) -> Optional[int]:
    """The status in ``sip:503`` (the variable's form), None for anything else (unset, another protocol)."""
    if not text or not text.startswith("sip:"):
        return None
    digits = text[4:]
    return int(digits) if len(digits) == 3 and digits.isdigit() else None


def fails_over(failover_on: FrozenSet[str], cause: str, status: Optional[int]) -> bool:
    """Whether an attempt that failed with ``cause`` (and SIP ``status``, None when unknown) goes on."""
    rejection = [cause] if cause in CALLEE_CAUSES else []
    if status in CALLEE_STATUSES:
        rejection.append("sip:%d" % status)
    if rejection:
        return any(named in failover_on for named in rejection)
    if cause in failover_on:
        return True
    return status is not None and ("sip:%d" % status in failover_on or "sip:%dxx" % (status // 100) in failover_on)


def failover_on_for(rules: RuleSet, route: Route, dial: Dial) -> FrozenSet[str]:
    """The failover_on list an attempt of ``route`` through ``dial`` is judged by: the nearest that has one."""
    carrier = rules.carriers.get(dial.carrier) if dial.carrier is not None else None
    group = group_of(rules, route, dial)
    return _first((rules.settings_of(dial.gateway).failover_on,
                   carrier.failover_on if carrier is not None else None,
                   group.failover_on if group is not None else None,
                   route.failover_on), rules.defaults.failover_on)


def _first(lists: Iterable[Optional[FrozenSet[str]]], fallback: FrozenSet[str]) -> FrozenSet[str]:
    return next((found for found in lists if found is not None), fallback)


def group_of(rules: RuleSet, route: Route, dial: Dial) -> Optional[Group]:
    """The group ``dial`` was picked from: the route's, or for a least-cost attempt its carrier's."""
    name = route.group
    if dial.carrier is not None and route.lcr is not None:
        name = next(c.group for c in route.lcr.carriers if c.name == dial.carrier)
    return rules.groups.get(name) if name else None
