"""The quality windows of a rules file's gateways: fed by each call record, read by each decision.

An observer of the frozen CallRecord (runtime.observers) adds each attempt
to its gateway's sliding window, and to its gateway and destination class's
(``defaults.quality.classes``). The router asks ``judge_for`` for the verdict
of each gateway of a decision (core.quality); a critical gateway gets one
probe call every ``probe_every`` seconds, counted from when it went
critical. Each verdict change is one log line and one ``fsroute::gateway``
event. The tracker is shared by every generation of the file whose windows
are kept the same (window, short_call), so a reload keeps what was measured.
Per process: a fleet's switches each measure their own (sharing through
Redis is not done).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional, Set, Tuple

from fsroute.core import quality
from fsroute.core.destclass import class_for
from fsroute.core.model import Route, RuleSet
from fsroute.core.tablerows import TableOf
from fsroute.core.quality import CRITICAL, OK, PROBE, Acd, Figures, Judge, QualityRule, QualitySettings, Verdict, Window
from . import events, metrics
from .fslog import NOTICE, log
from .record import CallRecord

Key = Tuple[str, Optional[str]]  # (gateway, destination class or None for all its calls)
_NO_VERDICT = Verdict(OK, "")


class QualityTracker:
    """Sliding windows per gateway and per gateway and class, the verdicts last announced, the probes."""

    def __init__(self, settings: QualitySettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self._windows: Dict[Key, Window] = {}
        self._levels: Dict[Tuple[str, Optional[str], str], str] = {}  # (gateway, class, scope) -> level
        self._critical_since: Dict[Tuple[str, Optional[str], str], float] = {}
        self._probed: Dict[Tuple[str, Optional[str], str], float] = {}
        self._cache: Dict[Tuple[str, Optional[str], str], Tuple[Tuple[int, int, int, QualityRule], Verdict,
                                                                 Optional[str]]] = {}
        self._lock = threading.Lock()

    def keep_routes(self, names: Set[str]) -> None:
        """Forget the verdicts of routes a new generation no longer has (their windows stay: they are the
        gateways')."""
        with self._lock:
            for table in (self._levels, self._critical_since, self._probed, self._cache):
                for key in [k for k in table if k[2] not in names]:
                    del table[key]

    def carries(self, settings: QualitySettings) -> bool:
        """Whether a new generation with ``settings`` can keep these windows (same window and short_call)."""
        return (settings.window, settings.short_call) == (self.settings.window, self.settings.short_call)

    # -- fed by the call records (an observer) -----------------------------------------------------
    def observe(self, record: CallRecord, table_of: Optional[TableOf] = None) -> None:
        """Add the record's attempts to their windows; ``table_of``: the loaded tables of the generation
        that routed it, for classes read from tables."""
        if not record.attempts:
            return
        settings = self.settings
        kind = class_for(settings, record.number, table_of, record.now if record.now is not None else time.time()) \
            if settings.classed and record.number else None
        now = self.clock()
        with self._lock:
            for attempt in record.attempts:
                talk = attempt.seconds - attempt.answered_after if attempt.answered_after is not None else None
                sample = quality.sample_of(attempt.cause, talk, attempt.pdd)
                for key in ((attempt.gateway, None), (attempt.gateway, kind)) if kind else ((attempt.gateway, None),):
                    window = self._windows.get(key)
                    if window is None:
                        window = self._windows[key] = Window(settings.window, settings.short_call)
                    window.add(now, sample)

    # -- read by the router --------------------------------------------------------------------------
    def judge_for(self, rules: RuleSet, route: Optional[Route], number: Optional[str], dry: bool = False,
                  table_of: Optional[TableOf] = None, now: float = 0.0, preview: bool = False) -> Optional[Judge]:
        """The verdict of each gateway for a call of ``route`` to ``number`` (None: no thresholds apply);
        ``dry``: for a dry run (``ctl test``), which claims no probe call and changes no verdict;
        ``preview``: the verdict the call's judge will give (a due probe too), claiming and changing nothing;
        ``table_of`` and ``now``: the generation's loaded tables and the instant, for classes from tables."""
        if route is None:
            return None
        rule = self.rule_of(rules, route)
        if not rule.warn and not rule.critical:
            return None
        kind = class_for(self.settings, number, table_of, now) if self.settings.classed and number else None
        scope = route.name
        if dry:
            return lambda gateway: self._dry_verdict(gateway, kind, rule, scope)
        if preview:
            return lambda gateway: self._preview(gateway, kind, rule, scope)
        return lambda gateway: self._verdict(gateway, kind, rule, scope)

    def acd_for(self, rules: RuleSet, route: Route, number: str, gateways: Tuple[str, ...],
                table_of: Optional[TableOf] = None, now: float = 0.0) -> Acd:
        """The answered calls of ``number``'s destination class in ``gateways``' windows of that class,
        pooled (an lcr route's call length: core.lcr.call_length), against the route's min_samples;
        ``table_of`` and ``now`` (epoch) read classes from number tables, as judge_for does."""
        kind = class_for(self.settings, number, table_of, now) if self.settings.classed else None
        calls, talked, through = 0, 0.0, []
        if kind is not None:
            now = self.clock()
            with self._lock:
                for gateway in gateways:
                    window = self._windows.get((gateway, kind))
                    if window is not None:
                        seconds, count = window.talk(now)
                        if count:
                            calls += count
                            talked += seconds
                            through.append(gateway)
        return Acd(kind, calls, talked, tuple(through), self.rule_of(rules, route).min_samples)

    def _dry_verdict(self, gateway: str, kind: Optional[str], rule: QualityRule, scope: str) -> Verdict:
        with self._lock:
            return self._raw(gateway, kind, rule, scope, self.clock())[0]

    def rule_of(self, rules: RuleSet, route: Route) -> QualityRule:
        """The route's thresholds, else its group's, else defaults.quality's."""
        if route.quality is not None:
            return route.quality
        group = rules.groups.get(route.group) if route.group else None
        if group is not None and group.quality is not None:
            return group.quality
        return self.settings.rule

    def _verdict(self, gateway: str, kind: Optional[str], rule: QualityRule, scope: str) -> Verdict:
        now = self.clock()
        with self._lock:
            found, judged_kind = self._raw(gateway, kind, rule, scope, now)
            key = (gateway, judged_kind, scope)
            before = self._levels.get(key, OK)
            if found.level == OK and before == OK:
                return found  # the common case: nothing to remember or announce
            if found.level == CRITICAL:
                self._critical_since.setdefault(key, now)
                if self._probe_due(key, now):
                    self._probed[key] = now
                    found = Verdict(PROBE, found.why + "; a probe call")
            else:
                self._critical_since.pop(key, None)
                self._probed.pop(key, None)
            level = CRITICAL if found.level == PROBE else found.level
            self._levels[key] = level
        if level != before:
            _announce(gateway, judged_kind, scope, level, before, found.why)
        return found

    def _preview(self, gateway: str, kind: Optional[str], rule: QualityRule, scope: str) -> Verdict:
        """What _verdict would answer now, remembering and announcing nothing: the router leaves a critical
        gateway out before its group's pick, and keeps one whose probe is due for _verdict to claim."""
        now = self.clock()
        with self._lock:
            found, judged_kind = self._raw(gateway, kind, rule, scope, now)
            if found.level == CRITICAL and self._probe_due((gateway, judged_kind, scope), now):
                return Verdict(PROBE, found.why)
        return found

    def _probe_due(self, key: Tuple[str, Optional[str], str], now: float) -> bool:
        """Whether a critical gateway's probe call is due (the caller holds the lock)."""
        since = self._critical_since.get(key, now)
        return now - self._probed.get(key, since) >= self.settings.probe_every

    def _raw(self, gateway: str, kind: Optional[str], rule: QualityRule, scope: str, now: float
             ) -> Tuple[Verdict, Optional[str]]:
        """(the verdict of the figures alone, the class they were drawn for), reused while neither window
        changed and the clock stays in the same slice."""
        overall = self._windows.get((gateway, None))
        if overall is None:
            return _NO_VERDICT, None
        classed = self._windows.get((gateway, kind)) if kind is not None else None
        stamp = (overall.version, classed.version if classed is not None else -1, overall.slice_of(now), rule)
        cache_key = (gateway, kind, scope)
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        figures, judged_kind = overall.figures(now), None
        if classed is not None:
            figures_of_class = classed.figures(now)
            if figures_of_class.attempts >= rule.min_samples:
                figures, judged_kind = figures_of_class, kind
        found = quality.verdict(figures, rule)
        self._cache[cache_key] = (stamp, found, judged_kind)
        return found, judged_kind

    # -- read by ctl status and the metrics ------------------------------------------------------------
    def snapshot(self) -> List[Tuple[str, Optional[str], Figures]]:
        """(gateway, class, figures) of every window, sorted."""
        now = self.clock()
        with self._lock:
            found = [(g, k, w.figures(now)) for (g, k), w in self._windows.items()]
        return sorted(found, key=lambda item: (item[0], item[1] or ""))

    def levels(self) -> Dict[Tuple[str, Optional[str], str], str]:
        """The last verdict level of each (gateway, class, route) judged."""
        with self._lock:
            return dict(self._levels)


def _announce(gateway: str, kind: Optional[str], scope: str, level: str, before: str, why: str) -> None:
    where = "gateway %s%s for route '%s'" % (gateway, _class(kind), scope)
    log(NOTICE, "fsroute: %s quality %s (was %s)%s" % (where, level, before, ": " + why if why else ""))
    events.fire(events.GATEWAY, [("fsroute-gateway", gateway), ("fsroute-quality", level),
                                 ("fsroute-previous-quality", before), ("fsroute-route", scope),
                                 ("fsroute-class", kind or ""), ("fsroute-reason", why)])


def describe(figures: Figures) -> str:
    """A window's figures in one line (``ctl status``)."""
    def ratio(value: Optional[float]) -> str:
        return "-" if value is None else "%.0f%%" % (value * 100)

    def seconds(value: Optional[float]) -> str:
        return "-" if value is None else "%.1fs" % value
    return "attempts %d answered %d asr %s ner %s acd %s pdd %s short %s" % (
        figures.attempts, figures.answered, ratio(figures.asr), ratio(figures.ner), seconds(figures.acd),
        seconds(figures.pdd), ratio(figures.short_calls))



LEVEL_NUMBERS = {OK: 0, quality.WARN: 1, CRITICAL: 2}
FAMILIES = (
    ("fsroute_gateway_quality_attempts", "Attempts in the gateway's quality window (class: a destination class, "
     "or empty for all its calls)."),
    ("fsroute_gateway_quality_asr", "Answered attempts over attempts in the window."),
    ("fsroute_gateway_quality_ner", "Answered attempts and callee-side outcomes (busy, no answer, declined) "
     "over attempts in the window."),
    ("fsroute_gateway_quality_acd_seconds", "Mean talk time of the answered attempts in the window."),
    ("fsroute_gateway_quality_pdd_seconds", "Mean time from the INVITE to the first ring or early media."),
    ("fsroute_gateway_quality_short_calls_ratio", "Answered attempts shorter than short_call over answered ones."),
    ("fsroute_gateway_quality_level", "The last quality verdict for a route's calls: 0 ok, 1 warn (moved last), "
     "2 critical (left out but for probe calls)."),
)


def status_lines(tracker: QualityTracker) -> List[str]:
    """The ``ctl status`` section: each window's figures, then every verdict that is not ok."""
    lines = ["quality (window %gs):" % tracker.settings.window]
    for gateway, kind, figures in tracker.snapshot():
        lines.append("  %s%s: %s" % (gateway, _class(kind), describe(figures)))
    for (gateway, kind, scope), level in _sorted_levels(tracker):
        if level != OK:
            lines.append("  %s%s for route '%s': %s" % (gateway, _class(kind), scope, level))
    return lines


def samples(tracker: QualityTracker, path: str) -> Dict[str, List[metrics.Sample]]:
    """The metric samples of every window and verdict, by family name (FAMILIES)."""
    found: Dict[str, List[metrics.Sample]] = {name: [] for name, _ in FAMILIES}
    labels = ("path", "gateway", "class")
    for gateway, kind, figures in tracker.snapshot():
        values = (path, gateway, kind or "")
        for name, value in (("attempts", figures.attempts), ("asr", figures.asr), ("ner", figures.ner),
                            ("acd_seconds", figures.acd), ("pdd_seconds", figures.pdd),
                            ("short_calls_ratio", figures.short_calls)):
            if value is not None:
                family = "fsroute_gateway_quality_" + name
                found[family].append((family, labels, values, value))
    for (gateway, kind, scope), level in _sorted_levels(tracker):
        found["fsroute_gateway_quality_level"].append(("fsroute_gateway_quality_level", labels + ("route",),
                                                       (path, gateway, kind or "", scope), LEVEL_NUMBERS[level]))
    return found


def _sorted_levels(tracker: QualityTracker) -> List[Tuple[Tuple[str, Optional[str], str], str]]:
    return sorted(tracker.levels().items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2]))


def _class(kind: Optional[str]) -> str:
    return " class %s" % kind if kind else ""
