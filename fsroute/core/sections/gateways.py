"""``gateways:``: each gateway's profile, number format, breaker, capacity and what it adds to a call.

Also what routes and groups read the same way: capacity, the leg:, set:,
export: and caller_id: of an attempt, and value templates.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

from .. import templates
from ..dialstring import LEG_NAME_RE, UnsafeValue, check_value
from ..model import (NAME_RE, NO_DIALLING, BreakerSettings, CallerId, Capacity, Defaults, Dialling, GatewaySettings,
                     GatewaySpec)
from ..reading import TEMPLATE_RE, Fields, Reader
from ..yamltree import SCALAR, Node
from .defaults import read_breaker
from .failover import FAILOVER_KEYS, read_own_failover_on

DIALLING_KEYS = ("leg", "set", "export", "caller_id")
GATEWAY_KEYS = ("profile", "number", "strip", "max_calls", "max_cps", "breaker") + DIALLING_KEYS + FAILOVER_KEYS
_RATE_RE = re.compile(r"([0-9]{1,6})/([0-9]{1,5})\Z")


def read_gateways(r: Reader, node: Node, defaults: Defaults
                  ) -> Tuple[Dict[str, str], Dict[str, GatewaySpec], Dict[str, GatewaySettings]]:
    """({name: profile} for those with a profile, {name: everything declared about dialling},
    {name: GatewaySettings}) of the gateways section."""
    fields = r.mapping(node, "gateways")
    profiles: Dict[str, str] = {}
    specs: Dict[str, GatewaySpec] = {}
    settings: Dict[str, GatewaySettings] = {}
    for name, (key, value) in (fields or {}).items():
        what = "gateway '%s'" % name
        if not r.check_name(key, what):
            continue
        body = r.mapping(value, what, allowed=GATEWAY_KEYS)
        if body is None:
            continue
        breaker = defaults.breaker
        if "breaker" in body:
            breaker = read_breaker(r, body["breaker"][1], what + " breaker",
                                   defaults.breaker or BreakerSettings())
        settings[name] = GatewaySettings(breaker, read_capacity(r, body, what), read_own_failover_on(r, body, what))
        profile = r.string(body["profile"][1], what + " profile", NAME_RE) if "profile" in body else None
        if profile:
            profiles[name] = profile
        number = None
        if "number" in body:
            number = value_template(r, body["number"][1], what + " number", 0, dialable=True,
                                    zero="the route's number after strip")
        strip = r.integer(body["strip"][1], what + " strip", 0, 32) if "strip" in body else 0
        specs[name] = GatewaySpec(profile, number, strip or 0, read_dialling(r, body, what, -1), key.line)
    return profiles, specs, settings


def read_capacity(r: Reader, body: Fields, what: str) -> Capacity:
    """Capacity from the ``max_calls`` / ``max_cps`` keys of ``body``."""
    max_calls: Optional[int] = None
    max_cps: Optional[Tuple[int, int]] = None
    if "max_calls" in body:
        max_calls = r.integer(body["max_calls"][1], what + " max_calls", 1, 1000000)
    if "max_cps" in body:
        node = body["max_cps"][1]
        value = node.value if node.kind == SCALAR else None
        found = _RATE_RE.match(value) if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100000:
            max_cps = (value, 1)
        elif found and int(found.group(1)) >= 1 and int(found.group(2)) >= 1:
            max_cps = (int(found.group(1)), int(found.group(2)))
        else:
            r.error(node, "%s max_cps must be calls per second (a whole number) or 'CALLS/SECONDS'" % what)
    return Capacity(max_calls, max_cps)


def read_dialling(r: Reader, body: Fields, what: str, captures: int) -> Dialling:
    """The leg:, set:, export: and caller_id: of a route or gateway (``captures``: its $N, -1: none)."""
    if not any(kind in body for kind in DIALLING_KEYS):
        return NO_DIALLING
    lists = {}
    for kind in ("leg", "set", "export"):
        pairs = []
        if kind in body:
            for name, (key, value) in (r.mapping(body[kind][1], "%s %s" % (what, kind)) or {}).items():
                if not LEG_NAME_RE.match(name):
                    r.error(key, "%s %s: %r is not a variable name (letters, digits, '_', '-')" % (what, kind, name))
                    continue
                parts = value_template(r, value, "%s %s %s" % (what, kind, name), captures)
                if parts is not None:
                    pairs.append((name, parts))
        lists[kind] = tuple(pairs)
    caller_id = read_caller_id(r, body["caller_id"][1], what) if "caller_id" in body else None
    dialling = Dialling(lists["leg"], lists["set"], lists["export"], caller_id)
    return NO_DIALLING if dialling == NO_DIALLING else dialling  # one shared empty one: routes stay small


def read_caller_id(r: Reader, node: Node, what: str) -> Optional[CallerId]:
    what += " caller_id"
    body = r.mapping(node, what, allowed=("match", "number", "name", "else"), required=("match",))
    if not body or "match" not in body:
        return None
    regex = r.regex(body["match"][1], what + " match")
    groups = regex.groups if regex is not None else 0
    number = value_template(r, body["number"][1], what + " number", groups) if "number" in body else None
    name = value_template(r, body["name"][1], what + " name", groups) if "name" in body else None
    refuse = None
    if "else" in body:
        other = body["else"][1]
        if not (other.kind == SCALAR and other.value == "keep"):
            fields = r.mapping(other, what + " else (either 'keep' or {hangup: CAUSE})",
                               allowed=("hangup",), required=("hangup",))
            refuse = r.cause(fields["hangup"][1], what + " else hangup") if fields and "hangup" in fields \
                else None
    if regex is None:
        return None
    return CallerId(regex, number, name, refuse)


def value_template(r: Reader, node: Node, what: str, captures: int, dialable: bool = False, zero: str = ""
                   ) -> Optional[templates.Parts]:
    """A value template ($N up to ``captures``, ${var}); its literal text is checked now, what the
    call fills in at call time. ``dialable``: a number (0-9 A-Z a-z + * # . _ -); ``zero``: a template
    over one number, $0 (templates.parse)."""
    text = node.value if node.kind == SCALAR else None
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, (int, float)):
        text = str(text)
    if not isinstance(text, str) or text == "":
        r.error(node, "%s must be a non-empty string" % what)
        return None
    if dialable and not TEMPLATE_RE.match(text):
        r.error(node, "%s %r may hold only 0-9 A-Z a-z + * # . _ -, $N captures and ${var}" % (what, text))
        return None
    try:
        parts = templates.parse(text, captures, zero)
        check_value("".join(p if isinstance(p, str) else "x" for p in parts), "the value")
    except (templates.TemplateError, UnsafeValue) as exc:
        r.error(node, "%s: %s" % (what, exc))
        return None
    return parts
