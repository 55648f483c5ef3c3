"""Gateways an operator took out of service: ``drain`` (no new calls, calls up finish), ``disable``, ``enable``.

``python fsroute.ctl drain|disable GW [reason]`` and ``enable GW``. A gateway
taken out is left out of every decision as a DOWN one is (Generation.is_up),
and a later attempt of a call already routed skips it; calls already in a
bridge through it are not touched. fsroute counts the bridges running through
each gateway, so ``ctl status`` shows a drained gateway's calls counting down
to zero. ``disable`` is the same for calls, said as "out of service" rather
than "on its way out" (no countdown); neither hangs a call up
(``hupall NORMAL_CLEARING fsroute_gateway GW`` does, in fs_cli).

The state belongs to a rules file's store: one object shared by every
generation of that file, so a reload keeps it by gateway name. It is written
to a small JSON file beside the rules file (``<rules>.gateways.json``) at each
command, off the call path, and read again by the file's first generation
after a FreeSWITCH restart. A file and not Redis: draining is an operator's
act on one switch, it must survive a restart with Redis down, and a fleet's
configuration tool writes the file as it writes the rules.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Callable, Dict, FrozenSet, NamedTuple, Optional

from .fslog import ERROR, log

DRAINED, DISABLED, ENABLED = "drained", "disabled", "enabled"
STATES = (DRAINED, DISABLED)
SUFFIX = ".gateways.json"


class Held(NamedTuple):
    """Why a gateway is out of service."""
    state: str     # DRAINED or DISABLED
    reason: str
    since: float   # wall time of the command


class GatewayAdmin:
    """The gateways of one rules file taken out of service, and the bridges running through each gateway.

    ``closed`` (the names taken out) is replaced whole on each change, so a
    call thread reads it without a lock.
    """

    def __init__(self, path: Optional[str], clock: Callable[[], float] = time.time) -> None:
        self.path = path  # the state file; None: kept in memory only (a tool's generation)
        self.clock = clock
        self.closed: FrozenSet[str] = frozenset()
        self._held: Dict[str, Held] = {}
        self._bridging: Dict[object, str] = {}  # each call in a bridge -> its gateway
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, rules_path: str, clock: Callable[[], float] = time.time) -> GatewayAdmin:
        """The state of the rules file at ``rules_path``, read from its state file when there is one."""
        admin = cls(rules_path + SUFFIX, clock)
        admin._read()
        return admin

    def held(self, gateway: str) -> Optional[Held]:
        """Why ``gateway`` is out of service, None when it is in."""
        return self._held.get(gateway)

    def all_held(self) -> Dict[str, Held]:
        with self._lock:
            return dict(self._held)

    def change(self, gateway: str, state: str, reason: str = "") -> Optional[str]:
        """Take ``gateway`` out (DRAINED, DISABLED) or back in (ENABLED); the state file is rewritten.
        Returns why the file could not be written (the change holds in memory), else None."""
        with self._lock:
            if state == ENABLED:
                self._held.pop(gateway, None)
            else:
                self._held[gateway] = Held(state, reason, self.clock())
            self.closed = frozenset(self._held)
            return self._write()

    # -- the bridges through each gateway (the call loop) ---------------------------------------
    def begin(self, call: object, gateway: str) -> None:
        """``call`` is now in a bridge through ``gateway`` (one dict store: no lock on the call path)."""
        self._bridging[call] = gateway

    def end(self, call: object) -> None:
        """``call``'s bridge is over."""
        del self._bridging[call]

    def bridging(self, gateway: str) -> int:
        """Calls in a bridge through ``gateway`` now (ringing or up)."""
        return list(self._bridging.values()).count(gateway)  # list() copies in one step under the GIL

    # -- the state file -------------------------------------------------------------------------
    def _write(self) -> Optional[str]:
        if self.path is None:
            return None
        data = {"version": 1, "gateways": {name: held._asdict() for name, held in sorted(self._held.items())}}
        partial = self.path + ".tmp"
        try:
            with open(partial, "w") as handle:
                json.dump(data, handle, indent=1)
            os.replace(partial, self.path)  # a crash leaves the old file or the new one, never half of one
        except OSError as exc:
            return "%s not written: %s" % (self.path, exc.strerror or exc)
        return None

    def _read(self) -> None:
        assert self.path is not None
        try:
            with open(self.path) as handle:
                data = json.load(handle)
            held = {name: Held(str(entry["state"]), str(entry.get("reason", "")), float(entry.get("since", 0)))
                    for name, entry in data["gateways"].items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log(ERROR, "fsroute: %s unreadable, every gateway in service: %s" % (self.path, exc))
            return
        self._held = {name: h for name, h in held.items() if h.state in STATES}
        self.closed = frozenset(self._held)


def describe(admin: GatewayAdmin, gateway: str) -> Optional[str]:
    """The ``ctl status`` words for a gateway out of service (None when it is in)."""
    held = admin.held(gateway)
    if held is None:
        return None
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(held.since))
    words = "%s since %s%s" % (held.state, since, " (%s)" % held.reason if held.reason else "")
    calls = admin.bridging(gateway)
    if held.state == DRAINED:
        words += ": %d call%s left" % (calls, "" if calls == 1 else "s") if calls else ": no calls left"
    elif calls:
        words += ": %d call%s still up" % (calls, "" if calls == 1 else "s")
    return words

