"""One call inside FreeSWITCH: decide, bridge with failover, leave variables, publish the call record.

``handle(session, args)`` is what ``fsroute.route.handler`` runs. Whatever
goes wrong in here, the call ends with a defined cause and one ERROR line:
no exception ever reaches FreeSWITCH. When fsroute is done with the call it
freezes what happened into one CallRecord (runtime.record) and hands it to
the observers (log line, counters, metrics, event, trace); none of them
knows this module.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from fsroute.core import failover, router
from fsroute.core.accounts import account_of, limits_of
from fsroute.core.fraud import FraudCall
from fsroute.core.breaker import CLOSED
from fsroute.core.causes import FALLBACK_CAUSE
from fsroute.core.collector import leave_loaded_objects_out
from fsroute.core.decks import rate_text
from fsroute.core.legs import Dial, Pairs
from fsroute.core.model import Accounts, Group, Outcome, Route, RuleSet, action_for
from fsroute.core.router import Decision
from fsroute.core.text import one_line
from fsroute.core.timespec import parse_instant
from . import accounts, embedded, fraud, limits, observers, trace
from . import fraudhold
from .fslog import ERROR, describe, log
from .generation import Generation
from .margin_vars import margin_variables
from .process import store_for
from .record import Attempt, CallRecord, Skip, publish
from .rulespath import rules_path

CALLER_GONE = "ORIGINATOR_CANCEL"
_BRIDGED = Outcome.BRIDGED.value


def call_instant(get: Callable[[str], Optional[str]], clock: Optional[Callable[[], float]] = None) -> float:
    """The instant the call is routed at: now, or the channel variable ``fsroute_now`` when set.

    ``fsroute_now`` (ISO 8601 with an offset, or seconds since the epoch) lets
    a test, ``fsroute simulate --at`` or a dialplan ``set`` route a call as
    if it came at another time; a value that is not an instant fails the call
    with on_error rather than routing it at a time nobody meant. Without it
    the clock is read once: ``clock`` (the generation's wall clock), else time.time.
    """
    text = get("fsroute_now")
    if text:
        return parse_instant(text)
    return clock() if clock is not None else time.time()


class _Variables(Dict[str, Optional[str]]):
    """The call's channel variables, each read from the session at most once (a SWIG call each):
    ``variables[name]`` is the value, or None when unset."""

    __slots__ = ("_read",)

    def __init__(self, session: Any) -> None:
        super().__init__()
        self._read = session.getVariable

    def __missing__(self, name: str) -> Optional[str]:
        value = self[name] = self._read(name)
        return value


class _Call:
    """What one call is doing, while it does it; frozen into a CallRecord at the end.

    What most calls never change (no account, no fraud rules, no trace, no
    quality timings) stays a class default, so a call pays only for what it sets.
    """

    result: Optional[Outcome] = None
    rules: Optional[RuleSet] = None
    decision: Optional[Decision] = None
    decision_seconds: Optional[float] = None
    route: Optional[str] = None
    number: Optional[str] = None
    now: Optional[float] = None
    set_names: Sequence[str] = ()  # what the last attempt's set:/export: put on the channel
    exported: Sequence[str] = ()   # ... and which of them fsroute added to export_vars
    before: Optional[Dict[str, Optional[str]]] = None  # ... and each name's value before fsroute set it
    hangup_cause: Optional[str] = None
    detail = ""
    traced = False
    readings: Tuple[Tuple[str, Any, float], ...] = ()
    rang = False  # the caller's channel has rung (or had early media): later PDDs are unknown
    answered_before = False  # answered before fsroute bridged: no attempt's answer time is known
    account: Optional[str] = None
    fraud: Optional[FraudCall] = None

    def __init__(self, session: Any) -> None:
        self.session = session
        self.started = time.perf_counter()
        self.variables = _Variables(session)
        self.uuid = _uuid(session, self.variables)
        self.attempts: List[Attempt] = []
        self.skipped: List[Skip] = []

    def record(self) -> CallRecord:
        variables = self.variables  # as the router read them: .get reads nothing more from the session
        source = variables.get("network_addr") or variables.get("sip_network_ip")
        rules = self.rules
        return CallRecord(self.uuid, self.result or Outcome.ERROR, rules, rules.sha if rules else None,
                          self.decision, self.route,
                          self.number, source, self.now, tuple(self.attempts), tuple(self.skipped),
                          self.hangup_cause, self.detail, self.decision_seconds,
                          time.perf_counter() - self.started, self.traced, self.readings, self.account,
                          self.fraud)


def handle(session: Any, args: Optional[str]) -> None:
    """Route the call on ``session`` with the rules its ``args`` (or variables) name; never raises."""
    if embedded.is_bare_session(session):  # `import freeswitch` failed in the switch: say why, once in a while
        embedded.report_bare_session(session, lambda text: log(ERROR, text))
        return
    route_with(session, lambda: _store_of(session, args).current())


def _store_of(session: Any, args: Optional[str]) -> Any:
    """The rules store the call names, marked as one calls use (runtime.process.loaded_stores)."""
    store = store_for(rules_path(session, args))
    store.routes_calls = True
    return store


def route_with(session: Any, current: Callable[[], Generation]) -> None:
    """Route the call on ``session`` with the generation ``current()`` gives; never raises."""
    call = _Call(session)
    generation = None
    try:
        generation = current()
        _route(call, generation)
    except Exception as exc:
        _crash(call, generation, exc)
    try:
        publish(call.record(), observers.of(generation, call.traced))
    except Exception:
        pass  # the call is routed; a failing observer must not undo that


def _route(call: _Call, generation: Generation) -> None:
    rules = generation.rules
    session = call.session
    get = call.variables.__getitem__
    call.rules = rules
    session.setVariable("fsroute_rules_sha", rules.sha)
    # One instant per call, read at most once: time conditions read it (and fsroute_now), least-cost
    # routes rate at it; the trace, the event and the lcr ranking all see this one value.
    if generation.needs_instant:
        call.now = call_instant(get, generation.clock.time)
    flag = get(trace.VARIABLE)
    call.traced = trace.wanted(flag) if flag else False  # a traced call's decision carries its reasons
    if generation.reads_source:
        router.source_address(get)  # read now, as the router does when it has ACLs
    began = time.perf_counter()
    decision = router.decide(rules, get, generation.is_up, generation.selector, call.now, generation,
                             deck_of=generation.deck_of, explain=call.traced, table_of=generation.table_of)
    call.decision_seconds = time.perf_counter() - began
    call.decision = decision
    call.detail = decision.detail
    if decision.benched:
        call.skipped += [Skip(name, "benched") for name in decision.benched if name not in decision.gateways]
    if decision.demoted:  # left out for their measured quality (core.quality)
        call.skipped += [Skip(name, "quality") for name, _, _ in decision.demoted if name not in decision.gateways]
    if call.traced:
        call.readings = trace.readings_for(rules, decision, generation)
    if decision.route is not None:
        call.route = decision.route.name
        session.setVariable("fsroute_route", call.route)
    if decision.lrn is not None:  # lookup: the routing number that routed and rated the call
        session.setVariable("fsroute_lrn", decision.lrn)
    if decision.set or decision.export:  # a route or table row that hangs up, transfers or continues
        _set_pairs(call, decision.set, decision.export)
    if decision.outcome is Outcome.TRANSFERRED:
        _transfer(call, decision)
        return
    if decision.outcome is not None:
        _finish(call, decision.outcome, action_for(decision.outcome, rules.defaults, decision.cause,
                                                   route=decision.route).cause)
        return
    call.number = decision.number
    session.setVariable("fsroute_number", call.number)
    if rules.accounts is not None and not _admitted(call, generation):
        return
    if rules.fraud and not _fraud_checked(call, generation):
        return
    _bridge(call, generation, decision)


_NO_ACCOUNTS = Accounts()
ANSWERED = "fsroute_answered"


def _fraud_checked(call: _Call, generation: Generation) -> bool:
    """Check the call against the fraud rules watching it and count it (runtime.fraud); False: its
    account is blocked, result fraud_blocked, the rule's on_block done."""
    rules = generation.rules
    get = call.variables.__getitem__
    if call.account is None:
        call.account = account_of(rules.accounts or _NO_ACCOUNTS, get, rules.acls)
        call.session.setVariable("fsroute_account", call.account)
    now = call.now if call.now is not None else call_instant(get, fraud.STATE.clock)
    assert call.number is not None
    limits = rules.defaults.limits
    try:
        refused, watched, talk = fraud.start(rules, call.account, call.number, call.route, now,
                                             rules.moments.at(now), generation.table_of,
                                             lambda rule, key: fraudhold.hold(call.session, limits, rule, key))
    except fraudhold.Unheld as exc:  # Redis failed the fleet's concurrent count: the switch hung up
        call.detail = str(exc)
        call.hangup_cause = fraudhold.CAUSE
        _finish(call, Outcome.FAILED, fraudhold.CAUSE)
        return False
    if refused is not None:
        rule, block = refused
        call.detail = "fraud rule %s: %s blocked (%s)" % (rule.name, call.account, block.why)
        _finish(call, Outcome.FRAUD_BLOCKED, action_for(Outcome.FRAUD_BLOCKED, rules.defaults, fraud_rule=rule).cause)
        return False
    if watched:
        call.fraud = FraudCall(watched)
        if talk:  # the answer's time, for minutes and spend (execute_on_answer_*: the dialplan's own stays)
            # The switch runs it at the channel's first answer only: a channel fsroute routed and bridged
            # before must not lend that answer's time to this call (it counts its bridge's duration).
            call.session.setVariable(ANSWERED, "")
            call.session.setVariable("execute_on_answer_fsroute", "set %s=${strepoch()}" % ANSWERED)
    return True


def _talked(call: _Call, generation: Generation, dial: Dial, ran: float) -> None:
    """A watched call was answered and its bridge is over: how long it talked and at which lcr rate."""
    assert call.fraud is not None
    answered = call.session.getVariable(ANSWERED)
    try:
        seconds = fraud.STATE.clock() - float(answered) if answered else ran
    except ValueError:
        seconds = ran
    rate = None
    carrier = generation.rules.carriers.get(dial.carrier) if dial.carrier else None
    deck = generation.deck_of(carrier) if carrier is not None else None
    if deck is not None and dial.prefix:
        row = deck.find(dial.prefix, call.now if call.now is not None else time.time())
        rate = deck.row(row) if row >= 0 else None
    call.fraud = call.fraud._replace(talk_seconds=max(0.0, seconds), rate=rate)


def _admitted(call: _Call, generation: Generation) -> bool:
    """Count the call against its account's max_cps and max_calls (runtime.accounts); False: refused,
    result over_limit, hung up with defaults.on_over_limit (or its caller left first: failed)."""
    rules = generation.rules
    assert rules.accounts is not None
    account = call.account = account_of(rules.accounts, call.variables.__getitem__, rules.acls)
    session = call.session
    session.setVariable("fsroute_account", account)
    cause = action_for(Outcome.OVER_LIMIT, rules.defaults).cause or FALLBACK_CAUSE  # never None: the grammar
    why = accounts.admit(session, rules, limits_of(rules.accounts, generation.account_table[0], account),
                         account, cause)
    if why is None:
        return True
    if why == accounts.CALLER_GONE:
        call.detail = "caller hung up"
        _finish(call, Outcome.FAILED, action_for(Outcome.FAILED, rules.defaults, CALLER_GONE).cause)
        return False
    call.detail = "account %s: %s" % (account, "its limit backend failed" if why == limits.LIMIT_ERROR
                                      else "over its " + why)
    if not session.ready():  # the limit application hung up with the cause itself
        call.hangup_cause = cause
    _finish(call, Outcome.OVER_LIMIT, cause)
    return False


def _bridge(call: _Call, generation: Generation, decision: Decision) -> None:
    """Try the gateways in order; stop on success, a failure its failover_on does not name (core.failover:
    by cause or SIP status), the caller leaving, after max_attempts attempts dialled, or, before a later
    attempt, once the call has waited the route's max_seconds.

    An attempt can ring for a minute: before each later one the gateway
    states are looked up again, and a gateway now DOWN is skipped; so is one
    its breaker benched meanwhile, and one at its limits. A skip is not an
    attempt: the decision lists every usable gateway, and the next one is tried.
    With every one skipped and nothing dialled, the call is all_busy (a limit
    refused one) or all_down, as a decision that finds them so makes it.
    """
    session = call.session
    rules = generation.rules
    breakers = generation.breakers
    any_breaker = breakers.any_breaker
    saved = call.variables["continue_on_fail"]
    # Without it a failed bridge hangs the caller up (mod_dptools), and no failover could follow.
    if saved != "true":
        session.setVariable("continue_on_fail", "true")
    cause = None
    route = decision.route
    assert route is not None  # a decision to bridge has one
    most = route.max_attempts or rules.defaults.max_attempts
    clock = generation.clock.monotonic
    budget = route.max_seconds
    began = clock() if budget is not None else 0.0
    admin = generation.admin
    limited = generation.limited
    spent = False
    try:
        for dial in decision.dials:
            gateway = dial.gateway
            if len(call.attempts) >= most:
                break
            if call.attempts and budget is not None and clock() - began >= budget:
                spent = True
                break
            if not session.ready():
                cause = CALLER_GONE
                break
            if gateway in admin.closed or call.attempts and not generation.is_up(gateway):
                held = admin.held(gateway)  # drained or disabled since the decision
                call.skipped.append(Skip(gateway, held.state if held is not None else "down"))
                continue
            taken = breakers.acquire(gateway) if any_breaker else CLOSED
            if taken is None and gateway not in decision.benched:  # benched since the decision
                call.skipped.append(Skip(gateway, "benched"))
                continue
            ended, ran, sip, timing = "", 0.0, None, NOT_TIMED
            # only a breaker, or a failed attempt, needs the failover list it is judged by
            failover_on = failover.failover_on_for(rules, route, dial) if any_breaker else None
            try:
                ended, ran, sip, timing = _attempt(call, generation, decision, dial)
            finally:  # also when the attempt raised: a probe slot must not stay taken
                if failover_on is not None:
                    breakers.record(gateway, ended, taken, sip, failover_on)
            if limited and ended in _NOT_DIALLED:
                call.skipped.append(Skip(gateway, ended.lower()))
                continue
            cause = ended or "UNKNOWN"
            call.attempts.append(Attempt(gateway, cause, ran, dial, sip, *timing))
            if cause == "SUCCESS":
                if call.fraud is not None:
                    _talked(call, generation, dial, ran)
                call.result = Outcome.BRIDGED
                session.setVariable("fsroute_result", _BRIDGED)
                _leave_skipped(call)
                return
            if cause == CALLER_GONE or not session.ready():
                cause = CALLER_GONE
                break
            if failover_on is None:
                failover_on = failover.failover_on_for(rules, route, dial)
            if not failover.fails_over(failover_on, cause, sip):
                break
    finally:
        if saved != "true":
            session.setVariable("continue_on_fail", saved or "")
    if cause != CALLER_GONE and not call.attempts:  # every gateway was left out before it was dialled
        if any(s.why in ("at_limit", "limit_error") for s in call.skipped):
            call.detail = "every gateway tried is at its limits%s" % (
                " or its limit backend failed" if any(s.why == "limit_error" for s in call.skipped) else "")
            _finish(call, Outcome.ALL_BUSY, action_for(Outcome.ALL_BUSY, rules.defaults).cause)
        else:  # down, benched (another call took the probe), drained or disabled since the decision
            call.detail = "every gateway of the route went down or out of service before it was dialled"
            _finish(call, Outcome.ALL_DOWN, action_for(Outcome.ALL_DOWN, rules.defaults).cause)
        return
    call.detail = "caller hung up" if cause == CALLER_GONE else "last cause %s%s" % (
        cause or "none", "; max_seconds %g spent" % (budget or 0) if spent else "")
    _finish(call, Outcome.FAILED, action_for(Outcome.FAILED, rules.defaults, cause).cause)


_NOT_DIALLED = (limits.AT_LIMIT, limits.LIMIT_ERROR)  # what _attempt returns when its limit refused it


def _set_variables(call: _Call, dial: Optional[Dial]) -> None:
    """The set: and export: values of ``dial`` (None: of no attempt) on the channel; exported ones are
    named in export_vars, as the export application does, so the outbound leg gets them too. Names the
    previous attempt set that this one does not are unset and no longer exported: a gateway's values
    must not reach the next gateway on failover."""
    _set_pairs(call, dial.set if dial is not None else (), dial.export if dial is not None else ())


def _set_pairs(call: _Call, set_: Pairs, export_: Pairs) -> None:
    """_set_variables of these values (a decision that does not bridge has them without an attempt).
    A name no longer set gets back the value it had before fsroute set it (the dialplan's, or none)."""
    session = call.session
    pairs = set_ + export_
    export = [name for name, _ in export_]
    names = [name for name, _ in pairs]
    before = call.before
    if before is None:
        before = call.before = {}
    for name in call.set_names:
        if name not in names:
            session.setVariable(name, before[name] or "")
    for name, value in pairs:
        if name not in before:
            before[name] = call.variables[name]  # as the call came (read once; fsroute's sets are not read back)
        session.setVariable(name, value)
    dropped = [n for n in call.exported if n not in export]
    if export or dropped:
        exported = [n for n in (session.getVariable("export_vars") or "").split(",") if n and n not in dropped]
        added = [n for n in export if n not in exported]
        session.setVariable("export_vars", ",".join(exported + added))
        call.exported = [n for n in call.exported if n in export] + added
    call.set_names = names


def _transfer(call: _Call, decision: Decision) -> None:
    """Hand the call to another extension; the dialplan's next actions do not run after it."""
    assert decision.route is not None and decision.route.transfer is not None and decision.number is not None
    call.number = decision.number
    call.session.setVariable("fsroute_number", call.number)
    _finish(call, Outcome.TRANSFERRED, None)
    call.session.execute("transfer", decision.route.transfer.data(decision.number))


def _attempt(call: _Call, generation: Generation, decision: Decision, dial: Dial
             ) -> Tuple[str, float, Optional[int], Timing]:
    """Bridge ``dial`` (its dial string: leg variables, the gateway's number format, caller ID) inside
    the gateway's limits: (the cause, or AT_LIMIT / LIMIT_ERROR when not dialled; seconds the bridge
    application ran; the failed leg's SIP status, None when answered or unknown; when quality is
    measured, seconds to the answer and to the first ring). A least-cost attempt also sets its
    carrier, prefix and rate."""
    session = call.session
    rules = generation.rules
    gateway = dial.gateway
    assert decision.route is not None and decision.number is not None  # a decision to bridge has both
    if generation.limited:
        app, data = limits.dial_application(rules, gateway, _limit_group(rules, decision.route, dial), dial.text)
    else:
        app, data = "bridge", dial.text
    left: Sequence[Optional[str]] = ()  # what the last bridge left, for a limit that refuses this attempt
    if call.attempts or call.variables["originate_disposition"] is not None:  # none left by an earlier bridge
        if app != "bridge":
            left = [session.getVariable(name) for name in _LEFT_BY_A_BRIDGE]
        for name in _LEFT_BY_A_BRIDGE:
            session.setVariable(name, "")
    if app != "bridge":
        session.setVariable("hiredis_limit_exceeded", "")
    session.setVariable("fsroute_gateway", gateway)
    session.setVariable("fsroute_attempts", str(len(call.attempts) + 1))
    if dial.set or dial.export or call.set_names:
        _set_variables(call, dial)
    lcr = dial.carrier is not None
    if lcr:
        _set_lcr_variables(session, dial)
    if generation.counts_calls:
        generation.started(gateway)
    admin = generation.admin
    timed = generation.quality is not None
    if timed and not call.attempts:  # rung or answered before fsroute: those times are not the gateway's
        # a ring, or early media (pre_answer sets only progress_media_time, and only once per channel)
        call.rang = _channel_time(call.variables["progress_time"]) is not None \
            or _channel_time(call.variables["progress_media_time"]) is not None
        call.answered_before = _channel_time(call.variables["answered_time"]) is not None
    sent = time.time()
    began = time.perf_counter()
    admin.begin(call, gateway)  # a drained gateway's calls are counted down in ctl status
    try:
        session.execute(app, data)
    finally:
        admin.end(call)
    ran = time.perf_counter() - began
    disposition = session.getVariable("originate_disposition")
    cause = (disposition or session.getVariable("originate_failed_cause") or "").upper()
    if cause == CALLER_GONE and _answered_since(session, sent):
        cause = "SUCCESS"  # the callee answered and the caller hung up at that moment, before the legs were bridged
    if not disposition and app != "bridge" and session.ready():
        # not dialled: the variables go back to the last real attempt
        last = call.attempts[-1].dial if call.attempts else None
        session.setVariable("fsroute_gateway", last.gateway if last else "")
        session.setVariable("fsroute_attempts", str(len(call.attempts)) if call.attempts else "")
        for name, value in zip(_LEFT_BY_A_BRIDGE, left):
            session.setVariable(name, value or "")
        if lcr:
            _set_lcr_variables(session, last)
        _set_variables(call, last)
        generation.refused(gateway)
        return limits.refusal(rules, session), ran, None, NOT_TIMED
    timing = _timing(call, sent) if timed else NOT_TIMED
    if cause == "SUCCESS":
        return cause, ran, None, timing
    return cause, ran, failover.sip_status(session.getVariable(failover.SIP_STATUS_VARIABLE)), timing


# What a bridge leaves on the channel, answered or not: cleared before each attempt, so that what the
# next one finds is its own.
_LEFT_BY_A_BRIDGE = ("originate_disposition", "originate_failed_cause", failover.SIP_STATUS_VARIABLE)

# (seconds from the INVITE to the answer, to the first ring or early media): None when not known
Timing = Tuple[Optional[float], Optional[float]]
NOT_TIMED: Timing = (None, None)


def _timing(call: _Call, sent: float) -> Timing:
    """When the caller's channel was answered and first rang, from the times the switch keeps on it
    (``answered_time``, ``progress_time``, ``progress_media_time``: microseconds since the epoch, 0 when
    not yet), relative to ``sent``. A bridge passes the outbound leg's ring and answer on to the caller's
    channel, so they are this attempt's unless an earlier one rang already (then its PDD is unknown)."""
    read = call.session.getVariable
    answered = None if call.answered_before else _channel_time(read("answered_time"))
    progress = None
    if not call.rang:
        rung = [t for t in (_channel_time(read("progress_time")), _channel_time(read("progress_media_time")))
                if t is not None]
        progress = min(rung) if rung else answered
        call.rang = progress is not None
    return (max(answered - sent, 0.0) if answered is not None else None,
            max(progress - sent, 0.0) if progress is not None else None)


def _answered_since(session: Any, sent: float) -> bool:
    """Whether the caller's channel was answered at or after ``sent`` (epoch seconds): an attempt
    that ends ORIGINATOR_CANCEL was then answered by the gateway (the switch answers the caller when
    the callee does). Under load the real switch reports such a call, whose caller hung up at the
    200 OK, as ORIGINATOR_CANCEL; the caller was connected, so it is bridged."""
    answered = _channel_time(session.getVariable("answered_time"))
    return answered is not None and answered >= sent - CLOCK_SLACK


CLOCK_SLACK = 0.001  # the switch's microsecond clock against Python's time.time()


def _channel_time(text: Optional[str]) -> Optional[float]:
    """A channel time variable (microseconds since the epoch) in seconds, None when unset or 0."""
    return int(text) / 1e6 if text and text.isdigit() and text != "0" else None


def _limit_group(rules: RuleSet, route: Route, dial: Dial) -> Optional[Group]:
    """The group whose limits wrap ``dial``: the route's, or for a least-cost attempt its carrier's."""
    return failover.group_of(rules, route, dial)


def _set_lcr_variables(session: Any, dial: Optional[Dial]) -> None:
    """The carrier, matched prefix and rate of a least-cost attempt, for CDR margin reports ("" for none),
    and what its expected call costs, sells at and earns (runtime.margin_vars)."""
    session.setVariable("fsroute_lcr_carrier", dial.carrier or "" if dial else "")
    session.setVariable("fsroute_lcr_prefix", dial.prefix if dial else "")
    session.setVariable("fsroute_lcr_rate", rate_text(dial.rate) if dial else "")
    for name, value in margin_variables(dial.price if dial else None):
        session.setVariable(name, value)


def _leave_skipped(call: _Call) -> None:
    """``fsroute_skipped``: every gateway passed over (benched or left out at the decision, skipped at a
    bridge), set as the call ends: bridged, or in _finish before a hangup, so that its event carries it too."""
    if call.skipped:
        call.session.setVariable("fsroute_skipped", ",".join("%s:%s" % s for s in call.skipped))


def _finish(call: _Call, outcome: Outcome, cause: Optional[str]) -> None:
    """Record the outcome on the channel and hang up with ``cause`` (None: let the dialplan continue)."""
    session = call.session
    call.result = outcome
    session.setVariable("fsroute_result", outcome._value_)
    _leave_skipped(call)
    if cause is not None and session.ready():
        call.hangup_cause = cause
        session.hangup(cause)


def _crash(call: _Call, generation: Optional[Generation], exc: Exception) -> None:
    """The crash barrier: result 'error' and the configured cause; the record's detail says what broke
    (the log-line observer writes it at ERROR)."""
    call.detail = describe(exc)
    cause = action_for(Outcome.ERROR, generation.rules.defaults).cause if generation is not None \
        else FALLBACK_CAUSE
    try:
        _finish(call, Outcome.ERROR, cause)
    except Exception:
        call.result = Outcome.ERROR
        try:
            call.session.hangup(cause or FALLBACK_CAUSE)
        except Exception:
            pass


def _uuid(session: Any, variables: _Variables) -> str:
    """The call's uuid for the log line, however broken the session is."""
    try:
        value = variables["uuid"]
        if value and len(value) <= 64 and value.isprintable():
            return value  # the common case, without building the fallbacks
    except Exception:
        pass
    for read in (lambda: session.getVariable("uuid"), lambda: session.get_uuid(), lambda: session.uuid):
        try:
            value = read()
        except Exception:
            continue
        if value:
            return one_line(str(value), 64)
    return "?"


# Last, once per interpreter, when everything a call runs is loaded: the full GC passes a call may
# wait for walk only what came after (core.collector).
leave_loaded_objects_out()
