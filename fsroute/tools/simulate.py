"""Run the real handler on stub calls under a fake switch: ``fsroute simulate``.

Nothing is re-implemented here: each simulated call goes through
``fsroute.route.handler`` exactly as in FreeSWITCH, and the report is read
back from what the StubSession recorded.
"""

from collections import Counter

from fsroute.core import loader
from fsroute.core.model import RulesError
from fsroute.runtime import deckstore
from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state


def call_variables(dest, src_ip=None, caller=None, variables=None):
    """Channel variables of an inbound SIP call, as sofia sets them."""
    out = {"destination_number": dest, "direction": "inbound", "context": "public"}
    if src_ip:
        out["network_addr"] = out["sip_network_ip"] = src_ip
    if caller:
        out["caller_id_number"] = caller
    out.update(variables or {})
    return out


def simulate(path, dest, src_ip=None, caller=None, variables=None, down=(), fail=None, calls=1):
    """Route ``calls`` calls; one call gives its report, several a summary. Raises RulesError."""
    ruleset = loader.load(path)
    from fsroute import route  # the entry module mod_python3 would run

    fake = FakeFreeSWITCH()
    by_profile = {ruleset.defaults.profile: ([], [])}
    for name in sorted(ruleset.gateway_names() | set(down)):
        by_profile.setdefault(ruleset.profile_of(name), ([], []))[name in down].append(name)
    for profile, (up, down_names) in by_profile.items():
        fake.set_gateways(profile, up=up, down=down_names)
    reports = []
    with fake:
        reset_state()
        try:
            failed = deckstore.preload(ruleset)  # a switch loads them at start-up
            if failed:
                raise RulesError([p for exc in failed for p in exc.problems])
            for _ in range(calls):
                session = StubSession(call_variables(dest, src_ip, caller, variables), fail, fake=fake)
                route.handler(session, path)
                reports.append(_report(session))
        finally:
            reset_state()
    if calls == 1:
        return reports[0]
    bridged = Counter(r["attempts"][-1]["gateway"] for r in reports if r["result"] == "bridged")
    return {"calls": calls, "results": dict(Counter(r["result"] for r in reports)),
            "gateways": dict(sorted(bridged.items()))}


def _report(session):
    attempts = []
    for dialstring, outcome in session.bridges:
        gateway = dialstring.split("/")[2] if dialstring.count("/") >= 3 else None
        attempts.append({"gateway": gateway, "dialstring": dialstring, "outcome": outcome})
    return {"result": session.getVariable("fsroute_result"),
            "route": session.getVariable("fsroute_route"),
            "number": session.getVariable("fsroute_number"),
            "attempts": attempts,
            "hangup_cause": session.hangup_cause}
