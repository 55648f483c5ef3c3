"""Fraud counting in the switch: the counts and blocks of this process, shared with a fleet through Redis.

A call that a fraud rule watches is checked and counted once, just before
its first bridge (``start``): refused when its account (or account and
number) is blocked, else counted as a call started, one more concurrent
call and one more call to the same number in a row. When fsroute is done
with the call, whichever way it ended, its record reaches ``ended`` (an
observer, once per call): the concurrent count goes back down, and an
answered call adds its minutes and its spend. Counts of a call that never
reaches its record (FreeSWITCH itself crashed) die with the process.

The state belongs to the process, not to a generation: counts and blocks
survive a rules reload (by rule name). With ``limits.backend: hiredis`` the
windowed counts (calls, minutes, spend) and the blocks are also sent to the
fleet's Redis through FreeSWITCH's ``hiredis_raw`` API by one background
thread (``fleet.py``), never on a call's path, and levels are judged on the
fleet's totals; while Redis cannot be reached, on this switch's own counts.
With hiredis the concurrent calls are the fleet's too: each watched call is
held in Redis by FreeSWITCH's ``limit`` application (``fraudhold.py``) until
it hangs up. Calls in a row are this switch's own.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator,  Callable, Dict, List, NamedTuple, Optional, Tuple

from fsroute.core import fraud
from fsroute.core.calendars import Moment
from fsroute.core.fraud import BLOCK, FraudCall, Reached, Watched
from fsroute.core.model import FraudRule, Outcome, RuleSet
from fsroute.core.tablerows import TableOf
from . import events
from .fleet import RedisFleet
from .fraudhold import Unheld
from .fslog import WARNING, log
from .metrics import FRAUD_LEVELS

FRAUD_EVENT = "fsroute::fraud"
Hold = Callable[[str, str], Optional[int]]  # (rule, key) -> the fleet's concurrent calls with this one
PRUNE_AT = 10000  # windowed counts kept before those of windows that are over are dropped


class Block(NamedTuple):
    until: float
    why: str


class FraudState:
    """This process's counts and blocks; every call thread shares it (one lock). ``clock``: epoch seconds."""

    def __init__(self, clock: Callable[[], float] = time.time, shared: bool = True) -> None:
        self.clock = clock
        self.shared = shared  # False: a tool's private counts, never sent to a fleet
        self._lock = threading.Lock()
        self._windows: Dict[Tuple[str, str, str], List[float]] = {}  # (rule, key, measure) -> [window, count]
        self._concurrent: Dict[Tuple[str, str], int] = {}
        self._runs: Dict[Tuple[str, str], Tuple[str, int]] = {}  # (rule, account) -> (number, calls in a row)
        self.blocks: Dict[Tuple[str, str], Block] = {}
        self._lengths: Dict[str, float] = {}  # rule -> its window length, for pruning
        self._prune_at = PRUNE_AT

    def blocked(self, rule: str, key: str, now: float) -> Optional[Block]:
        block = self.blocks.get((rule, key))
        if block is None or block.until > now:
            return block
        with self._lock:
            if self.blocks.get((rule, key)) is block:
                del self.blocks[(rule, key)]  # over: lifted by the first call that looks
        return None

    def add(self, rule: FraudRule, key: str, measure: str, amount: float, now: float) -> Tuple[float, float]:
        """(before, after) of the rule's count of ``measure`` in the window holding ``now``."""
        window = fraud.window_of(rule, now)
        self._lengths[rule.name] = rule.window
        with self._lock:
            slot = self._windows.get((rule.name, key, measure))
            if slot is None or slot[0] != window:
                if slot is None and len(self._windows) >= self._prune_at:
                    self._prune(now)
                slot = self._windows[(rule.name, key, measure)] = [window, 0.0]
            before = slot[1]
            slot[1] = before + amount
            return before, slot[1]

    def _prune(self, now: float) -> None:
        """Drop the counts of windows that are over (the caller holds the lock): one count per account
        and number would otherwise grow without end. Runs when the table doubles, so its cost is spread."""
        self._windows = {k: slot for k, slot in self._windows.items()
                         if slot[0] >= int(now // self._lengths.get(k[0], 1.0))}
        self._prune_at = max(PRUNE_AT, 2 * len(self._windows))

    def concurrent(self, rule: str, key: str, change: int) -> Tuple[int, int]:
        with self._lock:
            before = self._concurrent.get((rule, key), 0)
            after = max(0, before + change)
            if after:
                self._concurrent[(rule, key)] = after
            else:
                self._concurrent.pop((rule, key), None)
            return before, after

    def in_a_row(self, rule: str, account: str, number: str) -> Tuple[int, int]:
        with self._lock:
            last, run = self._runs.get((rule, account), ("", 0))
            after = run + 1 if last == number else 1
            self._runs[(rule, account)] = (number, after)
            return (run if last == number else 0), after

    def block(self, rule: str, key: str, until: float, why: str) -> bool:
        """Block ``key`` under ``rule`` until ``until`` (a later block wins); True when it was not blocked."""
        with self._lock:
            known = self.blocks.get((rule, key))
            if known is not None and known.until >= until:
                return False
            self.blocks[(rule, key)] = Block(until, why)
            return known is None or known.until <= self.clock()

    def lift(self, rule: str, key: str) -> None:
        """Lift one block (another switch of the fleet lifted it)."""
        with self._lock:
            self.blocks.pop((rule, key), None)

    def unblock(self, account: str) -> List[Tuple[str, str]]:
        """Lift every block of ``account`` (also its per-number ones); the (rule, key) pairs lifted."""
        with self._lock:
            lifted = [k for k in self.blocks if k[1] == account or k[1].startswith(account + "/")]
            for k in lifted:
                del self.blocks[k]
            return lifted

    def active_blocks(self, now: float) -> List[Tuple[str, str, Block]]:
        with self._lock:
            return sorted((rule, key, b) for (rule, key), b in self.blocks.items() if b.until > now)

    def counts(self) -> List[Tuple[str, str, str, float]]:
        """(rule, key, measure, count) of each window last counted in, and of the concurrent calls."""
        with self._lock:
            found = [(r, k, m, slot[1]) for (r, k, m), slot in self._windows.items()]
            found += [(r, k, "concurrent", float(n)) for (r, k), n in self._concurrent.items()]
        return sorted(found)


STATE = FraudState()
_fleets: Dict[str, RedisFleet] = {}  # by hiredis profile
_fleets_lock = threading.Lock()


def forget() -> None:
    """Drop every count, block and fleet: a fresh process (tests; a restart loses this switch's own)."""
    global STATE
    STATE = FraudState()
    with _fleets_lock:
        _fleets.clear()


@contextmanager
def private(clock: Callable[[], float]) -> Iterator[FraudState]:
    """Within the block, counts and blocks of a tool's own (a simulation, on its clock): the process's
    are left alone, and nothing reaches a fleet."""
    global STATE
    saved, STATE = STATE, FraudState(clock, shared=False)
    try:
        yield STATE
    finally:
        STATE = saved


def fleet_of(rules: RuleSet) -> Optional[RedisFleet]:
    """The fleet sharing the counts of ``rules`` (limits.backend hiredis: its profile's), else None."""
    limits = rules.defaults.limits
    if limits.backend != "hiredis" or not STATE.shared:
        return None
    found = _fleets.get(limits.realm)
    if found is None:
        with _fleets_lock:
            found = _fleets.setdefault(limits.realm, RedisFleet(limits.realm, STATE, level_reached))
    return found


def start(rules: RuleSet, account: str, number: str, route: Optional[str], now: float,
          moment: Optional[Moment], table_of: Optional[TableOf] = None, hold: Optional[Hold] = None
          ) -> Tuple[Optional[Tuple[FraudRule, Block]], Tuple[Watched, ...], bool]:
    """Check and count a call about to be dialled: (the rule and block refusing it or None, what watches
    it, whether a rule needs its talk time). A refused call is not counted. ``table_of``: the
    generation's loaded tables, for rules that watch a table's numbers. ``hold(rule, key)``: counts the
    call in the fleet's concurrent calls (runtime/fraudhold.py) and gives the fleet's count, used while
    the fleet's Redis answers; it raises Unheld when Redis failed the count and the call was hung up."""
    rules_watching = fraud.watching(rules.fraud, route, number, moment, table_of, now)
    if not rules_watching:
        return None, (), False
    state, fleet = STATE, fleet_of(rules)
    keyed = [(rule, fraud.key_of(rule, account, number)) for rule in rules_watching]
    for rule, key in keyed:
        block = state.blocked(rule.name, key, now)
        if block is not None:
            return (rule, block), (), False
    held = _held(fleet, hold, keyed)
    talk = False
    for rule, key in keyed:
        found: List[Reached] = []
        for threshold in rule.thresholds:
            measure = threshold.measure
            if measure == "calls":
                found += _windowed(state, fleet, rule, key, measure, 1.0, now)
            elif measure == "concurrent":
                local = state.concurrent(rule.name, key, 1)
                total = held.get(rule.name)
                found += fraud.reached(rule, key, measure, *(local if total is None else (total - 1, total)))
            elif measure == "same_number":
                found += fraud.reached(rule, key, measure, *state.in_a_row(rule.name, account, number))
            else:
                talk = True
        if "concurrent" not in fraud.measures(rule):
            state.concurrent(rule.name, key, 1)  # counted anyway: ``fraud status`` shows it
        _tell(rule, found, now, fleet)
    return None, tuple(Watched(rule.name, key, account) for rule, key in keyed), talk


def _held(fleet: Optional[RedisFleet], hold: Optional[Hold], keyed: List[Tuple[FraudRule, str]]) -> Dict[str, int]:
    """{rule: the fleet's concurrent calls with this one} for the rules with concurrent levels, counted in
    Redis while it answers; with hash, or Redis known unreachable, none (judged on this switch's count)."""
    held: Dict[str, int] = {}
    if fleet is None or hold is None or not fleet.healthy:
        return held
    try:
        for rule, key in keyed:
            if "concurrent" in fraud.measures(rule):
                total = hold(rule.name, key)
                if total is not None:
                    held[rule.name] = total
    except Unheld as exc:
        fleet.unreachable(str(exc))  # the next calls count on this switch until Redis answers again
        raise
    return held


def ended(record: object) -> None:
    """An observer: count what a watched call did, once, when fsroute is done with it."""
    call: Optional[FraudCall] = getattr(record, "fraud", None)
    rules: Optional[RuleSet] = getattr(record, "rules", None)
    if call is None or rules is None:
        return
    state, fleet = STATE, fleet_of(rules)
    now = state.clock()
    by_name = {rule.name: rule for rule in rules.fraud}
    answered = getattr(record, "result", None) is Outcome.BRIDGED and call.talk_seconds is not None
    for watched in call.watched:
        state.concurrent(watched.rule, watched.key, -1)
        rule = by_name.get(watched.rule)
        if rule is None or not answered:
            continue
        seconds = max(0, int(call.talk_seconds or 0))
        found: List[Reached] = []
        for measure in fraud.measures(rule):
            if measure == "minutes":
                found += _windowed(state, fleet, rule, watched.key, measure, float(seconds), now)
            elif measure == "spend":
                cost = fraud.spend(rule, call.rate, seconds)
                if cost:
                    found += _windowed(state, fleet, rule, watched.key, measure, float(cost), now)
        _tell(rule, found, now, fleet)


def _windowed(state: FraudState, fleet: Optional[RedisFleet], rule: FraudRule, key: str, measure: str, amount: float,
              now: float) -> List[Reached]:
    """Count ``amount``; the levels reached on this switch's count, unless a fleet judges them on its total."""
    local = state.add(rule, key, measure, amount, now)
    if fleet is not None and fleet.count(rule, key, measure, amount, now, local):
        return []
    return fraud.reached(rule, key, measure, *local)


def _tell(rule: FraudRule, found: List[Reached], now: float, fleet: Optional[RedisFleet]) -> None:
    for reached in found:
        level_reached(rule, reached, now, fleet)


def level_reached(rule: FraudRule, reached: Reached, now: float, fleet: Optional[RedisFleet]) -> None:
    """A warning, or a block from now on (shared with the fleet): the WARNING line, the fsroute::fraud
    event, the metric."""
    until = now + rule.block_for if reached.level == BLOCK else None
    if until is not None:  # each block level reached is told, also one that only makes a block longer
        STATE.block(rule.name, reached.key, until, fraud.describe(reached))
        if fleet is not None:
            fleet.announce(rule.name, reached.key, until)
    log(WARNING, "fsroute: fraud %s%s" % (fraud.describe(reached), " -- blocked until %s" % time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(until)) if until is not None else ""))
    FRAUD_LEVELS.inc(reached.rule, reached.level, reached.measure)
    events.fire(FRAUD_EVENT, [
        ("fsroute-fraud-rule", reached.rule), ("fsroute-fraud-key", reached.key),
        ("fsroute-fraud-level", reached.level), ("fsroute-fraud-measure", reached.measure),
        ("fsroute-fraud-count", _plain(reached.value)), ("fsroute-fraud-threshold", _plain(reached.threshold)),
        ("fsroute-fraud-window", _plain(rule.window))] + (
        [("fsroute-fraud-until", "%d" % until)] if until is not None else []))



def status_text() -> str:
    """``ctl fraud status``: the blocks in force and the counts of the current windows."""
    now = STATE.clock()
    lines = ["fraud blocks:"]
    blocks = STATE.active_blocks(now)
    lines += ["  %s %s until %s (%ds left): %s" % (rule, key, time.strftime("%Y-%m-%d %H:%M:%S",
              time.localtime(block.until)), block.until - now, block.why) for rule, key, block in blocks] or ["  none"]
    lines.append("fraud counts (this switch: each key's last window, and its calls up now):")
    counts = STATE.counts()
    lines += ["  %s %s %s %s%s" % ((rule, key, measure) + fraud.in_unit(measure, value))
              for rule, key, measure, value in counts] or ["  none"]
    for profile, fleet in sorted(_fleets.items()):
        lines.append("fleet: hiredis profile %s, Redis %s" % (profile, "reachable" if fleet.healthy else
                                                              "NOT reachable (levels judged on this switch's counts)"))
    return "\n".join(lines) + "\n"


def unblock(account: str) -> str:
    """``ctl fraud unblock ACCOUNT``: lift its blocks here and, through Redis, on the fleet."""
    lifted = STATE.unblock(account)
    for fleet in list(_fleets.values()):
        for rule, key in lifted or [("*", account)]:
            fleet.lift(rule, key)
    if not lifted:
        return "+OK %s was not blocked here%s\n" % (account, " (lift sent to the fleet)" if _fleets else "")
    return "+OK unblocked %s\n" % ", ".join("%s %s" % pair for pair in lifted)


def _plain(value: float) -> str:
    """A count as an event header: whole numbers without an exponent (spend is in micro-units)."""
    return "%d" % value if value == int(value) else "%.3f" % value
