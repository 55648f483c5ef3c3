"""The test double behind ``fsroute.testing``: the emulated switch installed as the ``freeswitch`` module."""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, Tuple

from fsroute.emulator import EmulatedSwitch


class FakeFreeSWITCH(EmulatedSwitch):
    """An EmulatedSwitch (gateways, ``answers``, ``logs``, ``events``, ``globals``, ``limits``) whose module
    code under test imports as ``freeswitch``.

    ``install()`` / ``uninstall()`` or ``with FakeFreeSWITCH() as fs:``;
    the module that was in ``sys.modules`` before is put back.
    """

    _saved: Optional[Tuple[Any, Optional[EmulatedSwitch]]] = None

    def install(self) -> FakeFreeSWITCH:
        self._saved = (sys.modules.get("freeswitch"), EmulatedSwitch.current)
        sys.modules["freeswitch"] = self.module
        EmulatedSwitch.current = self
        return self

    def uninstall(self) -> None:
        from fsroute.runtime import events
        events.flush()  # the route events of calls made under this fake land in it, not in the next one
        previous, current = self._saved or (None, None)
        if previous is None:
            sys.modules.pop("freeswitch", None)
        else:
            sys.modules["freeswitch"] = previous
        EmulatedSwitch.current = current

    def __enter__(self) -> FakeFreeSWITCH:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def fired(self, subclass: str) -> List[Dict[str, str]]:
        """The headers of every fired CUSTOM event ``subclass``, in order, once the route events of the
        calls finished so far are fired (fsroute fires them from a thread of its own)."""
        from fsroute.runtime import events
        events.flush()
        return super().fired(subclass)


def reset_state() -> None:
    """Forget every loaded rules file (and with it its gateway readings), rate deck and metric, and stop
    the metrics endpoint, as after a FreeSWITCH restart."""
    from fsroute.runtime import events, metrics, process
    events.flush()
    process.forget_all()
    metrics.reset()
