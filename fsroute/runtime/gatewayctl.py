"""The control commands that take a gateway out of service or back: ``drain``, ``disable``, ``enable``.

``python fsroute.ctl drain GW [reason...]`` acts on every loaded rules file
whose rules name GW (runtime.admin keeps the state per file); each change is
one NOTICE line and one ``fsroute::gateway`` event.
"""

from __future__ import annotations

from typing import List

from fsroute.core.model import RulesError
from . import events
from .admin import DISABLED, DRAINED, ENABLED, describe
from .fslog import NOTICE, log
from .store import RulesStore


def change(stores: List[RulesStore], verb: str, gateway: str, reason: str) -> str:
    """The answer to ``drain|disable|enable GATEWAY [reason]`` over ``stores`` (those of the loaded rules
    files, else of the default one)."""
    state = {"drain": DRAINED, "disable": DISABLED}.get(verb, ENABLED)
    lines = []
    for store in stores:
        try:
            generation = store.current()  # loaded now if no call has loaded it yet
        except RulesError:
            continue
        if gateway not in generation.rules.gateway_names():
            continue
        admin = generation.admin
        before = admin.held(gateway)
        previous = before.state if before is not None else ENABLED
        problem = admin.change(gateway, state, reason)
        now = describe(admin, gateway) or "in service"
        log(NOTICE, "fsroute: gateway %s %s by the operator%s (%s): %s" % (
            gateway, state, " (%s)" % reason if reason else "", store.path, now))
        events.fire(events.GATEWAY, events.gateway_headers(gateway, generation.rules.profile_of(gateway),
                                                           state, previous)
                    + [("fsroute-reason", reason), ("fsroute-calls-left", str(admin.bridging(gateway)))])
        lines.append("+OK %s %s in %s: %s" % (gateway, state, store.path, now))
        if problem:
            lines.append("-ERR %s: the change holds until FreeSWITCH restarts" % problem)
    if not lines:
        return "-ERR no loaded rules file names gateway %s\n" % gateway
    return "\n".join(lines) + "\n"
