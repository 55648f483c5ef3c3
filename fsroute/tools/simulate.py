"""Run the real call handling on stub calls under a fake switch: ``fsroute simulate``.

Nothing is re-implemented here: each simulated call goes through
``fsroute.runtime.call`` exactly as in FreeSWITCH, and the report is read
back from what the StubSession recorded. A Simulation parses its rules file
once, and reads the rate decks its carriers name once, and keeps its own
loaded rules and decks: the live rules, gateway readings and decks of the
process are never touched.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any, Collection, Dict, List, Mapping, Optional, Tuple

from fsroute.core import loader
from fsroute.core.explain import explain as explain_call
from fsroute.core.text import did_you_mean
from fsroute.core.timespec import parse_instant
from fsroute.runtime.call import route_with
from fsroute.runtime.store import Loaded
from fsroute.testing import FakeFreeSWITCH, StubSession
from .lcrtool import load_decks


def call_variables(dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
                   variables: Optional[Mapping[str, str]] = None, at: Optional[str] = None) -> Dict[str, str]:
    """Channel variables of an inbound SIP call, as sofia sets them (``at``: fsroute_now, the call's instant)."""
    out = {"destination_number": dest, "direction": "inbound", "context": "public"}
    if at:
        out["fsroute_now"] = at
    if src_ip:
        out["network_addr"] = out["sip_network_ip"] = src_ip
    if caller:
        out["caller_id_number"] = caller
    out.update(variables or {})
    return out


class UnknownGateways(ValueError):
    """--down or --fail names a gateway the rules never dial: a typo would otherwise change nothing."""


class Simulation:
    """One rules file, parsed once, and its rate decks, read once, routing any number of simulated calls
    (raises RulesError for the rules or a deck)."""

    def __init__(self, path: str) -> None:
        self.rules = loader.load(path)
        self.decks = load_decks(self.rules)  # as a switch loads them at start-up, but for this Simulation only

    def run(self, dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
            variables: Optional[Mapping[str, str]] = None, down: Collection[str] = (),
            fail: Optional[Mapping[str, str]] = None, calls: int = 1, explain: bool = False,
            at: Optional[str] = None) -> Dict[str, Any]:
        """Route ``calls`` calls from a fresh start (round robin, readings); one call gives its report,
        several a summary (with ``explain``: and why, as ``explanation``). Raises UnknownGateways.

        ``at``: the instant the calls come at (ISO 8601 with an offset), else now.
        """
        rules = self.rules
        named = {(variables or {}).get(r.gateway_var) for r in rules.routes if r.gateway_var}  # gateway: '${var}'
        known = rules.gateway_names() | {n for n in named if n}
        unknown = sorted((set(down) | set(fail or ())) - known)
        if unknown:
            raise UnknownGateways("the rules never name gateway '%s'%s (they name: %s)"
                                  % (unknown[0], did_you_mean(unknown[0], known), ", ".join(sorted(known)) or "none"))
        decks = self.decks
        # simulated calls stay out of the switch's metrics and events, and use this Simulation's decks
        loaded = Loaded(rules, observed=False, deck_of=lambda carrier: decks.get(carrier.deck))
        fake = FakeFreeSWITCH()
        by_profile: Dict[str, Tuple[List[str], List[str]]] = {rules.defaults.profile: ([], [])}
        for name in sorted(known | set(down)):
            by_profile.setdefault(rules.profile_of(name), ([], []))[name in down].append(name)
        for profile, (up, down_names) in by_profile.items():
            fake.set_gateways(profile, up=up, down=down_names)
        reports = []
        with fake:
            for _ in range(calls):
                session = StubSession(call_variables(dest, src_ip, caller, variables, at), fail, fake=fake)
                route_with(session, lambda: loaded)
                reports.append(_report(session))
        summary: Dict[str, Any]
        if calls == 1:
            summary = reports[0]
        else:
            bridged = Counter(r["attempts"][-1]["gateway"] for r in reports if r["result"] == "bridged")
            summary = {"calls": calls, "results": dict(Counter(r["result"] for r in reports)),
                       "gateways": dict(sorted(bridged.items()))}
        if explain:
            now = parse_instant(at) if at else time.time()
            summary["explanation"] = explain_call(rules, call_variables(dest, src_ip, caller, variables).get, now,
                                                  deck_of=loaded.deck_of)
        return summary


def simulate(path: str, dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
             variables: Optional[Mapping[str, str]] = None, down: Collection[str] = (),
             fail: Optional[Mapping[str, str]] = None, calls: int = 1, explain: bool = False,
             at: Optional[str] = None) -> Dict[str, Any]:
    """Route ``calls`` calls with the rules at ``path``; see Simulation.run. Raises RulesError, UnknownGateways."""
    return Simulation(path).run(dest, src_ip, caller, variables, down, fail, calls, explain, at)


# The gateway of a dial string, after its [leg variables] if any.
_GATEWAY_RE = re.compile(r"^(?:\[[^\]]*\])*sofia/gateway/([^/]*)/")


def _report(session: StubSession) -> Dict[str, Any]:
    attempts = []
    for dialstring, outcome in session.bridges:
        found = _GATEWAY_RE.search(dialstring)
        gateway = found.group(1) if found else None
        attempts.append({"gateway": gateway, "dialstring": dialstring, "outcome": outcome})
    report = {"result": session.getVariable("fsroute_result"),
              "route": session.getVariable("fsroute_route"),
              "number": session.getVariable("fsroute_number"),
              "attempts": attempts,
              "hangup_cause": session.hangup_cause}
    transfers = [data for app, data in session.executed if app == "transfer"]
    if transfers:
        report["transfer"] = transfers[-1]
    return report
