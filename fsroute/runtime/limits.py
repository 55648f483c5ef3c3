"""Call and rate limits, counted by FreeSWITCH's own ``limit`` machinery.

An attempt on a limited gateway is not a plain ``bridge`` but

    limit_execute <backend> <realm> <resource> <max>[/<interval>] ... bridge <dial string>

(nested once per limit: group calls, group rate, gateway calls, gateway
rate). mod_dptools increments each resource, runs the bridge only when all
of them are below their maximum, and releases the concurrent counts when the
bridge returns with the channel still executing; a channel that hangs up
while bridged releases them at hangup through the limit backend's own state
hook, whatever happens after fsroute returns. Nothing here keeps a counter
of its own, so a crash or a transfer cannot leak one.

Backends: ``hash`` (mod_hash: this FreeSWITCH only; the key is
``<realm>_<resource>``) and ``hiredis`` (mod_hiredis on a Redis server; the
realm is the hiredis.conf profile and the Redis key is the bare resource, so
every switch of a fleet shares one count). Rate limits (``N/S``) count
attempts in a window of S seconds and are not released at hangup.
"""

from __future__ import annotations

from typing import Any, Callable, FrozenSet, List, Optional, Tuple, Union

from fsroute.core.model import Capacity, Group, LimitSettings, RuleSet
from .fslog import WARNING, api, log

AT_LIMIT, LIMIT_ERROR = "AT_LIMIT", "LIMIT_ERROR"


def resource(limits: LimitSettings, kind: str, name: str, rate: bool = False) -> str:
    """The limit resource of gateway or group ``name`` (``kind``: "gw" or "group")."""
    return "%s.%s.%s%s" % (limits.realm, kind, name, ".cps" if rate else "")


_UNLIMITED = Capacity()


def _limits_of(rules: RuleSet, gateway: str, group: Optional[Group]) -> List[Tuple[str, str]]:
    """[(resource, max spec)] of one attempt, outermost first; counter-only ("-") for least_calls."""
    if rules.settings_of(gateway).capacity == _UNLIMITED and (
            group is None or (group.capacity == _UNLIMITED and group.strategy != "least_calls")):
        return []  # the common case, cheaply
    limits = rules.defaults.limits
    out: List[Tuple[str, str]] = []
    counted: List[Tuple[str, str, Capacity]] = []
    if group is not None:
        counted.append(("group", group.name, group.capacity))
    counted.append(("gw", gateway, rules.settings_of(gateway).capacity))
    for kind, name, capacity in counted:
        calls: Union[int, str, None] = capacity.max_calls
        if calls is None and kind == "gw" and group is not None and group.strategy == "least_calls":
            calls = "-"  # count without a maximum: least_calls reads the count
        if calls is not None:
            out.append((resource(limits, kind, name), str(calls)))
        if capacity.max_cps is not None:
            out.append((resource(limits, kind, name, rate=True), "%d/%d" % capacity.max_cps))
    return out


def dial_application(rules: RuleSet, gateway: str, group: Optional[Group], dial_string: str) -> Tuple[str, str]:
    """(application, data) that bridges ``dial_string`` inside the attempt's limits."""
    counted = _limits_of(rules, gateway, group)
    if not counted:
        return "bridge", dial_string
    data = "bridge %s" % dial_string
    limits = rules.defaults.limits
    for name, spec in reversed(counted):
        data = "limit_execute %s %s %s %s %s" % (limits.backend, limits.realm, name, spec, data)
    app, _, data = data.partition(" ")
    return app, data


def refusal(rules: RuleSet, session: Any) -> str:
    """After an attempt whose bridge did not run: AT_LIMIT, or LIMIT_ERROR when the backend failed.

    mod_hiredis sets ``hiredis_limit_exceeded`` when a count is over its
    maximum; a refusal without it is a Redis error (unreachable, ...).
    mod_hash refuses only for a count at its maximum.
    """
    if rules.defaults.limits.backend == "hiredis" and session.getVariable("hiredis_limit_exceeded") != "true":
        return LIMIT_ERROR
    return AT_LIMIT


def any_limits(rules: RuleSet) -> bool:
    """Whether any attempt under ``rules`` is dialled inside a limit (else every one is a plain bridge)."""
    return (any(rules.settings_of(name).capacity != _UNLIMITED for name in rules.gateway_names())
            or any(g.capacity != _UNLIMITED or g.strategy == "least_calls" for g in rules.groups.values()))


def usage_key(rules: RuleSet, gateway: str) -> str:
    """The arguments of ``limit_usage`` that read the gateway's concurrent count."""
    limits = rules.defaults.limits
    return "%s %s %s" % (limits.backend, limits.realm, resource(limits, "gw", gateway))


def counted_resources(rules: RuleSet) -> FrozenSet[str]:
    """The gateways whose active calls a ``least_calls`` group orders by (the poller counts them)."""
    return frozenset(member.name for group in rules.groups.values() if group.strategy == "least_calls"
                     for member in group.members)


def usage(rules: RuleSet, gateway: str, run_api: Callable[[str], object] = api) -> Optional[int]:
    """The gateway's current concurrent count, read now (``ctl status``; calls read the poller's), or None."""
    command = "limit_usage " + usage_key(rules, gateway)
    try:
        return parse_count(run_api(command))
    except Exception as exc:  # the API is outside our control
        log(WARNING, "fsroute: %r failed: %s" % (command, exc))
        return None


def parse_count(text: object) -> Optional[int]:
    """A ``limit_usage`` answer as a count, or None when it is not one."""
    try:
        count = int(text.strip() if isinstance(text, str) else "")
    except ValueError:
        return None
    return count if count >= 0 else None
