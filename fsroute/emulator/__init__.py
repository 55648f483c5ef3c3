"""FreeSWITCH emulated in-process, for running fsroute's real call handling outside a switch.

``EmulatedSwitch`` is the switch state (gateways, API answers, logs, events, global variables,
limit counts) and a ``freeswitch`` module offering only what mod_python3's real one offers;
``StubSession`` plays a call's session, including what ``bridge`` and ``limit_execute`` do to the
channel in a real switch. ``fsroute simulate`` and ``compare`` run calls on it without touching
``sys.modules``; the test double ``fsroute.testing`` is built on it.
"""

from .limits import EmulatedLimits
from .session import StubSession
from .switch import EmulatedSwitch

__all__ = ["EmulatedLimits", "EmulatedSwitch", "StubSession"]
