"""One call inside FreeSWITCH: decide, bridge with failover, leave variables and a log line.

``handle(session, args)`` is what ``fsroute.route.handler`` runs. Whatever
goes wrong in here, the call ends with a defined cause and one ERROR line:
no exception ever reaches FreeSWITCH.
"""

import os
import sys
import time

from . import deckstore, gateways
from fsroute.core import router
from fsroute.core.causes import CAUSES, FALLBACK_CAUSE
from fsroute.core.decks import rate_text
from .fslog import ERROR, INFO, log
from fsroute.core.model import RulesError
from .store import store_for
from fsroute.core.text import describe_error, one_line

BRIDGED, FAILED, ERROR_RESULT = "bridged", "failed", "error"
CALLER_GONE = "ORIGINATOR_CANCEL"


def rules_path(session, args):
    """Where this call's rules live: args, channel var, then ``default_rules_path()``."""
    path = (args or "").strip()
    if path:
        return path
    return session.getVariable("fsroute_rules") or default_rules_path()


def default_rules_path():
    """The rules file without a call: global var fsroute_rules, $FSROUTE_RULES, ${conf_dir}/fsroute.yaml."""
    freeswitch = sys.modules.get("freeswitch")
    if freeswitch is not None:
        path = freeswitch.getGlobalVariable("fsroute_rules")
        if path:
            return path
    path = os.environ.get("FSROUTE_RULES")
    if path:
        return path
    conf_dir = freeswitch.getGlobalVariable("conf_dir") if freeswitch is not None else None
    return os.path.join(conf_dir or "/etc/freeswitch", "fsroute.yaml")


class _Call:
    """What one call did, for its variables and its log line."""

    def __init__(self, session):
        self.session = session
        self.started = time.perf_counter()
        self.uuid = _uuid(session)
        self.result = None
        self.route = None
        self.number = None
        self.attempts = []  # (gateway, outcome)
        self.lcr = None     # router.Dial of the last least-cost attempt
        self.hangup_cause = None
        self.detail = ""
        self.sha = None


def handle(session, args):
    """Route the call on ``session``; never raises."""
    call = _Call(session)
    loaded = None
    try:
        loaded = store_for(rules_path(session, args)).current()
        _route(call, loaded)
    except Exception as exc:
        _crash(call, loaded, exc)
        return
    try:
        loaded.count(call.result, call.route)
        log(INFO, _log_line(call))
    except Exception:
        pass  # the call is routed; a failing log must not undo that


def _route(call, loaded):
    rules = loaded.rules
    session = call.session
    call.sha = rules.sha
    session.setVariable("fsroute_rules_sha", rules.sha)
    states = gateways.states_for(rules.defaults)
    decision = router.decide(rules, session.getVariable, states.down, loaded.selector,
                             deckstore.deck_of, time.time())
    call.detail = decision.detail
    if decision.route is not None:
        call.route = decision.route.name
        session.setVariable("fsroute_route", call.route)
    if decision.result != router.ROUTE:
        call.result = decision.result
        action = getattr(rules.defaults, "on_" + decision.result)
        if decision.result == router.NO_CARRIER and decision.route.lcr.on_no_carrier is not None:
            action = decision.route.lcr.on_no_carrier
        _finish(call, action.cause)
        return
    call.number = decision.number
    session.setVariable("fsroute_number", call.number)
    _bridge(call, rules, decision, states.down)


def _bridge(call, rules, decision, down_gateways):
    """Try the gateways in order; stop on success, a cause not in failover_on, or the caller leaving.

    An attempt can ring for a minute: before each later one the (cached)
    gateway states are read again, and a gateway now DOWN is skipped.
    """
    session = call.session
    saved = session.getVariable("continue_on_fail")
    # Without it a failed bridge hangs the caller up (mod_dptools), and no failover could follow.
    session.setVariable("continue_on_fail", "true")
    cause = None
    try:
        for index, gateway in enumerate(decision.gateways):
            if not session.ready():
                cause = CALLER_GONE
                break
            if call.attempts:
                down = down_gateways(rules.profile_of(gateway))
                if down is not None and gateway in down:
                    continue
            session.setVariable("originate_disposition", "")
            session.setVariable("fsroute_gateway", gateway)
            session.setVariable("fsroute_attempts", str(len(call.attempts) + 1))
            number = decision.number
            if decision.dials:
                call.lcr = dial = decision.dials[index]
                number = dial.number
                session.setVariable("fsroute_lcr_carrier", dial.carrier)
                session.setVariable("fsroute_lcr_prefix", dial.prefix)
                session.setVariable("fsroute_lcr_rate", rate_text(dial.rate))
            session.execute("bridge", "sofia/gateway/%s/%s" % (gateway, number))
            cause = (session.getVariable("originate_disposition")
                     or session.getVariable("originate_failed_cause") or "").upper()
            call.attempts.append((gateway, cause or "UNKNOWN"))
            if cause == "SUCCESS":
                call.result = BRIDGED
                session.setVariable("fsroute_result", BRIDGED)
                return
            if cause == CALLER_GONE or not session.ready():
                cause = CALLER_GONE
                break
            if cause not in rules.defaults.failover_on:
                break
    finally:
        session.setVariable("continue_on_fail", saved or "")
    call.result = FAILED
    call.detail = "caller hung up" if cause == CALLER_GONE else "last cause %s" % (cause or "none")
    _finish(call, cause if cause in CAUSES and cause != "SUCCESS" else FALLBACK_CAUSE)


def _finish(call, cause):
    """Record the outcome on the channel and hang up with ``cause`` (None: let the dialplan continue)."""
    session = call.session
    session.setVariable("fsroute_result", call.result)
    if cause is not None and session.ready():
        call.hangup_cause = cause
        session.hangup(cause)


def _crash(call, loaded, exc):
    """The crash barrier: one ERROR line, result 'error', the configured cause."""
    try:
        log(ERROR, "fsroute uuid=%s result=error %s" % (call.uuid, describe(exc)))
    except Exception:
        pass
    cause = loaded.rules.defaults.on_error.cause if loaded is not None else FALLBACK_CAUSE
    call.result = ERROR_RESULT
    try:
        _finish(call, cause)
    except Exception:
        try:
            call.session.hangup(cause or FALLBACK_CAUSE)
        except Exception:
            pass
    try:
        if loaded is not None:
            loaded.count(ERROR_RESULT, None)
    except Exception:
        pass


def describe(exc):
    """What went wrong, on one line: the exception and where it was raised."""
    if isinstance(exc, RulesError):
        return "no usable rules: %s" % one_line(str(exc.problems[0]), 400)
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = " at %s:%d" % (os.path.basename(frame.tb_frame.f_code.co_filename), frame.tb_lineno) if frame else ""
    return describe_error(exc) + where


def _uuid(session):
    """The call's uuid for the log line, however broken the session is."""
    try:
        value = session.getVariable("uuid")
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


def _log_line(call):
    tried = ",".join("%s:%s" % a for a in call.attempts) or "-"
    lcr = ""
    if call.lcr is not None:
        lcr = " lcr=%s:%s:%s" % (call.lcr.carrier, call.lcr.prefix, rate_text(call.lcr.rate))
    return ("fsroute uuid=%s result=%s route=%s number=%s tried=%s hangup=%s sha=%s%s ms=%.2f%s"
            % (call.uuid, call.result, _quote(call.route), call.number or "-", tried,
               call.hangup_cause or "-", call.sha or "-", lcr,
               (time.perf_counter() - call.started) * 1000.0,
               " (%s)" % call.detail if call.detail else ""))


def _quote(name):
    """A route name for the log line (names are one printable line without '"': rules.py)."""
    if name is None:
        return "-"
    return '"%s"' % name if " " in name else name
