"""A fraud rule's concurrent calls counted for the whole fleet, by FreeSWITCH's ``limit`` application.

With ``limits.backend: hiredis`` a watched call is counted in Redis with

    limit hiredis <realm> <realm>.fraud.<rule>.<key>.concurrent - !NORMAL_TEMPORARY_FAILURE

``-`` is mod_dptools' "count, never refuse" (max -1; mod_hiredis refuses only
over a max above 0). The channel holds the count until it hangs up, and
mod_hiredis's own hangup hook gives it back however the call ends, as for
``accounts.max_calls`` (runtime/accounts.py): fsroute keeps no Redis counter
a crashed or killed call could leak. mod_hiredis leaves its INCR's answer in
``hiredis_raw_response``: the fleet's count with this call, read from the
channel, so the level is judged on it with no other command on the call path.
"""

from __future__ import annotations

from typing import Any, Optional

from fsroute.core.model import LimitSettings

RESPONSE = "hiredis_raw_response"
CAUSE = "NORMAL_TEMPORARY_FAILURE"  # Redis failed the count (no ignore-connect-fail): SIP 503, try again


class Unheld(Exception):
    """The ``limit`` application could not count the call (Redis failed) and hung it up."""

    def __init__(self, rule: str) -> None:
        super().__init__("fraud rule %s: its limit backend failed" % rule)
        self.rule = rule


def resource(limits: LimitSettings, rule: str, key: str) -> str:
    """The limit resource (with hiredis, the Redis key) of the rule's concurrent calls of ``key``."""
    return "%s.fraud.%s.%s.concurrent" % (limits.realm, rule, key)


def hold(session: Any, limits: LimitSettings, rule: str, key: str) -> Optional[int]:
    """Count the call in the fleet's concurrent calls of ``key`` under ``rule``: the fleet's count with
    it, or None when Redis did not count it and the call goes on (the profile's ignore-connect-fail).
    Raises Unheld when the count failed and the switch hung the call up. A caller gone before the count
    is not counted (None): the call goes on to find that out, and Redis is not taken for unreachable."""
    session.setVariable(RESPONSE, "")  # an earlier hiredis count of this channel (its account's) is not ours
    if not session.ready():
        return None
    session.execute("limit", "hiredis %s %s - !%s" % (limits.realm, resource(limits, rule, key), CAUSE))
    if not session.ready():
        raise Unheld(rule)
    answer = (session.getVariable(RESPONSE) or "").strip()
    # Not a count above 0: nothing counted (ignore-connect-fail), or a Redis that lost its counts while calls
    # were up and went below 0 as they ended (mod_hiredis then holds nothing; the count heals as calls come).
    return int(answer) if answer.isdigit() and int(answer) > 0 else None
