"""Counters and histograms of what calls did, in the Prometheus text exposition format (0.0.4).

One process-wide set of instruments, as Prometheus expects of a process:
they count from FreeSWITCH's start (or the last ``reset``) and a scrape
sees the totals. A finished call only queues its record (``record_call``);
the counting happens off the call's path (``count_pending``). The
instruments share one lock, held only for dict updates or for a copy while
a page is rendered, so a scrape never holds up a call for longer than that.
Live state (rules in force, gateway states) is read at scrape time by
``scrape.text``, not kept here.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Sequence, Tuple

from .record import CallRecord

# One sample: (sample name, label names, label values, value).
Sample = Tuple[str, Sequence[str], Sequence[Any], float]
Labels = Tuple[Any, ...]


def _escape_label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[Any]) -> str:
    if not names:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (n, _escape_label(v)) for n, v in zip(names, values))


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) and not value.is_integer() else "%d" % value


_LOCK = threading.Lock()


def family(name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> str:
    """The text of one metric family: ``samples`` are (sample name, label names, label values, value)."""
    lines = ["# HELP %s %s" % (name, _escape_help(help_text)), "# TYPE %s %s" % (name, kind)]
    lines += ["%s%s %s" % (sample, _labels(names, values), _number(value))
              for sample, names, values, value in samples]
    return "\n".join(lines) + "\n"


class Counter:
    """A monotonic count per label values; ``name`` ends in ``_total``."""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_text, tuple(labelnames)
        self._values: Dict[Labels, int] = {}

    def inc(self, *labels: Any) -> None:
        with _LOCK:
            self._add(labels)

    def _add(self, labels: Labels) -> None:
        """Count one; the caller holds _LOCK."""
        self._values[labels] = self._values.get(labels, 0) + 1

    def reset(self) -> None:
        with _LOCK:
            self._values.clear()

    def text(self) -> str:
        with _LOCK:
            items = sorted(self._values.items())
        return family(self.name, "counter", self.help,
                      [(self.name, self.labelnames, labels, value) for labels, value in items])


class Histogram:
    """Observations in cumulative buckets (upper bounds ``buckets``), with their sum and count."""

    def __init__(self, name: str, help_text: str, buckets: Iterable[float], labelnames: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_text, tuple(labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: Dict[Labels, List[Any]] = {}  # label values -> [per-bucket counts (last: above every bound), sum]

    def _observe(self, value: float, labels: Labels = ()) -> None:
        """Record one observation; the caller holds _LOCK."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [[0] * (len(self.buckets) + 1), 0.0]
        series[0][bisect.bisect_left(self.buckets, value)] += 1
        series[1] += value

    def reset(self) -> None:
        with _LOCK:
            self._series.clear()

    def text(self) -> str:
        with _LOCK:
            items = sorted((labels, (list(counts), total)) for labels, (counts, total) in self._series.items())
        names = self.labelnames + ("le",)
        samples: List[Sample] = []
        for labels, (counts, total) in items:
            running = 0
            for bound, count in zip(self.buckets + (math.inf,), counts):
                running += count
                samples.append((self.name + "_bucket", names, labels + (_number(bound),), running))
            samples.append((self.name + "_sum", self.labelnames, labels, total))
            samples.append((self.name + "_count", self.labelnames, labels, running))
        return family(self.name, "histogram", self.help, samples)


CALLS = Counter("fsroute_calls_total", "Calls fsroute handled, by result and route (\"\" when no route).",
                ("result", "route"))
CALL_ENDS = Counter("fsroute_call_ends_total",
                    "Calls by the last gateway tried (\"\" when none) and the final cause "
                    "(SUCCESS, the last attempt's cause, or the cause fsroute hung up with).",
                    ("gateway", "cause"))
ATTEMPTS = Counter("fsroute_bridge_attempts_total", "Bridge attempts by gateway and outcome cause.",
                   ("gateway", "cause"))
ATTEMPTS_PER_CALL = Histogram("fsroute_attempts_per_call", "Bridge attempts made for one call.",
                              (0, 1, 2, 3, 4, 5, 10, 20))
DECISION_SECONDS = Histogram("fsroute_decision_seconds",
                             "Time to decide a call: ACLs, routes, gateway states and order.",
                             (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0))
BRIDGE_SECONDS = Histogram("fsroute_bridge_attempt_seconds",
                           "Time the bridge application ran per attempt: until the failure for failed "
                           "attempts (setup time), until the bridge ended for answered ones.",
                           (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800), ("outcome",))
RELOADS = Counter("fsroute_rules_reloads_total", "Loads of a rules file by outcome (ok, error).",
                  ("path", "outcome"))
GATEWAY_CHANGES = Counter("fsroute_gateway_state_changes_total",
                          "Gateway state changes seen in gwlist readings, by the new state.",
                          ("gateway", "profile", "state"))

FRAUD_LEVELS = Counter("fsroute_fraud_levels_total", "Fraud levels reached (warn, block), by rule and measure.",
                       ("rule", "level", "measure"))

INSTRUMENTS = (CALLS, CALL_ENDS, ATTEMPTS, ATTEMPTS_PER_CALL, DECISION_SECONDS, BRIDGE_SECONDS,
               RELOADS, GATEWAY_CHANGES, FRAUD_LEVELS)


# Finished calls not counted yet. A call only appends its record (a fraction of a microsecond on its
# thread); the records are counted when a page is rendered and by the poller's thread after each of its
# rounds. Once MAX_PENDING wait (a long poller period under heavy traffic), the call asks that thread
# to count them now (``count_soon``, set by runtime.process); counting 10,000 records takes tens of
# milliseconds, which no call should wait for. Only past HARD_MAX_PENDING (no poller thread counts)
# does the call count them itself, so that memory stays bounded.
_pending: Deque[CallRecord] = deque()
MAX_PENDING = 10000
HARD_MAX_PENDING = 4 * MAX_PENDING
count_soon: Callable[[], None] = lambda: None


def record_call(record: CallRecord) -> None:
    """An observer: count one finished call (soon: see _pending)."""
    _pending.append(record)
    if len(_pending) >= MAX_PENDING:
        if len(_pending) < HARD_MAX_PENDING:
            count_soon()
        else:
            count_pending()


def count_pending() -> None:
    """Count every finished call recorded so far."""
    with _LOCK:
        while _pending:
            record = _pending.popleft()
            attempts = record.attempts
            CALLS._add((record.result, record.route or ""))
            CALL_ENDS._add((attempts[-1].gateway if attempts else "", record.final_cause()))
            for attempt in attempts:
                ATTEMPTS._add((attempt.gateway, attempt.cause))
                BRIDGE_SECONDS._observe(attempt.seconds, ("answered",) if attempt.cause == "SUCCESS"
                                        else ("failed",))
            ATTEMPTS_PER_CALL._observe(len(attempts))
            if record.decision_seconds is not None:
                DECISION_SECONDS._observe(record.decision_seconds)


def text() -> str:
    """Every instrument in the text exposition format."""
    count_pending()
    return "".join(instrument.text() for instrument in INSTRUMENTS)


def reset() -> None:
    """Start every count from zero (tests and simulations)."""
    _pending.clear()
    for instrument in INSTRUMENTS:
        instrument.reset()
