"""FreeSWITCH CUSTOM events for event-socket consumers: fsroute::route, fsroute::reload, fsroute::gateway.

One ``fsroute::route`` event per call, fired when fsroute is done with it,
carries the whole story (decision and every bridge attempt): a consumer
needs no state to join per-attempt events, and the cost is one event per
call however many gateways were tried. Header names and meanings are listed
in docs/observability.md.

An event is worth less than the call: firing never raises, and outside
FreeSWITCH (no ``freeswitch`` module) nothing is fired. Building and firing a
route event takes a call's thread about as long as the rest of fsroute's
Python (a SWIG call per header, and FreeSWITCH's own event code), so the
call only queues its record; one thread of the process builds and fires the
events, in the order the calls finished (``flush`` waits for it). At most
MAX_UNFIRED records wait for it: past that, a call's event is dropped and
counted (``fsroute_route_events_dropped_total``) rather than calls coming
faster than events are built growing the switch's memory without bound.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterable, List, Optional, Tuple

from fsroute.core.decks import rate_text
from fsroute.core.model import Outcome, RulesError, RuleSet
from fsroute.core.router import Decision
from .fslog import module
from .margin_vars import margin_variables
from .record import CallRecord

Headers = List[Tuple[str, str]]

ROUTE, RELOAD, GATEWAY = "fsroute::route", "fsroute::reload", "fsroute::gateway"
MAX_UNFIRED = 10000  # about 10 MB of records; the events thread fires thousands a second


def fire(subclass: str, headers: Iterable[Tuple[str, str]]) -> bool:
    """Fire one CUSTOM event ``subclass`` with ``headers`` ((name, str value) pairs); True when fired."""
    try:
        freeswitch = module()
        if freeswitch is None:
            return False
        event = freeswitch.Event("CUSTOM", subclass)
        for name, value in headers:
            event.addHeader(name, value)
        return bool(event.fire())
    except Exception:
        return False


class _Announcer:
    """The thread that fires the fsroute::route events of finished calls, one after the other."""

    def __init__(self) -> None:
        self._records: "queue.SimpleQueue[CallRecord]" = queue.SimpleQueue()
        self._unfired = 0
        self.dropped = 0
        self._done = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def put(self, record: CallRecord) -> None:
        with self._done:
            if self._unfired >= MAX_UNFIRED:
                self.dropped += 1
                return
            self._unfired += 1
        self._records.put(record)
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._done:
            if self._thread is not None and self._thread.is_alive():
                return
            thread = threading.Thread(target=self._run, name="fsroute-events", daemon=True)
            try:
                thread.start()
                self._thread = thread
                return
            except Exception:
                pass
        self._fire_queued()  # no thread to be had: this call fires what is queued itself

    def _run(self) -> None:
        while True:
            self._fire(self._records.get())

    def _fire_queued(self) -> None:
        while True:
            try:
                record = self._records.get_nowait()
            except queue.Empty:
                return
            self._fire(record)

    def _fire(self, record: CallRecord) -> None:
        try:
            fire(ROUTE, route_headers(record))
        except Exception:
            pass  # an event is worth less than the thread that fires the next ones
        finally:
            with self._done:
                self._unfired -= 1
                self._done.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is fired; False when ``timeout`` passed first."""
        with self._done:
            return self._done.wait_for(lambda: self._unfired == 0, timeout)


_announcer = _Announcer()


def route(record: CallRecord) -> None:
    """An observer: queue the call's fsroute::route event (fired by the events thread)."""
    _announcer.put(record)


def dropped() -> int:
    """Route events dropped so far because MAX_UNFIRED were waiting."""
    return _announcer.dropped


def flush(timeout: float = 5.0) -> bool:
    """Wait until the route events of the calls finished so far are fired (tests, shutdown)."""
    return _announcer.flush(timeout)


def route_headers(record: CallRecord) -> Headers:
    """The headers of a call's fsroute::route event; values that do not apply are left out."""
    headers: Headers = [("Unique-ID", record.uuid), ("fsroute-result", record.result.value)]
    optional = (("fsroute-route", record.route), ("fsroute-number", record.number),
                ("fsroute-source", record.source), ("fsroute-rules-sha", record.sha),
                ("fsroute-hangup-cause", record.hangup_cause), ("fsroute-detail", record.detail or None))
    headers += [(name, value) for name, value in optional if value is not None]
    verdict, acls = acl_verdict(record.rules, record.decision)
    if verdict is not None and acls is not None:
        headers += [("fsroute-acl-verdict", verdict), ("fsroute-acl", acls)]
    if record.decision_seconds is not None:
        headers.append(("fsroute-decision-usec", str(int(record.decision_seconds * 1e6))))
    headers.append(("fsroute-attempts", str(len(record.attempts))))
    for number, attempt in enumerate(record.attempts, 1):
        prefix = "fsroute-attempt-%d-" % number
        dial = attempt.dial
        headers += [(prefix + "gateway", attempt.gateway), (prefix + "cause", attempt.cause),
                    (prefix + "usec", str(int(attempt.seconds * 1e6))), (prefix + "dialstring", dial.text)]
        if dial.carrier is not None:  # a least-cost attempt
            headers += [(prefix + "lcr-carrier", dial.carrier), (prefix + "lcr-prefix", dial.prefix),
                        (prefix + "lcr-rate", rate_text(dial.rate))]
            headers += [(prefix + name[len("fsroute_"):].replace("_", "-"), value)  # lcr-cost, lcr-margin...
                        for name, value in margin_variables(dial.price) if value]
    if record.attempts:
        headers.append(("fsroute-tried", ",".join("%s:%s" % (a.gateway, a.cause) for a in record.attempts)))
    if record.skipped:
        headers.append(("fsroute-skipped", ",".join("%s:%s" % s for s in record.skipped)))
    return headers


def acl_verdict(rules: Optional[RuleSet], decision: Optional[Decision]) -> Tuple[Optional[str], Optional[str]]:
    """("allow" or "deny", the acls consulted, comma-separated) as the router applied them; (None, None) when none was.

    A denial names the one ACL that refused (the ingress ACL, or the ACL of
    the first route that matched but refused the source).
    """
    if rules is None or decision is None:
        return None, None
    route = decision.route
    if decision.outcome is Outcome.DENIED:
        return "deny", route.acl if route is not None else rules.ingress_acl
    consulted = [name for name in (rules.ingress_acl, route.acl if route is not None else None) if name]
    return ("allow", ",".join(consulted)) if consulted else (None, None)


def reload_headers(path: str, sha: Optional[str] = None, routes: int = 0,
                   error: Optional[RulesError] = None) -> Headers:
    """The headers of an fsroute::reload event: a good load (its ``sha`` and number of ``routes``) or a
    refused file (``error``)."""
    headers = [("fsroute-rules", path)]
    if error is None:
        return headers + [("fsroute-reload", "ok"), ("fsroute-rules-sha", sha or ""),
                          ("fsroute-routes", str(routes))]
    problems: List[Any] = list(error.problems) if error is not None else []
    return headers + [("fsroute-reload", "error"), ("fsroute-error", str(problems[0]) if problems else ""),
                      ("fsroute-problems", str(len(problems)))]


def gateway_headers(gateway: str, profile: str, state: str, previous: str) -> Headers:
    """The headers of an fsroute::gateway event: ``gateway`` of ``profile`` went from ``previous`` to ``state``."""
    return [("fsroute-gateway", gateway), ("fsroute-profile", profile),
            ("fsroute-state", state), ("fsroute-previous-state", previous)]
