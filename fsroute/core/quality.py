"""Routing on measured quality: sliding windows of a gateway's attempts, their figures, the verdict.

Pure: the runtime (runtime.quality) keeps the windows, feeds them from each
call record and passes the instant in. A window holds, per time slice, a
gateway's attempts and what became of them; its figures are the ones
OpenSIPS qrouting and class-4 switches route on:

- ASR: answered / attempts;
- NER: (answered + outcomes on the callee's side: busy, no answer, declined,
  the caller giving up) / attempts: a carrier is not to blame for a busy callee;
- ACD: mean talk time of the answered attempts (seconds);
- PDD: mean time from the INVITE to the first ring or early media (seconds);
- short calls: answered attempts shorter than ``short_call`` seconds over answered ones
  (a sign of false answer supervision).

A verdict needs ``min_samples`` attempts in the window. Below a ``warn``
floor (above a ``warn`` ceiling for PDD and short calls) a gateway is moved
to the end of the order; past a ``critical`` one it is skipped, as a benched
breaker is, except for one probe call every ``probe_every`` seconds. A call
is never refused for quality alone: when every gateway is critical they are
tried in their order.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

from .causes import CALLEE_CAUSES

OK, WARN, CRITICAL, PROBE = "ok", "warn", "critical", "probe"
FLOORS = ("asr", "ner", "acd")          # a figure below its threshold is bad
CEILINGS = ("pdd", "short_calls")       # a figure above its threshold is bad
FIGURES = FLOORS + CEILINGS
# Outcomes on the callee's side (NER counts them with the answers).
USER_SIDE = CALLEE_CAUSES | frozenset(("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "SUBSCRIBER_ABSENT",
                                       "UNALLOCATED_NUMBER"))
SLICES = 10  # a window is this many time slices; the oldest goes as time moves on


class QualityRule(NamedTuple):
    """Thresholds: ``warn`` / ``critical`` as ((figure, value), ...), and the sample size a verdict needs."""
    min_samples: int = 20
    warn: Tuple[Tuple[str, float], ...] = ()
    critical: Tuple[Tuple[str, float], ...] = ()


class ClassTable(NamedTuple):
    """A destination class read from a number table: a number's row gives it, as the row's cell in
    ``column``, or (no column) the table's own name."""
    table: str
    column: Optional[str] = None
    line: int = 0   # where the rules name it (a table is checked once the tables are read)
    col: int = 0


class QualitySettings(NamedTuple):
    """``defaults.quality``: how the windows are kept, the destination classes, the default thresholds."""
    window: float = 900.0
    short_call: float = 6.0
    probe_every: float = 60.0
    classes: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()  # (name, prefixes), for figures per class
    rule: QualityRule = QualityRule()
    class_tables: Tuple[ClassTable, ...] = ()  # looked up in order before the prefix lists

    @property
    def classed(self) -> bool:
        """Whether it has any destination class (prefix lists or tables)."""
        return bool(self.classes or self.class_tables)


class Sample(NamedTuple):
    """One attempt's outcome, as a window counts it."""
    answered: bool
    user_side: bool
    talk: Optional[float]   # answered: seconds from the answer to the end of the bridge
    pdd: Optional[float]    # seconds to the first ring or early media, None when unknown


class Figures(NamedTuple):
    attempts: int
    answered: int
    asr: Optional[float]
    ner: Optional[float]
    acd: Optional[float]
    pdd: Optional[float]
    short_calls: Optional[float]

    def value(self, figure: str) -> Optional[float]:
        found: Optional[float] = getattr(self, figure)
        return found


class Verdict(NamedTuple):
    level: str   # OK, WARN, CRITICAL or PROBE (critical, this call is its probe)
    why: str


class Window:
    """A sliding window of ``seconds`` in SLICES slices, with running totals so that its figures cost
    the same however many attempts it holds; not thread-safe (runtime.quality holds a lock)."""

    __slots__ = ("width", "short_call", "_slices", "_totals", "version")

    def __init__(self, seconds: float, short_call: float) -> None:
        self.width = seconds / SLICES
        self.short_call = short_call
        # per slice and in total: [index, attempts, answered, user_side, talk_sum, talk_n, short, pdd_sum, pdd_n]
        self._slices: Deque[List[float]] = deque()
        self._totals: List[float] = [0.0] * 9
        self.version = 0  # changes whenever its figures may have: an attempt added, a slice gone

    def add(self, now: float, sample: Sample) -> None:
        index = int(now // self.width)
        self._expire(index)
        self.version += 1
        slices = self._slices
        if not slices or slices[-1][0] != index:
            slices.append([index, 0, 0, 0, 0.0, 0, 0, 0.0, 0])
        for counts in (slices[-1], self._totals):
            counts[1] += 1
            if sample.answered:
                counts[2] += 1
                if sample.talk is not None:
                    counts[4] += sample.talk
                    counts[5] += 1
                    counts[6] += sample.talk < self.short_call
            elif sample.user_side:
                counts[3] += 1
            if sample.pdd is not None:
                counts[7] += sample.pdd
                counts[8] += 1

    def _expire(self, index: int) -> None:
        slices, totals = self._slices, self._totals
        while slices and slices[0][0] <= index - SLICES:
            gone = slices.popleft()
            self.version += 1
            for i in range(1, 9):
                totals[i] -= gone[i]
        if not slices:
            self._totals = [0.0] * 9  # no rounding left over from the float sums

    def slice_of(self, now: float) -> int:
        return int(now // self.width)

    def talk(self, now: float) -> Tuple[float, int]:
        """(seconds talked, answered attempts with a talk time) in the window: what its ACD is drawn from."""
        self._expire(int(now // self.width))
        return self._totals[4], int(self._totals[5])

    def figures(self, now: float) -> Figures:
        self._expire(int(now // self.width))
        _, attempts_f, answered_f, user_side, talk, talked, short, pdd, timed = self._totals
        attempts, answered = int(attempts_f), int(answered_f)
        return Figures(attempts, answered,
                       answered / attempts if attempts else None,
                       (answered + user_side) / attempts if attempts else None,
                       talk / talked if talked else None,
                       pdd / timed if timed else None,
                       short / talked if talked else None)


def sample_of(cause: str, talk: Optional[float], pdd: Optional[float]) -> Sample:
    """What an attempt that ended with ``cause`` counts as."""
    answered = cause == "SUCCESS"
    return Sample(answered, not answered and cause in USER_SIDE, talk if answered else None, pdd)


def verdict(figures: Figures, rule: QualityRule) -> Verdict:
    """OK, WARN or CRITICAL for ``figures`` under ``rule``, with the figure that decided."""
    if figures.attempts < rule.min_samples:
        return Verdict(OK, "")
    for level, thresholds in ((CRITICAL, rule.critical), (WARN, rule.warn)):
        for figure, limit in thresholds:
            value = figures.value(figure)
            if value is None:
                continue
            if (value < limit) if figure in FLOORS else (value > limit):
                return Verdict(level, "%s %s %s %s %s over %d attempts" % (
                    figure, _shown(figure, value), "below" if figure in FLOORS else "above", level,
                    _shown(figure, limit), figures.attempts))
    return Verdict(OK, "")


def _shown(figure: str, value: float) -> str:
    return "%.0f%%" % (value * 100) if figure in ("asr", "ner", "short_calls") else "%.1fs" % value


def class_of(classes: Tuple[Tuple[str, Tuple[str, ...]], ...], number: str) -> Optional[str]:
    """The destination class whose longest prefix starts ``number`` (None: none does)."""
    best, length = None, -1
    for name, prefixes in classes:
        for prefix in prefixes:
            if len(prefix) > length and number.startswith(prefix):
                best, length = name, len(prefix)
    return best


# judge(gateway) -> the gateway's verdict for the call being decided
Judge = Callable[[str], Verdict]
T = TypeVar("T")


def arrange(items: Sequence[T], gateway_of: Callable[[T], str], judge: Judge
            ) -> Tuple[List[T], Dict[str, Verdict]]:
    """(``items`` (gateways, or attempts through them) with those of WARN gateways moved to the end and
    those of CRITICAL ones left out, the verdicts that moved or left out a gateway). When every item
    would be left out, all are kept in their order."""
    verdicts = {name: judge(name) for name in dict.fromkeys(gateway_of(item) for item in items)}
    if all(v.level == OK for v in verdicts.values()):
        return list(items), {}
    kept = [i for i in items if verdicts[gateway_of(i)].level in (OK, PROBE)]
    demoted = [i for i in items if verdicts[gateway_of(i)].level == WARN]
    moved = {g: v for g, v in verdicts.items() if v.level != OK}
    if not kept and not demoted:  # never refuse a call for quality alone
        return list(items), {g: Verdict(PROBE, v.why + "; every gateway is critical, tried anyway")
                             for g, v in moved.items()}
    return kept + demoted, moved


class Acd(NamedTuple):
    """A destination class's answered calls (with a talk time) in the windows of some gateways, pooled: one
    figure for the destination, whichever gateway carried its calls, once there are ``min_samples``."""
    kind: Optional[str]          # the destination class (None: the number is in none)
    calls: int
    talked: float                # their seconds of talk
    through: Tuple[str, ...]     # the gateways that carried them
    min_samples: int

    @property
    def seconds(self) -> Optional[float]:
        """The mean talk time, None without a class or with too few calls."""
        if self.kind is None or self.calls < max(1, self.min_samples):
            return None
        return self.talked / self.calls

    def why(self) -> str:
        """Where the figure comes from, or why there is none, in words (only explanations ask)."""
        if self.kind is None:
            return "the number is in no destination class"
        through = ", ".join(self.through) or "its gateways"
        seconds = self.seconds
        if seconds is None:
            return "%d answered call%s of class %s through %s in the window, fewer than min_samples %d" % (
                self.calls, "" if self.calls == 1 else "s", self.kind, through, self.min_samples)
        return "the measured ACD of class %s: %.1f s over %d answered calls through %s" % (
            self.kind, seconds, self.calls, through)
