"""``defaults:``: what applies to every call unless a route or gateway says otherwise.

Also what other sections read the same way: an outcome's action (lcr's
on_no_carrier), breaker settings (a gateway's own).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, Optional, Tuple

from ..model import LIMIT_BACKENDS, MIN_STATUS_TTL, NAME_RE, Action, BreakerSettings, Defaults, LimitSettings
from ..reading import Reader
from ..text import did_you_mean
from ..yamltree import SCALAR, Node
from .calendars import read_zone
from .failover import read_failover_on
from .quality import read_quality_settings

_LISTEN_RE = re.compile(r"(?:\[([^\]]+)\]|([^:\[\]]+)):([0-9]{1,5})\Z")


def read_defaults(r: Reader, node: Node) -> Defaults:
    fields = r.mapping(node, "defaults", allowed=Defaults._fields)
    if fields is None:
        return Defaults()
    values: Dict[str, Any] = {}
    for key, (_, value) in fields.items():
        what = "defaults." + key
        if key == "profile":
            values[key] = r.string(value, what, NAME_RE)
        elif key == "status_ttl":
            values[key] = r.seconds(value, what, MIN_STATUS_TTL, 3600)
        elif key == "reload_check":
            values[key] = r.seconds(value, what, 0, 3600)
        elif key == "status_timeout":
            values[key] = r.seconds(value, what, 0.01, 30)
        elif key == "tz":
            values[key] = value.value if read_zone(r, value, what)[1] else None
        elif key == "max_attempts":
            values[key] = r.integer(value, what, 1, 20)
        elif key == "metrics_listen":
            values[key] = read_listen_address(r, value, what)
        elif key == "events":
            values[key] = r.boolean(value, what)
        elif key == "failover_on":
            values[key] = read_failover_on(r, value, what)
        elif key == "quality":
            values[key] = read_quality_settings(r, value, what)
        elif key == "strict_gateways":
            values[key] = r.boolean(value, what)
        elif key == "breaker":
            values[key] = read_breaker(r, value, what, BreakerSettings())
        elif key == "limits":
            values[key] = read_limits(r, value, what)
        else:
            values[key] = read_action(r, value, what)
    return Defaults(**{k: v for k, v in values.items() if v is not None})


def read_action(r: Reader, node: Node, what: str) -> Optional[Action]:
    if node.kind == SCALAR and node.value == "continue":
        return Action(None)
    fields = r.mapping(node, what + " (either 'continue' or {hangup: CAUSE})",
                       allowed=("hangup",), required=("hangup",))
    if not fields or "hangup" not in fields:
        return None
    cause = r.cause(fields["hangup"][1], what + ".hangup")
    return Action(cause) if cause else None


def read_breaker(r: Reader, node: Node, what: str, base: BreakerSettings) -> BreakerSettings:
    """BreakerSettings: the keys given over ``base``."""
    fields = r.mapping(node, what, allowed=BreakerSettings._fields)
    values: Dict[str, Any] = {}
    for key, (_, value) in (fields or {}).items():
        if key == "failures":
            values[key] = r.integer(value, what + "." + key, 1, 1000)
        elif key == "last_resort":
            if value.kind == SCALAR and isinstance(value.value, bool):
                values[key] = value.value
            else:
                r.error(value, "%s.last_resort must be true or false" % what)
        else:
            values[key] = r.seconds(value, what + "." + key, 0.1, 86400)
    settings = base._replace(**{k: v for k, v in values.items() if v is not None})
    if "max_cooldown" not in values:  # a long cooldown alone raises the bound with it
        settings = settings._replace(max_cooldown=max(settings.max_cooldown, settings.cooldown))
    if settings.max_cooldown < settings.cooldown:
        r.error(node, "%s: max_cooldown (%g) is shorter than cooldown (%g)"
                % (what, settings.max_cooldown, settings.cooldown))
    return settings


def read_limits(r: Reader, node: Node, what: str) -> LimitSettings:
    fields = r.mapping(node, what, allowed=LimitSettings._fields)
    values: Dict[str, Any] = {}
    for key, (_, value) in (fields or {}).items():
        if key == "backend":
            backend = value.value if value.kind == SCALAR else None
            if backend in LIMIT_BACKENDS:
                values[key] = backend
            else:
                r.error(value, "%s: unknown backend %r%s" % (
                    what, backend, did_you_mean(backend, LIMIT_BACKENDS)
                    or " (expected one of: %s)" % ", ".join(LIMIT_BACKENDS)))
        else:
            values[key] = r.string(value, what + "." + key, NAME_RE)
    return LimitSettings(**{k: v for k, v in values.items() if v is not None})


def read_listen_address(r: Reader, node: Node, what: str) -> Optional[Tuple[str, int]]:
    """(host, port) of HOST:PORT or [V6]:PORT on loopback only: the endpoint has no authentication."""
    text = r.string(node, what)
    found = _LISTEN_RE.match(text) if text is not None else None
    if found is None:
        if text is not None:
            r.error(node, "%s must be HOST:PORT, e.g. 127.0.0.1:9466 or [::1]:9466" % what)
        return None
    host, port = found.group(1) or found.group(2), int(found.group(3))
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        r.error(node, "%s: %r is not an IP address" % (what, host))
        return None
    if not address.is_loopback:
        r.error(node, "%s: %s is not a loopback address; the metrics endpoint has no authentication, "
                "so fsroute serves it on 127.0.0.0/8 or ::1 only (scrape it through a proxy, or use "
                "'python fsroute.ctl metrics' with a textfile collector)" % (what, address))
        return None
    if not 1 <= port <= 65535:
        r.error(node, "%s: port must be from 1 to 65535" % what)
        return None
    return (str(address), port)
