"""The fake ``freeswitch`` module and the stub session behind ``fsroute.testing``."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple
import re
import sys
import threading
import time
import types
import uuid as uuid_module

from fsroute.core.fsvalues import switch_true

_GWLIST_RE = re.compile(r"sofia profile (\S+) gwlist (up|down)\Z")
_LIMIT_USAGE_RE = re.compile(r"limit_usage (\S+) (\S+) (\S+)\Z")
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


_LEG_NUMBERS = itertools.count(1)  # the B-legs' uuids: unique, and cheap to make


def _names(listing: str) -> List[str]:
    return [item.strip().upper() for item in listing.split(",")]


class FakeFreeSWITCH:
    """A fake ``freeswitch`` module and the switch state behind it.

    - ``set_gateways(profile, up=[...], down=[...])``: what
      ``sofia profile <p> gwlist down`` reports (unknown profiles answer
      ``Invalid Profile [<p>]`` as the real command does);
    - ``answers[command] = text | exception | callable(command)``: scripted
      answers for any API command, checked first;
    - ``logs``: every consoleLog line as ``(level, message)``;
    - ``events``: the headers of every fired ``Event``, as dicts;
    - ``globals``: global variables (``getGlobalVariable``);
    - ``limits``: the ``limit`` backends ``hash`` and ``hiredis`` (FakeLimits),
      read with the API ``limit_usage <backend> <realm> <resource>``.

    ``install()`` / ``uninstall()`` or ``with FakeFreeSWITCH() as fs:``;
    the module that was in ``sys.modules`` before is put back.
    """

    current: Optional[FakeFreeSWITCH] = None  # the installed fake, used by StubSessions created without one

    def __init__(self, global_variables: Optional[Mapping[str, str]] = None) -> None:
        self.profiles: Dict[str, Dict[str, List[str]]] = {}
        self.answers: Dict[str, Any] = {}
        self.logs: List[Tuple[str, str]] = []
        self.events: List[Dict[str, str]] = []
        self.api_calls: List[str] = []
        self.globals = dict(global_variables or {})
        self.limits = FakeLimits()
        self._lock = threading.Lock()
        self._saved: Optional[Tuple[Any, Optional[FakeFreeSWITCH]]] = None
        self.module = self._make_module()

    # -- switch state --------------------------------------------------------
    def set_gateways(self, profile: str, up: Iterable[str] = (), down: Iterable[str] = ()) -> None:
        """Declare ``profile``'s gateways and which of them are down."""
        with self._lock:
            self.profiles[profile] = {"up": list(up), "down": list(down)}

    def gateway_state(self, gateway: str) -> Optional[str]:
        """"up", "down", or None when no profile declares ``gateway``."""
        for profile in self.profiles.values():
            if gateway in profile["down"]:
                return "down"
            if gateway in profile["up"]:
                return "up"
        return None

    def fired(self, subclass: str) -> List[Dict[str, str]]:
        """The headers of every fired CUSTOM event ``subclass``, in order."""
        return [headers for headers in list(self.events) if headers.get("Event-Subclass") == subclass]

    def log_lines(self, level: Optional[str] = None) -> List[str]:
        """The logged messages (without the trailing newline), optionally of one level."""
        return [m.rstrip("\n") for lv, m in list(self.logs) if level is None or lv == level]

    def api(self, command: str) -> Any:
        """What ``API().executeString(command)`` returns in this fake switch."""
        with self._lock:
            self.api_calls.append(command)
        answer = self.answers.get(command)
        if answer is not None:
            if isinstance(answer, BaseException):
                raise answer
            return answer(command) if callable(answer) else answer
        found = _LIMIT_USAGE_RE.match(command)
        if found:
            return "%d" % self.limits.usage(*found.groups())
        found = _GWLIST_RE.match(command)
        if found:
            profile = self.profiles.get(found.group(1))
            if profile is None:
                return "Invalid Profile [%s]" % found.group(1)
            return "".join(name + " " for name in profile[found.group(2)])
        if command == "sofia xmlstatus gateway":
            return self._xmlstatus()
        return "-ERR %s Command not found!\n" % command.split(" ", 1)[0]

    def _xmlstatus(self) -> str:
        """Every declared gateway as mod_sofia's ``sofia xmlstatus gateway`` lists it."""
        rows = ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<gateways>"]
        for profile, states in sorted(self.profiles.items()):
            for status in ("up", "down"):
                for name in states[status]:
                    rows.append("  <gateway>\n    <name>%s</name>\n    <profile>%s</profile>\n"
                                "    <status>%s</status>\n  </gateway>" % (name, profile, status.upper()))
        return "\n".join(rows + ["</gateways>", ""])

    # -- installation ------------------------------------------------------------
    def install(self) -> FakeFreeSWITCH:
        self._saved = (sys.modules.get("freeswitch"), FakeFreeSWITCH.current)
        sys.modules["freeswitch"] = self.module
        FakeFreeSWITCH.current = self
        return self

    def uninstall(self) -> None:
        previous, current = self._saved or (None, None)
        if previous is None:
            sys.modules.pop("freeswitch", None)
        else:
            sys.modules["freeswitch"] = previous
        FakeFreeSWITCH.current = current

    def __enter__(self) -> FakeFreeSWITCH:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _make_module(self) -> Any:
        fake = self
        module: Any = types.ModuleType("freeswitch")
        module.__doc__ = "fake freeswitch module (fsroute.testing)"

        def consoleLog(level: str, message: str) -> None:
            with fake._lock:
                fake.logs.append((level, message))

        def consoleCleanLog(message: str) -> None:
            consoleLog("console", message)

        class API:
            def __init__(self, session: Any = None) -> None:
                self.session = session

            def executeString(self, command: str) -> Any:
                return fake.api(command)

            def execute(self, command: str, args: Optional[str] = None) -> Any:
                return fake.api(command if args is None else "%s %s" % (command, args))

        class Stream:
            def __init__(self) -> None:
                self._data: List[str] = []

            def write(self, text: str) -> None:
                self._data.append(text)

            def get_data(self) -> str:
                return "".join(self._data)

        class Event:
            """``Event(type, subclass_name=None)``; ``fire()`` appends its headers to ``fake.events``."""

            def __init__(self, type: str, subclass_name: Optional[str] = None) -> None:
                # switch_cpp.cpp: a subclass name makes any type CUSTOM
                self._headers: Dict[str, str] = {"Event-Name": "CUSTOM" if subclass_name else type.upper()}
                if subclass_name:
                    self._headers["Event-Subclass"] = subclass_name

            def addHeader(self, header_name: str, value: str) -> bool:
                if not isinstance(header_name, str) or not isinstance(value, str):
                    raise TypeError("in method 'Event_addHeader', argument of type 'char const *'")
                self._headers[header_name] = value
                return True

            def getHeader(self, header_name: str) -> Optional[str]:
                return self._headers.get(header_name)

            def getType(self) -> str:
                return self._headers["Event-Name"]

            def fire(self) -> bool:
                with fake._lock:
                    fake.events.append(dict(self._headers))
                return True

        module.consoleLog = consoleLog
        module.consoleCleanLog = consoleCleanLog
        module.getGlobalVariable = lambda name: fake.globals.get(name)
        module.setGlobalVariable = lambda name, value: fake.globals.__setitem__(name, value)
        module.running = lambda: True
        module.msleep = lambda ms: threading.Event().wait(ms / 1000.0)
        module.API = API
        module.Stream = Stream
        module.Event = Event
        module._fake = fake
        return module


class FakeLimits:
    """FreeSWITCH's ``limit`` backends as mod_hash and mod_hiredis count.

    - ``hash``: key ``<realm>_<resource>``; a concurrent limit refuses when
      the count would pass ``max``; a channel counts once per key; a rate
      limit (``max/interval``) counts attempts (refused ones too) in a window
      that restarts with the first attempt after ``interval`` seconds.
    - ``hiredis``: key ``<resource>`` (the realm is the hiredis profile and
      not part of it), ``<resource>_<epoch // interval>`` for rate limits;
      INCR, then over ``max`` (a max of 0 means no limit, as in mod_hiredis):
      ``hiredis_limit_exceeded=true``, DECR (concurrent) and refuse. With
      ``redis_up = False`` every increment fails (the limit is refused
      without ``hiredis_limit_exceeded``) unless ``ignore_connect_fail``.

    Concurrent counts a channel holds are released when it hangs up.
    ``clock`` (epoch seconds) is injectable for rate limits.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.redis_up = True
        self.ignore_connect_fail = False
        self.counts: Dict[Tuple[str, str], int] = {}  # (backend, key) -> concurrent count
        self._rates: Dict[str, List[Any]] = {}  # hash key -> [window start, attempts]
        self._lock = threading.Lock()

    def _key(self, backend: str, realm: Optional[str], resource: str) -> str:
        return resource if backend == "hiredis" else "%s_%s" % (realm, resource)

    def incr(self, session: StubSession, backend: str, realm: str, resource: str, max_calls: int,
             interval: int) -> bool:
        """True when the channel may go on; ``session`` holds what it took until it hangs up."""
        if backend not in ("hash", "hiredis"):
            return False  # switch_limit_incr: no such backend
        key = self._key(backend, realm, resource)
        with self._lock:
            if backend == "hiredis":
                return self._incr_hiredis(session, key, max_calls, interval)
            now = self.clock()
            held = (backend, key) in session.limits_held
            if interval > 0:
                window = self._rates.setdefault(key, [None, 0])
                if window[0] is None or window[0] <= now - interval:
                    window[:] = [now, 1]
                else:
                    window[1] += 1
                    if max_calls >= 0 and window[1] > max_calls:
                        return False
            elif max_calls >= 0 and self.counts.get((backend, key), 0) + (not held) > max_calls:
                return False
            if not held:
                self.counts[(backend, key)] = self.counts.get((backend, key), 0) + 1
                session.limits_held.append((backend, key))
            session.variables["limit_usage"] = str(self.counts[(backend, key)])
            return True

    def _incr_hiredis(self, session: StubSession, key: str, max_calls: int, interval: int) -> bool:
        if not self.redis_up:
            return self.ignore_connect_fail
        if interval:
            key = "%s_%d" % (key, int(self.clock()) // interval)
        count = self.counts.get(("hiredis", key), 0) + 1
        self.counts[("hiredis", key)] = count
        if max_calls > 0 and count > max_calls:
            session.variables["hiredis_limit_exceeded"] = "true"
            if not interval:
                self.counts[("hiredis", key)] = count - 1
            return False
        if not interval:
            session.limits_held.append(("hiredis", key))
        return True

    def release(self, session: StubSession, backend: Optional[str] = None, realm: Optional[str] = None,
                resource: Optional[str] = None) -> None:
        """Give back what ``session`` holds (of one resource, or all of it)."""
        with self._lock:
            for held in list(session.limits_held):
                if resource is None or held == (backend, self._key(backend or "", realm, resource)):
                    session.limits_held.remove(held)
                    if held in self.counts and (held[0] == "hash" or self.redis_up):
                        self.counts[held] -= 1

    def usage(self, backend: str, realm: str, resource: str) -> int:
        """What ``limit_usage`` prints: the concurrent count (hiredis without Redis: -1)."""
        if backend == "hiredis" and not self.redis_up:
            return -1
        with self._lock:
            return self.counts.get((backend, self._key(backend, realm, resource)), 0)


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
    gateway to the cause its bridge fails with (absent: answered). A bridge
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
                 bridge_outcomes: Optional[Mapping[str, str]] = None, fake: Optional[FakeFreeSWITCH] = None,
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
        self._answered = False
        self._hangup_hook: Optional[Tuple[Callable[..., object], Any]] = None

    # -- variables ---------------------------------------------------------------
    def getVariable(self, name: str) -> Optional[str]:
        """The channel variable, else (as switch_channel_get_variable does) the global one."""
        value = self.variables.get(name)
        if value is None:
            fake = self._fake or FakeFreeSWITCH.current
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
        return self.hangup_cause or "NONE"

    def answer(self) -> None:
        self._answered = True

    def preAnswer(self) -> None:
        pass

    def hangup(self, cause: str = "normal_clearing") -> None:
        if self.hangup_cause is None:
            self.hangup_cause = str(cause).upper()
            fake = self._fake or FakeFreeSWITCH.current
            if fake is not None and self.limits_held:
                fake.limits.release(self)
            if self._hangup_hook is not None:
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
        """mod_dptools' limit / limit_execute over the fake switch's FakeLimits."""
        fake = self._fake or FakeFreeSWITCH.current
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
        fake = self._fake or FakeFreeSWITCH.current
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
        self.bridges.append((data, cause))
        if cause == "SUCCESS":
            self._answered = True
            self._in_bridge = self.stay_up
            self.variables.update(originate_disposition="SUCCESS", DIALSTATUS="SUCCESS",
                                  bridge_hangup_cause="NORMAL_CLEARING",
                                  last_bridge_to="00000000-0000-4000-8000-%012x" % next(_LEG_NUMBERS))
            if switch_true(self.variables.get("hangup_after_bridge")):
                self.hangup("NORMAL_CLEARING")  # the far end hung up; the caller goes too
            return
        self.variables.update(originate_disposition=cause, originate_failed_cause=cause,
                              DIALSTATUS=_DIALSTATUS.get(cause, cause))
        if cause == "ORIGINATOR_CANCEL" or not self._continues_after(cause):
            self.hangup(cause)

    def _continues_after(self, cause: str) -> bool:
        """mod_dptools audio_bridge_function: does the caller stay up after ``cause``?"""
        if cause == "ATTENDED_TRANSFER":
            return False
        setting = self.variables.get("continue_on_fail")
        failure_causes = self.variables.get("failure_causes")
        if setting is None and failure_causes is None:
            return cause in _ALWAYS_CONTINUE
        if failure_causes is not None and cause not in _names(failure_causes):
            return True
        if setting is not None:
            return switch_true(setting) or cause in _names(setting)
        return False


def reset_state() -> None:
    """Forget every loaded rules file (and with it its gateway readings), rate deck and metric, and stop
    the metrics endpoint, as after a FreeSWITCH restart."""
    from fsroute.runtime import metrics, process
    process.forget_all()
    metrics.reset()
