"""What the router asks about a gateway besides sofia's UP/DOWN: its breaker and its active calls.

Unrelated to ``runtime/gateways.py`` (the gwlist reader behind ``Loaded.is_up``); both belong to a Loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import limits

if TYPE_CHECKING:
    from .store import Loaded


class Health:
    """The router's ``health`` for calls on ``loaded`` rules (one per Loaded); fits core.router.GatewayHealth."""

    def __init__(self, loaded: Loaded) -> None:
        self._rules = loaded.rules
        self.any_breaker = loaded.breakers.any_breaker
        self.benched = loaded.breakers.benched
        self.last_resort = loaded.breakers.last_resort

    def calls(self, name: str) -> int:
        """Active calls through ``name`` as the limit backend counts them (0 when unreadable)."""
        return limits.usage(self._rules, name) or 0
