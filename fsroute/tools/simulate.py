"""Run the real call handling on stub calls under a fake switch: ``fsroute simulate``.

Nothing is re-implemented here: each simulated call goes through
``fsroute.runtime.call`` exactly as in FreeSWITCH, on an emulated switch of
its own (``fsroute.emulator``, reached through ``fslog.talking_to``: the
process's ``freeswitch`` module, real or a test's fake, is left alone), and
the report is read back from what the StubSession recorded. A Simulation parses its rules file
once, and reads the rate decks its carriers name once, and keeps its own
loaded rules and decks: the live rules, gateway readings and decks of the
process are never touched.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from typing import Any, Collection, Deque, Dict, List, Mapping, Optional, Tuple

from fsroute.core import fraud as fraud_levels
from fsroute.core import loader, router
from fsroute.core.text import did_you_mean
from fsroute.core.model import RuleSet
from fsroute.core.timespec import read_at
from fsroute.emulator import EmulatedSwitch, StubSession
from fsroute.runtime import fraud, observers
from fsroute.runtime.call import route_with
from fsroute.runtime.clock import SystemClock
from fsroute.runtime.fslog import talking_to
from fsroute.runtime.generation import standalone
from .lcrtool import load_decks
from .tabletool import load_tables


def call_variables(dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
                   variables: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Channel variables of an inbound SIP call, as sofia sets them."""
    out = {"destination_number": dest, "direction": "inbound", "context": "public"}
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
        self.tables = load_tables(self.rules)

    def run(self, dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
            variables: Optional[Mapping[str, str]] = None, down: Collection[str] = (),
            fail: Optional[Mapping[str, str]] = None, calls: int = 1, explain: bool = False,
            at: Optional[str] = None, global_variables: Optional[Mapping[str, str]] = None,
            cps: Optional[float] = None, hold: float = 0.0, account: Optional[str] = None) -> Dict[str, Any]:
        """Route ``calls`` calls from a fresh start (round robin, readings, breakers, limit counts); one
        call gives its report, several a summary (with ``explain``: why, as ``explanation``: the router's
        reasons for the first call, decided with the gateway states, decks and round-robin start it
        has). Raises UnknownGateways.

        ``at``: the instant the calls start at (timespec.read_at: without an offset, in the rules'
        defaults.tz, else UTC; the report's ``at`` says which), else now. ``global_variables``: the
        switch's, read when a call does not set a variable. Time is simulated, nobody sleeps: the calls
        come ``cps`` per second (None: all at the start instant), and with ``hold`` an answered call stays
        up that many seconds, counting in its gateway's max_calls until then. ``account``: the calls'
        account (sets the variable the accounts key names, or the source address); the summary's
        ``levels`` say when each fraud level was reached, by which call, naming the rule and the count.
        """
        rules = self.rules
        if account is not None:
            variables, src_ip = _with_account(rules, account, variables, src_ip)
        named = {(variables or {}).get(r.gateway_var) for r in rules.routes if r.gateway_var}  # gateway: '${var}'
        known = rules.gateway_names() | {n for n in named if n}
        known.update(*(table.gateways() for table in self.tables.values()))  # a switch defines them too
        unknown = sorted((set(down) | set(fail or ())) - known)
        if unknown:
            raise UnknownGateways("the rules never name gateway '%s'%s (they name: %s)"
                                  % (unknown[0], did_you_mean(unknown[0], known), ", ".join(sorted(known)) or "none"))
        start, shown = read_at(at, rules.defaults.tz) if at else (time.time(), None)
        clock = SimulatedClock(start)
        switch = _switch(rules, known, down, global_variables, clock)
        reports = []
        held: Deque[Tuple[float, StubSession]] = deque()  # (when it hangs up, call), in that order
        records: Dict[str, Any] = {}
        levels: List[str] = []
        with talking_to(switch.module), fraud.private(clock.time):
            # simulated calls stay out of the switch's metrics and events, and use this Simulation's decks
            loaded = standalone(rules, self.decks, clock, self.tables)
            # a held call's fraud counts end when it hangs up, in simulated time, not when it is routed
            loaded.observers = tuple(o for o in observers.of(loaded, False) if o is not fraud.ended) + (
                lambda record: records.__setitem__(record.uuid, record),)

            def ended(session: StubSession) -> None:
                record = records.pop(session.uuid, None)
                if record is not None and record.fraud is not None:
                    fraud.ended(record._replace(fraud=record.fraud._replace(talk_seconds=hold)))

            if explain:  # a dry run of the first call, as ctl test does: its states, decks and round-robin start
                reasons = router.decide(rules, call_variables(dest, src_ip, caller, variables).get, loaded.is_up,
                                        loaded.selector.copy(), start, loaded, deck_of=loaded.deck_of,
                                        explain=True, table_of=loaded.table_of).reasons
            for number in range(calls):
                arrives = number / cps if cps else 0.0
                while held and held[0][0] <= arrives:
                    clock.elapsed, session = held.popleft()
                    session.hangup("NORMAL_CLEARING")
                    ended(session)
                    levels += _levels(switch, len(levels), clock.elapsed, None)
                clock.elapsed = arrives
                session = StubSession(call_variables(dest, src_ip, caller, variables), fail, fake=switch,
                                      stay_up=hold > 0)
                route_with(session, lambda: loaded)
                if session.bridged():
                    held.append((clock.elapsed + hold, session))
                else:
                    ended(session)
                levels += _levels(switch, len(levels), clock.elapsed, number + 1)
                reports.append(_report(session))
            for hangup_at, session in held:
                clock.elapsed = hangup_at
                session.hangup("NORMAL_CLEARING")
                ended(session)
                levels += _levels(switch, len(levels), clock.elapsed, None)
        summary = reports[0] if calls == 1 else _summary(reports)
        if rules.fraud:
            summary["levels"] = levels
        if shown is not None:
            summary["at"] = shown
        if explain:
            summary["explanation"] = list(reasons)
        return summary


def _with_account(rules: RuleSet, account: str, variables: Optional[Mapping[str, str]], src_ip: Optional[str]
                  ) -> Tuple[Dict[str, str], Optional[str]]:
    """The variables and source address that make ``account`` the calls' account under the rules' key."""
    key = rules.accounts.variable if rules.accounts is not None else None
    if key is not None:
        return dict(variables or {}, **{key: account}), src_ip
    if rules.accounts is not None and rules.accounts.acl is not None:
        raise UnknownGateways("the accounts key is an acl node: give --src-ip in it rather than --account")
    return dict(variables or {}), account


def _levels(switch: EmulatedSwitch, seen: int, elapsed: float, call: Optional[int]) -> List[str]:
    """The fraud levels reached since the first ``seen``, as lines naming the rule and the count."""
    out = []
    for event in switch.fired(fraud.FRAUD_EVENT)[seen:]:
        measure = event["fsroute-fraud-measure"]
        out.append("t=%.1fs %s: %s %s of %s, %s %s" % (
            elapsed, "call %d" % call if call is not None else "a call ended", event["fsroute-fraud-rule"],
            event["fsroute-fraud-level"], event["fsroute-fraud-key"], measure,
            fraud_levels.amount(measure, float(event["fsroute-fraud-count"]),
                                float(event["fsroute-fraud-threshold"]))))
    return out


def _switch(rules: RuleSet, known: Collection[str], down: Collection[str],
            global_variables: Optional[Mapping[str, str]], clock: SystemClock) -> EmulatedSwitch:
    """An emulated switch that knows every gateway (``down`` ones DOWN), on the simulation's clock."""
    switch = EmulatedSwitch(global_variables)
    switch.limits.clock = switch.epoch = clock.time  # ${strepoch()} at an answer, too
    by_profile: Dict[str, Tuple[List[str], List[str]]] = {rules.defaults.profile: ([], [])}
    for name in sorted(set(known) | set(down)):
        by_profile.setdefault(rules.profile_of(name), ([], []))[name in down].append(name)
    for profile, (up, down_names) in by_profile.items():
        switch.set_gateways(profile, up=up, down=down_names)
    return switch


class SimulatedClock(SystemClock):
    """A simulation's clock: wall time from the run's start instant, moved by the simulation, not by time."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.elapsed = 0.0

    def monotonic(self) -> float:
        return self.elapsed

    def time(self) -> float:
        return self.start + self.elapsed


def _summary(reports: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Results, bridges per gateway, and per gateway the attempts dialled and the skips (benched, at_limit)."""
    bridged = Counter(r["attempts"][-1]["gateway"] for r in reports if r["result"] == "bridged")
    attempts = Counter(a["gateway"] for r in reports for a in r["attempts"])
    skipped: Dict[str, Counter[str]] = {}
    for report in reports:
        for gateway, why in report.get("skipped", ()):
            skipped.setdefault(gateway, Counter())[why] += 1
    return {"calls": len(reports), "results": dict(Counter(r["result"] for r in reports)),
            "gateways": dict(sorted(bridged.items())), "attempts": dict(sorted(attempts.items())),
            "skipped": {gateway: dict(sorted(why.items())) for gateway, why in sorted(skipped.items())}}


def simulate(path: str, dest: str, src_ip: Optional[str] = None, caller: Optional[str] = None,
             variables: Optional[Mapping[str, str]] = None, down: Collection[str] = (),
             fail: Optional[Mapping[str, str]] = None, calls: int = 1, explain: bool = False,
             at: Optional[str] = None, cps: Optional[float] = None, hold: float = 0.0,
             account: Optional[str] = None) -> Dict[str, Any]:
    """Route ``calls`` calls with the rules at ``path``; see Simulation.run. Raises RulesError, UnknownGateways."""
    return Simulation(path).run(dest, src_ip, caller, variables, down, fail, calls, explain, at, cps=cps, hold=hold,
                                account=account)


# The gateway of a dial string, after its [leg variables] if any.
_GATEWAY_RE = re.compile(r"^(?:\[[^\]]*\])*sofia/gateway/([^/]*)/")


def _report(session: StubSession) -> Dict[str, Any]:
    attempts = []
    for dialstring, outcome in session.bridges:
        found = _GATEWAY_RE.search(dialstring)
        gateway = found.group(1) if found else None
        attempts.append({"gateway": gateway, "dialstring": dialstring, "outcome": outcome})
    report: Dict[str, Any] = {"result": session.getVariable("fsroute_result"),
              "route": session.getVariable("fsroute_route"),
              "number": session.getVariable("fsroute_number"),
              "attempts": attempts,
              "hangup_cause": session.hangup_cause}
    skipped = session.getVariable("fsroute_skipped")  # gateway:why,... (benched, at_limit, limit_error)
    if skipped:
        report["skipped"] = [item.rsplit(":", 1) for item in skipped.split(",")]
    transfers = [data for app, data in session.executed if app == "transfer"]
    if transfers:
        report["transfer"] = transfers[-1]
    return report
