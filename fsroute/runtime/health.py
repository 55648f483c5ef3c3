"""What the router asks about a gateway besides sofia's UP/DOWN: its breaker and its active calls."""

from . import limits


class Health:
    """The router's ``health`` for calls on ``loaded`` rules (one per Loaded)."""

    def __init__(self, loaded):
        self._rules = loaded.rules
        self.any_breaker = loaded.breakers.any_breaker
        self.benched = loaded.breakers.benched
        self.last_resort = loaded.breakers.last_resort

    def calls(self, name):
        """Active calls through ``name`` as the limit backend counts them (0 when unreadable)."""
        return limits.usage(self._rules, name) or 0
