"""The call record: what one call did, frozen when fsroute is done with it, and who is told.

The call loop (runtime.call) produces one ``CallRecord`` per call and hands
it to each observer in turn: the log line, the counters of ``ctl status``,
the metrics, the ``fsroute::route`` event, the trace. An observer is any
callable taking the record; it never sees the call loop, and adding one
touches no other. Observers never raise into the call: ``publish`` drops
what they throw.
"""

from __future__ import annotations

from typing import Callable, FrozenSet, NamedTuple, Optional, Sequence, Tuple

from fsroute.core.fraud import FraudCall
from fsroute.core.legs import Dial
from fsroute.core.model import Outcome, RuleSet
from fsroute.core.router import Decision


class Attempt(NamedTuple):
    """One bridge that ran: through ``dial`` (its gateway, dial string; lcr: carrier, prefix, rate)."""
    gateway: str
    cause: str        # SUCCESS, or the originate cause
    seconds: float    # how long the bridge application ran
    dial: Dial
    sip: Optional[int] = None  # the failed leg's SIP status (core.failover), None when answered or unknown
    answered_after: Optional[float] = None  # seconds from the INVITE to the answer (quality measured only)
    pdd: Optional[float] = None  # seconds from the INVITE to the first ring or early media (quality measured only)


class Skip(NamedTuple):
    """A gateway of the decision not dialled: DOWN in a newer reading, benched, at its limits."""
    gateway: str
    why: str          # "down", "benched", "at_limit", "limit_error", "drained", "disabled", "quality"


class CallRecord(NamedTuple):
    """One finished call, as fsroute saw it."""
    uuid: str
    result: Outcome
    rules: Optional[RuleSet]          # None when no rules could be loaded
    sha: Optional[str]                # the rules' sha (first 12 hex), None without rules
    decision: Optional[Decision]      # None when the call failed before one was made
    route: Optional[str] = None       # the route that took the call
    number: Optional[str] = None      # the number dialled or transferred to
    source: Optional[str] = None
    now: Optional[float] = None       # the call's instant (timed rules and least-cost routes only)
    attempts: Tuple[Attempt, ...] = ()
    skipped: Tuple[Skip, ...] = ()
    hangup_cause: Optional[str] = None  # the cause fsroute hung up with
    detail: str = ""
    decision_seconds: Optional[float] = None
    seconds: float = 0.0              # from the call entering fsroute to the record
    traced: bool = False              # the call asked for a trace (fsroute_trace=true)
    readings: Tuple[Tuple[str, Optional[FrozenSet[str]], float], ...] = ()  # traced calls: (profile, down, when)
    account: Optional[str] = None     # with accounts: in the rules, the account of a call fsroute dialled or refused
    fraud: Optional[FraudCall] = None  # the fraud rules that counted the call, and what prices it

    def final_cause(self) -> str:
        """SUCCESS, the cause fsroute hung up with, else the last attempt's cause, else NONE."""
        if self.result is Outcome.BRIDGED:
            return "SUCCESS"
        return self.hangup_cause or (self.attempts[-1].cause if self.attempts else "NONE")


Observer = Callable[[CallRecord], None]


def publish(record: CallRecord, observers: Sequence[Observer]) -> None:
    """Hand ``record`` to every observer; one that raises does not stop the others or the call."""
    for observer in observers:
        try:
            observer(record)
        except Exception:
            pass
