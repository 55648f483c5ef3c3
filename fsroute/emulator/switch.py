"""A FreeSWITCH emulated in-process: the switch state and the ``freeswitch`` module over it.

Shared by ``fsroute simulate`` and ``compare`` (which hand it to the runtime
with ``fslog.talking_to``, for their own calls only) and by the test double
``fsroute.testing`` (which installs its module as ``freeswitch``).
"""

from __future__ import annotations

import re
import threading
import time
import types
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .limits import EmulatedLimits

_GWLIST_RE = re.compile(r"sofia profile (\S+) gwlist (up|down)\Z")
_LIMIT_USAGE_RE = re.compile(r"limit_usage (\S+) (\S+) (\S+)\Z")


class EmulatedSwitch:
    """The switch state and a ``freeswitch`` module (``module``) that offers only what the real one offers.

    - ``set_gateways(profile, up=[...], down=[...])``: what
      ``sofia profile <p> gwlist down`` reports (unknown profiles answer
      ``Invalid Profile [<p>]`` as the real command does);
    - ``answers[command] = text | exception | callable(command)``: scripted
      answers for any API command, checked first;
    - ``logs``: every consoleLog line as ``(level, message)``;
    - ``events``: the headers of every fired ``Event``, as dicts;
    - ``globals``: global variables (``getGlobalVariable``);
    - ``epoch``: the switch's clock (``${strepoch()}``), time.time unless a test sets another;
    - ``limits``: the ``limit`` backends ``hash`` and ``hiredis`` (EmulatedLimits),
      read with the API ``limit_usage <backend> <realm> <resource>``.

    Nothing here touches ``sys.modules``: a tool runs calls on ``module`` with
    ``fsroute.runtime.fslog.talking_to``; ``fsroute.testing.FakeFreeSWITCH`` installs it.
    """

    current: Optional[EmulatedSwitch] = None  # the one installed as ``freeswitch``: StubSessions made without one use it

    def __init__(self, global_variables: Optional[Mapping[str, str]] = None) -> None:
        self.profiles: Dict[str, Dict[str, List[str]]] = {}
        self.answers: Dict[str, Any] = {}
        self.logs: List[Tuple[str, str]] = []
        self.events: List[Dict[str, str]] = []
        self.api_calls: List[str] = []
        self.globals = dict(global_variables or {})
        self.limits = EmulatedLimits()
        self.epoch: Callable[[], float] = time.time
        self._lock = threading.Lock()
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
