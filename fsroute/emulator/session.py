"""A call's session as mod_python3 hands it over, and what mod_dptools' applications do to it."""

from __future__ import annotations

import itertools
import re
import time
import uuid as uuid_module
from typing import Any, Callable, List, Mapping, Optional, Tuple

from fsroute.core.fsvalues import switch_true
from .switch import EmulatedSwitch

# A gateway dial string, after the per-leg variables ([k=v,...], each list ending at the first ']').
_GATEWAY_DIAL_RE = re.compile(r"(?:\[[^\]]*\])*sofia/gateway/([^/]*)/(.*)\Z", re.S)

# DIALSTATUS as switch_ivr_originate sets it from the cause (any other: the cause's name).
# Measured in a real switch (tests/integration/test_agreement.py): a gateway's 480
# (NO_USER_RESPONSE) leaves DIALSTATUS=NO_USER_RESPONSE, not NOANSWER.
_DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER",
               "ORIGINATOR_CANCEL": "CANCEL", "CALL_REJECTED": "DONTCALL",
               "DESTINATION_OUT_OF_ORDER": "INVALIDARGS", "INVALID_PROFILE": "INVALIDARGS"}
# mod_dptools' bridge leaves the caller up after these even without continue_on_fail.
_ALWAYS_CONTINUE = ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL")
CALLER_LEFT_AT_ANSWER = "CALLER_LEFT_AT_ANSWER"  # a bridge outcome: see StubSession
# The cause a gateway's final SIP status gives without a Reason header: sofia_glue_sip_cause_to_freeswitch
# (404, 408, 486, 503 and 603 also seen in a real FreeSWITCH 1.11, tests/integration/test_failover_sip.py);
# any other status gives NORMAL_UNSPECIFIED. A bridge outcome "sip:NNN" uses it, "sip:NNN CAUSE" names the
# cause a Q.850 Reason header would give instead.
SIP_CAUSES = dict(
    [(code, "CALL_REJECTED") for code in (401, 402, 403, 407, 603, 608)]
    + [(code, "NO_ROUTE_DESTINATION") for code in (485, 604)]
    + [(code, "RECOVERY_ON_TIMER_EXPIRE") for code in (408, 504)]
    + [(code, "INTERWORKING") for code in (413, 414, 416, 420, 421, 423, 505, 513)]
    + [(code, "NORMAL_TEMPORARY_FAILURE") for code in (400, 481, 500, 503)]
    + [(code, "USER_BUSY") for code in (486, 600)]
    + [(code, "INCOMPATIBLE_DESTINATION") for code in (488, 606)]
    + [(code, "SERVICE_NOT_IMPLEMENTED") for code in (406, 415, 501)]
    + [(code, "EXCHANGE_ROUTING_ERROR") for code in (482, 483)]
    + [(607, "UNWANTED"), (404, "UNALLOCATED_NUMBER"), (410, "NUMBER_CHANGED"), (480, "NO_USER_RESPONSE"),
       (484, "INVALID_NUMBER_FORMAT"), (502, "NETWORK_OUT_OF_ORDER"), (405, "SERVICE_UNAVAILABLE"),
       (487, "ORIGINATOR_CANCEL"), (428, "NO_IDENTITY"), (429, "BAD_IDENTITY_INFO"),
       (437, "UNSUPPORTED_CERTIFICATE"), (438, "INVALID_IDENTITY")])
# switch_channel_execute_on_value: the application ends at the first space or single colon
_ON_ANSWER_SPLIT_RE = re.compile(r" |:(?!:)")
_EXPANSION_RE = re.compile(r"\$\{([^{}]*)\}")
_LEG_NUMBERS = itertools.count(1)  # the B-legs' uuids: unique, and cheap to make


def _names(listing: str) -> List[str]:
    return [item.strip().upper() for item in listing.split(",")]


def _limit_args(data: Optional[str], count: int) -> Optional[Tuple[str, str, str, int, int, List[str]]]:
    """(backend, realm, resource, max, interval, rest) of ``limit``/``limit_execute`` data, or None."""
    words = (data or "").split(" ", count - 1)
    if len(words) < 3:
        return None
    spec = words[3] if len(words) > 3 else "-"
    max_calls, interval = -1, 0
    if not spec.startswith("-"):
        number, _, per = spec.partition("/")
        max_calls = max(int(number or 0), 0)
        interval = int(per or 0)
    return words[0], words[1], words[2], max_calls, interval, words[4:]


class StubSession:
    """A call's session as mod_python3 hands it to ``handler``.

    ``variables`` are the channel variables; ``bridge_outcomes`` maps a
    gateway to the cause its bridge fails with (absent: answered), or to its
    final SIP status: ``"sip:503"`` (the cause the switch gives it, SIP_CAUSES),
    ``"sip:503 USER_BUSY"`` (the cause of a Q.850 Reason header); the status is
    left in ``last_bridge_proto_specific_hangup_cause`` as sofia does; or to
    CALLER_LEFT_AT_ANSWER: the callee answers (the caller's channel too, its
    ``answered_time`` set) and the caller hangs up at that very moment, before
    the two legs are bridged, so the switch reports ORIGINATOR_CANCEL (seen in
    the real switch under load with SIPp hanging up at the 200 OK). A bridge
    to a gateway the fake switch has DOWN fails with GATEWAY_DOWN, to one it
    does not know (declare them with ``set_gateways``), an empty one or
    ``-err`` with INVALID_GATEWAY. As in mod_dptools, a failed bridge hangs
    the caller up unless ``continue_on_fail`` / ``failure_causes`` allow the
    cause, and an answered one hangs it up afterwards when
    ``hangup_after_bridge`` is true; ``hangup_on_bridge`` names a gateway
    whose bridge attempt ends with the caller hanging up (ORIGINATOR_CANCEL).

    Records ``transfers``, ``executed`` ([(app, data)]), ``bridges`` ([(dial string, cause
    or "SUCCESS")]), ``variables`` and ``hangup_cause``.
    """

    def __init__(self, variables: Optional[Mapping[str, object]] = None,
                 bridge_outcomes: Optional[Mapping[str, str]] = None, fake: Optional[EmulatedSwitch] = None,
                 hangup_on_bridge: Optional[str] = None, stay_up: bool = False) -> None:
        self.variables = {k: str(v) for k, v in (variables or {}).items()}
        self.variables.setdefault("uuid", str(uuid_module.uuid4()))
        self.uuid = self.variables["uuid"]
        self.bridge_outcomes = dict(bridge_outcomes or {})
        self.hangup_on_bridge = hangup_on_bridge
        self.stay_up = stay_up
        self.limits_held: List[Tuple[str, str]] = []  # (backend, key) this channel counts in, released at hangup
        self.transfers: List[str] = []  # where a refused ``limit`` transferred the call (its extension)
        self._in_bridge = False
        self.executed: List[Tuple[str, Optional[str]]] = []
        self.bridges: List[Tuple[str, str]] = []  # (dial string, cause or "SUCCESS") per bridge attempt
        self.hangup_cause: Optional[str] = None
        self.logs: List[Tuple[str, str]] = []
        self._fake = fake
        self._answered = self.variables.get("answered_time", "0") not in ("", "0")  # answered before it came
        self._hangup_hook: Optional[Tuple[Callable[..., object], Any]] = None
        self._hooked_cause: Optional[str] = None

    # -- variables ---------------------------------------------------------------
    def getVariable(self, name: str) -> Optional[str]:
        """The channel variable, else (as switch_channel_get_variable does) the global one."""
        value = self.variables.get(name)
        if value is None:
            fake = self._fake or EmulatedSwitch.current
            if fake is not None:
                return fake.globals.get(name)
        return value

    def setVariable(self, name: str, value: Optional[str]) -> None:
        # CoreSession::setVariable takes char*s (SWIG refuses anything else);
        # an empty or NULL value unsets the variable.
        if value is not None and not isinstance(value, str):
            raise TypeError("in method 'CoreSession_setVariable', argument 3 of type 'char *'")
        if not value:
            self.variables.pop(name, None)
        else:
            self.variables[name] = value

    # -- state -----------------------------------------------------------------
    def ready(self) -> bool:
        return self.hangup_cause is None

    def answered(self) -> bool:
        return self._answered

    def bridged(self) -> bool:
        return self._in_bridge and self.ready()

    def mediaReady(self) -> bool:
        return self.ready()

    def getState(self) -> str:
        if not self.ready():
            return "CS_HANGUP"
        return "CS_EXCHANGE_MEDIA" if self._in_bridge else "CS_EXECUTE"

    def get_uuid(self) -> str:
        return self.uuid

    def hangupCause(self) -> str:
        """CoreSession::hangupCause: the cause its hangup hook saw (switch_cpp.cpp's hanguphook, installed by
        setHangupHook), else NONE, also after a hangup (seen in the real switch right after ``limit``)."""
        return self._hooked_cause or "NONE"

    def answer(self) -> None:
        self._mark_answered()

    def preAnswer(self) -> None:
        pass

    def hangup(self, cause: str = "normal_clearing") -> None:
        if self.hangup_cause is None:
            self.hangup_cause = str(cause).upper()
            fake = self._fake or EmulatedSwitch.current
            if fake is not None and self.limits_held:
                fake.limits.release(self)
            if self._hangup_hook is not None:
                self._hooked_cause = self.hangup_cause
                self._hangup_hook[0](self, "hangup", self._hangup_hook[1])

    def setHangupHook(self, func: Callable[..., object], arg: Any = None) -> None:
        self._hangup_hook = (func, arg)

    def consoleLog(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    # -- applications --------------------------------------------------------------
    def execute(self, app: str, data: Optional[str] = None) -> None:
        self.executed.append((app, data))
        if app == "bridge" and self.ready():
            self._bridge(data or "")
        elif app == "hangup":
            self.hangup(data or "NORMAL_CLEARING")
        elif app in ("limit", "limit_execute") and self.ready():
            self._limit(app, data)
        elif app == "set" and data and "=" in data:
            name, value = data.split("=", 1)
            self.setVariable(name, value)

    def _limit(self, app: str, data: Optional[str]) -> None:
        """mod_dptools' limit / limit_execute over the fake switch's EmulatedLimits."""
        fake = self._fake or EmulatedSwitch.current
        args = _limit_args(data, 6 if app == "limit_execute" else 7)
        if args is None or fake is None or (app == "limit_execute" and len(args[5]) < 2):
            return  # "USAGE: ..." in the log, nothing done
        backend, realm, resource, max_calls, interval, rest = args
        if not fake.limits.incr(self, backend, realm, resource, max_calls, interval):
            if app == "limit":
                target = rest[0] if rest else "limit_exceeded"
                if target.startswith("!"):
                    self.hangup(target[1:])
                else:
                    self.transfers.append(target)
            return
        if app == "limit_execute":
            self.execute(rest[0], rest[1])
            if self.getState() == "CS_EXECUTE":  # still in the dialplan: release now, else at hangup
                fake.limits.release(self, backend, realm, resource)

    def _bridge(self, data: str) -> None:
        fake = self._fake or EmulatedSwitch.current
        found = _GATEWAY_DIAL_RE.match(data)
        gateway = found.group(1) if found else None
        if gateway is not None and gateway == self.hangup_on_bridge:
            cause = "ORIGINATOR_CANCEL"
        elif gateway is None:
            cause = "INVALID_URL" if data.startswith("sofia/") else "CHAN_NOT_IMPLEMENTED"
        elif not gateway or (fake is not None and fake.gateway_state(gateway) is None):
            cause = "INVALID_GATEWAY"  # sofia: "Invalid Gateway" (also distributor's "-err")
        elif fake is not None and fake.gateway_state(gateway) == "down":
            cause = "GATEWAY_DOWN"
        else:
            cause = self.bridge_outcomes.get(gateway, "SUCCESS")
        if cause == CALLER_LEFT_AT_ANSWER:
            self._mark_answered()
            self.hangup("NORMAL_CLEARING")  # the caller's BYE; the switch then reports the bridge as:
            cause = "ORIGINATOR_CANCEL"
        if cause.startswith("sip:"):
            status, _, reason = cause.partition(" ")
            self.variables["last_bridge_proto_specific_hangup_cause"] = status
            cause = reason or SIP_CAUSES.get(int(status[4:]), "NORMAL_UNSPECIFIED")
        self.bridges.append((data, cause))
        if cause == "SUCCESS":
            self._mark_answered()
            self._in_bridge = self.stay_up
            self.variables.update(originate_disposition="SUCCESS", DIALSTATUS="SUCCESS",
                                  bridge_hangup_cause="NORMAL_CLEARING",
                                  last_bridge_to="00000000-0000-4000-8000-%012x" % next(_LEG_NUMBERS))
            if switch_true(self.getVariable("hangup_after_bridge")):  # the channel's, else the global one
                self.hangup("NORMAL_CLEARING")  # the far end hung up; the caller goes too
            return
        self.variables.update(originate_disposition=cause, originate_failed_cause=cause,
                              DIALSTATUS=_DIALSTATUS.get(cause, cause))
        if cause == "ORIGINATOR_CANCEL" or not self._continues_after(cause):
            self.hangup(cause)

    def _mark_answered(self) -> None:
        """switch_channel_perform_mark_answered: the first answer sets ``answered_time`` and runs each
        ``execute_on_answer*`` variable (the switch's globals', then the channel's) as ``app data``."""
        if self._answered:
            return
        self._answered = True
        self.variables["answered_time"] = str(time.time_ns() // 1000)
        fake = self._fake or EmulatedSwitch.current
        merged = dict(fake.globals if fake is not None else {}, **self.variables)
        for name, value in merged.items():
            if name.lower().startswith("execute_on_answer"):
                app, *data = _ON_ANSWER_SPLIT_RE.split(value, 1)
                self.execute(app, self._expanded(data[0]) if data else None)

    def _expanded(self, text: str) -> str:
        """switch_channel_expand_variables, for ``${name}`` and ``${strepoch()}`` (the switch's clock)."""
        fake = self._fake or EmulatedSwitch.current
        epoch = fake.epoch if fake is not None else time.time
        return _EXPANSION_RE.sub(lambda m: str(int(epoch())) if m.group(1) == "strepoch()"
                                 else self.getVariable(m.group(1)) or "", text)

    def _continues_after(self, cause: str) -> bool:
        """mod_dptools audio_bridge_function: does the caller stay up after ``cause``?"""
        if cause == "ATTENDED_TRANSFER":
            return False
        setting = self.getVariable("continue_on_fail")  # the channel's, else the global one
        failure_causes = self.getVariable("failure_causes")
        if setting is None and failure_causes is None:
            return cause in _ALWAYS_CONTINUE
        if failure_causes is not None and cause not in _names(failure_causes):
            return True
        if setting is not None:
            return switch_true(setting) or cause in _names(setting)
        return False
