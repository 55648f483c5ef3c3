"""Run the real call handling on stub calls under a fake switch: ``fsroute simulate``.

Nothing is re-implemented here: each simulated call goes through
``fsroute.runtime.call`` exactly as in FreeSWITCH, and the report is read
back from what the StubSession recorded. A Simulation parses its rules file
once and keeps its own loaded rules: the live rules and gateway readings of
the process are never touched.
"""

from collections import Counter

from fsroute.core import loader
from fsroute.runtime.call import route_with
from fsroute.runtime.store import Loaded
from fsroute.testing import FakeFreeSWITCH, StubSession


def call_variables(dest, src_ip=None, caller=None, variables=None):
    """Channel variables of an inbound SIP call, as sofia sets them."""
    out = {"destination_number": dest, "direction": "inbound", "context": "public"}
    if src_ip:
        out["network_addr"] = out["sip_network_ip"] = src_ip
    if caller:
        out["caller_id_number"] = caller
    out.update(variables or {})
    return out


class Simulation:
    """One rules file, parsed once, routing any number of simulated calls (raises RulesError)."""

    def __init__(self, path):
        self.rules = loader.load(path)

    def run(self, dest, src_ip=None, caller=None, variables=None, down=(), fail=None, calls=1):
        """Route ``calls`` calls from a fresh start (round robin, readings); one call gives its report,
        several a summary."""
        rules = self.rules
        loaded = Loaded(rules)
        fake = FakeFreeSWITCH()
        by_profile = {rules.defaults.profile: ([], [])}
        for name in sorted(rules.gateway_names() | set(down)):
            by_profile.setdefault(rules.profile_of(name), ([], []))[name in down].append(name)
        for profile, (up, down_names) in by_profile.items():
            fake.set_gateways(profile, up=up, down=down_names)
        reports = []
        with fake:
            for _ in range(calls):
                session = StubSession(call_variables(dest, src_ip, caller, variables), fail, fake=fake)
                route_with(session, lambda: loaded)
                reports.append(_report(session))
        if calls == 1:
            return reports[0]
        bridged = Counter(r["attempts"][-1]["gateway"] for r in reports if r["result"] == "bridged")
        return {"calls": calls, "results": dict(Counter(r["result"] for r in reports)),
                "gateways": dict(sorted(bridged.items()))}


def simulate(path, dest, src_ip=None, caller=None, variables=None, down=(), fail=None, calls=1):
    """Route ``calls`` calls with the rules at ``path``; see Simulation.run. Raises RulesError."""
    return Simulation(path).run(dest, src_ip, caller, variables, down, fail, calls)


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
