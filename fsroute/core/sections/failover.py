"""``failover_on`` wherever it stands (defaults, a route, a group, a carrier, a gateway), and a route's
``max_attempts`` / ``max_seconds``: the rules of core.failover."""

from __future__ import annotations

from typing import FrozenSet, List, Optional, Tuple

from ..failover import sip_entry
from ..reading import Fields, Reader
from ..yamltree import SCALAR, Node

FAILOVER_KEYS = ("failover_on",)
ROUTE_FAILOVER_KEYS = ("failover_on", "max_attempts", "max_seconds")


def read_failover_on(r: Reader, node: Node, what: str) -> FrozenSet[str]:
    """Cause names and SIP statuses (``sip:503``, ``sip:5xx``) of a failover_on list."""
    found: List[str] = []
    for item in r.sequence(node, what):
        text = item.value if item.kind == SCALAR else None
        entry = sip_entry(text) if isinstance(text, str) and text.lower().startswith("sip:") else None
        if entry is not None:
            found.append(entry)
        elif isinstance(text, str) and text.lower().startswith("sip:"):
            r.error(item, "%s: %r is not a SIP status: write sip:NNN (sip:503) or a class (sip:5xx)"
                    % (what, text))
        else:
            cause = r.cause(item, what)
            if cause:
                found.append(cause)
    return frozenset(found)


def read_own_failover_on(r: Reader, body: Fields, what: str) -> Optional[FrozenSet[str]]:
    """A section's own ``failover_on`` (None without one: a wider one applies)."""
    return read_failover_on(r, body["failover_on"][1], what + " failover_on") if "failover_on" in body else None


def read_route_limits(r: Reader, body: Fields, what: str) -> Tuple[Optional[int], Optional[float]]:
    """A route's ``max_attempts`` and ``max_seconds`` (None when not given)."""
    most = r.integer(body["max_attempts"][1], what + " max_attempts", 1, 20) if "max_attempts" in body else None
    seconds = r.seconds(body["max_seconds"][1], what + " max_seconds", 0.1, 3600) if "max_seconds" in body else None
    return most, seconds
