"""The grammar of rules format version 1: a YAML node tree -> validated RuleSet.

Every problem is reported as ``file:line:col: message``, all of them at
once (up to a cap), so an operator fixes a file in one pass.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Dict, Iterable, List, Optional, Pattern, Set, Tuple, Union

from .acl import Acl, parse_network
from .causes import CAUSES
from .decks import MICRO
from .model import (LIMIT_BACKENDS, MIN_STATUS_TTL, NAME_RE, NO_DIALLING, STRATEGIES, VARIABLE_RE,
                    Action, BreakerSettings, CallerId, Capacity, Carrier, Defaults, Dialling, GatewaySettings,
                    GatewaySpec, Group, LimitSettings, Lcr, Member, Problem, Route, RuleSet, RulesError, Transfer)
from .dialstring import LEG_NAME_RE, UnsafeValue, check_value
from . import templates
from .patterns import Regex, compile_route_regex
from .sections.calendars import TimeGrammar, read_zone, zone_of
from .text import closest, did_you_mean, one_line
from .timespec import TimeSpec
from .yamltree import MAP, SCALAR, SEQ, Node

# A mapping node read by Builder.mapping: {key: (key node, value node)}.
Fields = Dict[str, Tuple[Node, Node]]

FORMAT_VERSION = 1
MAX_PROBLEMS = 50

# What a route does: bridge (gateway, group) or one of the other actions.
BRIDGE_KEYS = ("gateway", "group", "lcr")
ACTION_KEYS = BRIDGE_KEYS + ("hangup", "transfer", "continue")
DIALLING_KEYS = ("leg", "set", "export", "caller_id")
# A route's time conditions (calendars.py); a route with any of them is built once the file is read.
TIME_KEYS = ("time", "when", "unless")
ROUTE_KEYS = ("name", "match", "number", "acl") + ACTION_KEYS + DIALLING_KEYS + TIME_KEYS
GATEWAY_KEYS = ("profile", "number", "strip", "max_calls", "max_cps", "breaker") + DIALLING_KEYS
_GATEWAY_VAR_RE = re.compile(r"\$\{([A-Za-z0-9_]{1,64})\}\Z")

_TEMPLATE_RE = re.compile(r"(?:[0-9A-Za-z+*#._-]|\$[0-9]+|\$\{[A-Za-z0-9_]{1,64}\})+\Z")
_TEMPLATE_PART_RE = re.compile(r"\$([0-9]+)|\$\{([A-Za-z0-9_]+)\}|([^$]+)")
_RATE_RE = re.compile(r"([0-9]{1,6})/([0-9]{1,5})\Z")
_NUMBER_FORMAT_RE = re.compile(r"([0-9A-Za-z+*#._-]*)\{number\}([0-9A-Za-z+*#._-]*)\Z")
_CURRENCY_RE = re.compile(r"[A-Z]{3}\Z")
_LISTEN_RE = re.compile(r"(?:\[([^\]]+)\]|([^:\[\]]+)):([0-9]{1,5})\Z")


class _TooMany(Exception):
    pass


class RereadForReport(Exception):
    """A file read in one pass (routes built as they were read) has problems: read it again
    the plain way, which reports every problem where it stands, in the usual order."""


class Builder:
    """Walks the node tree once, collecting problems and building the RuleSet."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: List[Problem] = []
        self.warnings: List[Problem] = []
        # Names declared in the file, even when their body was refused: a
        # reference to one is not reported again as "no group named ...".
        self.declared: Dict[str, Set[str]] = {"acl": set(), "group": set(), "carrier": set()}
        # With defaults.strict_gateways: the gateways declared under gateways: (else None).
        self.declared_gateways: Optional[Dict[str, GatewaySpec]] = None
        # The carrier names of each lcr route built by fold_route, resolved once the carriers are read.
        self.folded_carriers: Dict[str, Tuple[str, ...]] = {}
        self.timing: Optional[TimeGrammar] = None  # once the defaults and calendars are read

    # -- reporting -------------------------------------------------------
    def error(self, node: Optional[Node], message: str) -> None:
        line, col = (node.line, node.col) if node is not None else (1, 1)
        self.problems.append(Problem(self.filename, line, col, one_line(message, 400)))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooMany()

    def warn(self, node: Node, message: str) -> None:
        """A problem that does not stop the file from loading (``fsroute check`` shows it)."""
        self.warnings.append(Problem(self.filename, node.line, node.col, "warning: " + one_line(message, 400)))

    # -- shapes ------------------------------------------------------------
    def mapping(self, node: Optional[Node], what: str, allowed: Optional[Iterable[str]] = None,
                required: Iterable[str] = (), unknown: Optional[List[str]] = None) -> Optional[Fields]:
        """{key: (key node, value node)} for a mapping node, or None after reporting.

        Unknown keys are reported with the closest allowed one, and appended to
        ``unknown`` when given; a required key that such a suggestion names is
        not reported missing as well.
        """
        if node is None or node.kind != MAP:
            self.error(node, "%s must be a mapping" % what)
            return None
        out: Fields = {}
        suggested: Set[Optional[str]] = set()
        for key, value in node.pairs():
            if key.kind != SCALAR or not isinstance(key.value, str):
                self.error(key, "%s: keys must be plain strings" % what)
                continue
            if key.value in out:
                self.error(key, "%s: key '%s' appears twice (first at line %d)"
                           % (what, key.value, out[key.value][0].line))
                continue
            if allowed is not None and key.value not in allowed:
                close = closest(key.value, allowed)
                suggested.add(close)
                if unknown is not None:
                    unknown.append(key.value)
                self.error(key, "%s: unknown key '%s' (%s)" % (
                    what, key.value, "did you mean '%s'?" % close if close
                    else "expected one of: %s" % ", ".join(allowed)))
                continue
            out[key.value] = (key, value)
        for name in required:
            if name not in out and name not in suggested:
                self.error(node, "%s: missing required key '%s'" % (what, name))
        return out

    def sequence(self, node: Node, what: str) -> List[Any]:
        if node.kind != SEQ:
            self.error(node, "%s must be a list" % what)
            return []
        items: List[Any] = node.value
        return items

    def string(self, node: Node, what: str, pattern: Optional[Pattern[str]] = None, hint: str = "") -> Optional[str]:
        if node.kind != SCALAR or not isinstance(node.value, str) or node.value == "":
            self.error(node, "%s must be a non-empty string" % what)
            return None
        if pattern is not None and not pattern.match(node.value):
            self.error(node, "%s %r is not valid%s" % (what, node.value, hint))
            return None
        return node.value

    def integer(self, node: Node, what: str, low: int, high: int) -> Optional[int]:
        value = node.value if node.kind == SCALAR else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(node, "%s must be a whole number from %d to %d" % (what, low, high))
            return None
        return value

    def seconds(self, node: Node, what: str, low: float, high: float) -> Optional[float]:
        value = node.value if node.kind == SCALAR else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.error(node, "%s must be a number of seconds from %g to %g" % (what, low, high))
            return None
        return float(value)

    def boolean(self, node: Node, what: str) -> Optional[bool]:
        if node.kind != SCALAR or not isinstance(node.value, bool):
            self.error(node, "%s must be true or false" % what)
            return None
        value: bool = node.value
        return value

    def listen_address(self, node: Node, what: str) -> Optional[Tuple[str, int]]:
        """(host, port) of HOST:PORT or [V6]:PORT on loopback only: the endpoint has no authentication."""
        text = self.string(node, what)
        found = _LISTEN_RE.match(text) if text is not None else None
        if found is None:
            if text is not None:
                self.error(node, "%s must be HOST:PORT, e.g. 127.0.0.1:9466 or [::1]:9466" % what)
            return None
        host, port = found.group(1) or found.group(2), int(found.group(3))
        try:
            address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
        except ValueError:
            self.error(node, "%s: %r is not an IP address" % (what, host))
            return None
        if not address.is_loopback:
            self.error(node, "%s: %s is not a loopback address; the metrics endpoint has no authentication, "
                       "so fsroute serves it on 127.0.0.0/8 or ::1 only (scrape it through a proxy, or use "
                       "'python fsroute.ctl metrics' with a textfile collector)" % (what, address))
            return None
        if not 1 <= port <= 65535:
            self.error(node, "%s: port must be from 1 to 65535" % what)
            return None
        return (str(address), port)

    def check_name(self, key: Node, what: str) -> bool:
        """True when the mapping key ``key`` is a usable name (it may reach a dial string or a log)."""
        if NAME_RE.match(key.value):
            return True
        self.error(key, "%s: the name may hold only letters, digits, '_', '.', '-' (at most 64)" % what)
        return False

    def cause(self, node: Node, what: str) -> Optional[str]:
        name = self.string(node, what)
        if name is not None and name.upper() not in CAUSES:
            self.error(node, "%s: '%s' is not a FreeSWITCH hangup cause" % (what, name))
            return None
        return name.upper() if name else None

    def regex(self, node: Node, what: str) -> Optional[Regex]:
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return compile_route_regex(text)
        except re.error as exc:
            self.error(node, "%s: bad regex '%s': %s" % (what, text, exc.msg if hasattr(exc, "msg") else exc))
            return None
        except RecursionError:  # sre's parser recurses per nested group (FreeSWITCH: ~240 frames)
            self.error(node, "%s: regex nests its groups too deeply" % what)
            return None
        except (OverflowError, ValueError, MemoryError) as exc:  # e.g. a{99999999999999999999}
            self.error(node, "%s: bad regex '%s': %s" % (what, text, exc))
            return None

    # -- sections ----------------------------------------------------------
    def fold_route(self, item: Node) -> Union[Route, Node, None]:
        """One route built as soon as yamltree has read it (its nodes are then freed).

        Whether its acl and group exist is checked once the file is read; any
        problem ends this pass (RereadForReport). A route with time conditions
        is kept as its nodes and built with the whole file, once the defaults'
        tz and the calendars it may name have been read.
        """
        if item.kind == MAP and any(key.value in TIME_KEYS for key, _ in item.pairs()):
            return item
        route = self.route(item, None, None, None)
        if self.problems:
            raise RereadForReport()
        return route

    def build(self, root: Optional[Node], sha256: str, folded: bool = False) -> RuleSet:
        """The RuleSet of the tree ``root``; ``folded``: its routes were built by fold_route."""
        try:
            ruleset = self._build(root, sha256)
        except _TooMany:
            ruleset = None
        if folded and self.problems:
            raise RereadForReport()
        if self.problems:
            self.problems.sort(key=lambda p: (p.line, p.col))
            if len(self.problems) >= MAX_PROBLEMS:
                last = self.problems[-1]
                self.problems.append(Problem(self.filename, last.line, last.col,
                                             "too many problems; stopped after %d" % MAX_PROBLEMS))
            raise RulesError(self.problems)
        assert ruleset is not None  # built whenever there was no problem
        return ruleset

    def _build(self, root: Optional[Node], sha256: str) -> Optional[RuleSet]:
        if root is None:
            self.error(None, "the rules file is empty")
            return None
        top = self.mapping(root, "the rules file",
                           allowed=("version", "defaults", "acls", "ingress_acl", "gateways",
                                    "groups", "calendars", "carriers", "routes"),
                           required=("version", "routes"))
        if top is None:
            return None
        if "version" in top:
            node = top["version"][1]
            if node.kind != SCALAR or type(node.value) is not int or node.value != FORMAT_VERSION:
                self.error(node, "unsupported version %r: this fsroute reads version %d"
                           % (node.value if node.kind == SCALAR else node.kind, FORMAT_VERSION))
        defaults = self.defaults(top["defaults"][1]) if "defaults" in top else Defaults()
        acls = self.acls(top["acls"][1]) if "acls" in top else {}
        ingress = None
        if "ingress_acl" in top:
            node = top["ingress_acl"][1]
            ingress = self.string(node, "ingress_acl")
            if ingress is not None and ingress not in acls and ingress not in self.declared["acl"]:
                self.error(node, "ingress_acl: no acl named '%s'%s"
                           % (ingress, did_you_mean(ingress, self.declared["acl"])))
        profiles, specs, settings = self.gateways(top["gateways"][1], defaults) if "gateways" in top \
            else ({}, {}, {})
        self.declared_gateways = specs if defaults.strict_gateways else None
        groups = self.groups(top["groups"][1]) if "groups" in top else {}
        self.timing = TimeGrammar(self, zone_of(defaults.tz))
        if "calendars" in top:
            self.timing.read_calendars(top["calendars"][1])
        carriers = self.carriers(top["carriers"][1], groups) if "carriers" in top else {}
        routes = self.routes(top["routes"][1], acls, groups, carriers) if "routes" in top else []
        if self.problems:
            return None
        return RuleSet(self.filename, sha256, defaults, acls, ingress, profiles, groups, routes, specs,
                       self.warnings, carriers, gateway_settings=settings)

    def defaults(self, node: Node) -> Defaults:
        fields = self.mapping(node, "defaults", allowed=Defaults._fields)
        if fields is None:
            return Defaults()
        values: Dict[str, Any] = {}
        for key, (_, value) in fields.items():
            what = "defaults." + key
            if key == "profile":
                values[key] = self.string(value, what, NAME_RE)
            elif key == "status_ttl":
                values[key] = self.seconds(value, what, MIN_STATUS_TTL, 3600)
            elif key == "reload_check":
                values[key] = self.seconds(value, what, 0, 3600)
            elif key == "status_timeout":
                values[key] = self.seconds(value, what, 0.01, 30)
            elif key == "tz":
                values[key] = value.value if read_zone(self, value, what)[1] else None
            elif key == "max_attempts":
                values[key] = self.integer(value, what, 1, 20)
            elif key == "metrics_listen":
                values[key] = self.listen_address(value, what)
            elif key == "events":
                values[key] = self.boolean(value, what)
            elif key == "failover_on":
                causes = [self.cause(item, what) for item in self.sequence(value, what)]
                values[key] = frozenset(c for c in causes if c)
            elif key == "strict_gateways":
                values[key] = self.boolean(value, what)
            elif key == "breaker":
                values[key] = self.breaker(value, what, BreakerSettings())
            elif key == "limits":
                values[key] = self.limits(value, what)
            else:
                values[key] = self.action(value, what)
        return Defaults(**{k: v for k, v in values.items() if v is not None})

    def action(self, node: Node, what: str) -> Optional[Action]:
        if node.kind == SCALAR and node.value == "continue":
            return Action(None)
        fields = self.mapping(node, what + " (either 'continue' or {hangup: CAUSE})",
                              allowed=("hangup",), required=("hangup",))
        if not fields or "hangup" not in fields:
            return None
        cause = self.cause(fields["hangup"][1], what + ".hangup")
        return Action(cause) if cause else None

    def acls(self, node: Node) -> Dict[str, Acl]:
        fields = self.mapping(node, "acls")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "acl '%s'" % name
            self.check_name(key, what)
            self.declared["acl"].add(name)
            body = self.mapping(value, what, allowed=("default", "nodes"), required=("default",))
            if body is None:
                continue
            default_allow = None
            if "default" in body:
                default_node = body["default"][1]
                if default_node.kind == SCALAR and default_node.value in ("allow", "deny"):
                    default_allow = default_node.value == "allow"
                else:
                    self.error(default_node, "%s: default must be 'allow' or 'deny'" % what)
            nodes, lines = [], []
            for item in self.sequence(body["nodes"][1], what + ".nodes") if "nodes" in body else ():
                entry = self.mapping(item, what + " node ({allow: CIDR} or {deny: CIDR})",
                                     allowed=("allow", "deny"))
                if not entry:
                    if entry is not None:
                        self.error(item, "%s: a node needs 'allow' or 'deny'" % what)
                    continue
                if len(entry) != 1:
                    self.error(item, "%s: a node is either allow or deny, not both" % what)
                    continue
                (verb, (_, cidr)), = entry.items()
                try:
                    nodes.append((verb == "allow", parse_network(cidr.value if cidr.kind == SCALAR else None)))
                    lines.append(item.line)
                except ValueError as exc:
                    self.error(cidr, "%s: %s" % (what, exc))
            if default_allow is not None:
                out[name] = Acl(name, default_allow, nodes, lines)
        return out

    def breaker(self, node: Node, what: str, base: BreakerSettings) -> BreakerSettings:
        """BreakerSettings: the keys given over ``base``."""
        fields = self.mapping(node, what, allowed=BreakerSettings._fields)
        values: Dict[str, Any] = {}
        for key, (_, value) in (fields or {}).items():
            if key == "failures":
                values[key] = self.integer(value, what + "." + key, 1, 1000)
            elif key == "last_resort":
                if value.kind == SCALAR and isinstance(value.value, bool):
                    values[key] = value.value
                else:
                    self.error(value, "%s.last_resort must be true or false" % what)
            else:
                values[key] = self.seconds(value, what + "." + key, 0.1, 86400)
        settings = base._replace(**{k: v for k, v in values.items() if v is not None})
        if "max_cooldown" not in values:  # a long cooldown alone raises the bound with it
            settings = settings._replace(max_cooldown=max(settings.max_cooldown, settings.cooldown))
        if settings.max_cooldown < settings.cooldown:
            self.error(node, "%s: max_cooldown (%g) is shorter than cooldown (%g)"
                       % (what, settings.max_cooldown, settings.cooldown))
        return settings

    def limits(self, node: Node, what: str) -> LimitSettings:
        fields = self.mapping(node, what, allowed=LimitSettings._fields)
        values: Dict[str, Any] = {}
        for key, (_, value) in (fields or {}).items():
            if key == "backend":
                backend = value.value if value.kind == SCALAR else None
                if backend in LIMIT_BACKENDS:
                    values[key] = backend
                else:
                    self.error(value, "%s: unknown backend %r%s" % (
                        what, backend, did_you_mean(backend, LIMIT_BACKENDS)
                        or " (expected one of: %s)" % ", ".join(LIMIT_BACKENDS)))
            else:
                values[key] = self.string(value, what + "." + key, NAME_RE)
        return LimitSettings(**{k: v for k, v in values.items() if v is not None})

    def capacity(self, body: Fields, what: str) -> Capacity:
        """Capacity from the ``max_calls`` / ``max_cps`` keys of ``body``."""
        max_calls: Optional[int] = None
        max_cps: Optional[Tuple[int, int]] = None
        if "max_calls" in body:
            max_calls = self.integer(body["max_calls"][1], what + " max_calls", 1, 1000000)
        if "max_cps" in body:
            node = body["max_cps"][1]
            value = node.value if node.kind == SCALAR else None
            found = _RATE_RE.match(value) if isinstance(value, str) else None
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100000:
                max_cps = (value, 1)
            elif found and int(found.group(1)) >= 1 and int(found.group(2)) >= 1:
                max_cps = (int(found.group(1)), int(found.group(2)))
            else:
                self.error(node, "%s max_cps must be calls per second (a whole number) or 'CALLS/SECONDS'" % what)
        return Capacity(max_calls, max_cps)

    def gateways(self, node: Node, defaults: Defaults
                 ) -> Tuple[Dict[str, str], Dict[str, GatewaySpec], Dict[str, GatewaySettings]]:
        """({name: profile} for those with a profile, {name: everything declared about dialling},
        {name: GatewaySettings}) of the gateways section."""
        fields = self.mapping(node, "gateways")
        profiles: Dict[str, str] = {}
        specs: Dict[str, GatewaySpec] = {}
        settings: Dict[str, GatewaySettings] = {}
        for name, (key, value) in (fields or {}).items():
            what = "gateway '%s'" % name
            if not self.check_name(key, what):
                continue
            body = self.mapping(value, what, allowed=GATEWAY_KEYS)
            if body is None:
                continue
            breaker = defaults.breaker
            if "breaker" in body:
                breaker = self.breaker(body["breaker"][1], what + " breaker",
                                       defaults.breaker or BreakerSettings())
            settings[name] = GatewaySettings(breaker, self.capacity(body, what))
            profile = self.string(body["profile"][1], what + " profile", NAME_RE) if "profile" in body else None
            if profile:
                profiles[name] = profile
            number = None
            if "number" in body:
                number = self.value_template(body["number"][1], what + " number", 0, dialable=True)
            strip = self.integer(body["strip"][1], what + " strip", 0, 32) if "strip" in body else 0
            specs[name] = GatewaySpec(profile, number, strip or 0, self.dialling(body, what, -1), key.line)
        return profiles, specs, settings

    def dialling(self, body: Fields, what: str, captures: int) -> Dialling:
        """The leg:, set:, export: and caller_id: of a route or gateway (``captures``: its $N, -1: none)."""
        lists = {}
        for kind in ("leg", "set", "export"):
            pairs = []
            if kind in body:
                for name, (key, value) in (self.mapping(body[kind][1], "%s %s" % (what, kind)) or {}).items():
                    if not LEG_NAME_RE.match(name):
                        self.error(key, "%s %s: %r is not a variable name (letters, digits, '_', '-')" % (what, kind, name))
                        continue
                    parts = self.value_template(value, "%s %s %s" % (what, kind, name), captures)
                    if parts is not None:
                        pairs.append((name, parts))
            lists[kind] = tuple(pairs)
        caller_id = self.caller_id(body["caller_id"][1], what) if "caller_id" in body else None
        dialling = Dialling(lists["leg"], lists["set"], lists["export"], caller_id)
        return NO_DIALLING if dialling == NO_DIALLING else dialling  # one shared empty one: routes stay small

    def caller_id(self, node: Node, what: str) -> Optional[CallerId]:
        what += " caller_id"
        body = self.mapping(node, what, allowed=("match", "number", "name", "else"), required=("match",))
        if not body or "match" not in body:
            return None
        regex = self.regex(body["match"][1], what + " match")
        groups = regex.groups if regex is not None else 0
        number = self.value_template(body["number"][1], what + " number", groups) if "number" in body else None
        name = self.value_template(body["name"][1], what + " name", groups) if "name" in body else None
        refuse = None
        if "else" in body:
            other = body["else"][1]
            if not (other.kind == SCALAR and other.value == "keep"):
                fields = self.mapping(other, what + " else (either 'keep' or {hangup: CAUSE})",
                                      allowed=("hangup",), required=("hangup",))
                refuse = self.cause(fields["hangup"][1], what + " else hangup") if fields and "hangup" in fields \
                    else None
        if regex is None:
            return None
        return CallerId(regex, number, name, refuse)

    def value_template(self, node: Node, what: str, captures: int, dialable: bool = False
                       ) -> Optional[templates.Parts]:
        """A value template ($N up to ``captures``, ${var}); its literal text is checked now, what the
        call fills in at call time. ``dialable``: a number (0-9 A-Z a-z + * # . _ -)."""
        text = node.value if node.kind == SCALAR else None
        if isinstance(text, bool):
            text = "true" if text else "false"
        elif isinstance(text, (int, float)):
            text = str(text)
        if not isinstance(text, str) or text == "":
            self.error(node, "%s must be a non-empty string" % what)
            return None
        if dialable and not _TEMPLATE_RE.match(text):
            self.error(node, "%s %r may hold only 0-9 A-Z a-z + * # . _ -, $N captures and ${var}" % (what, text))
            return None
        try:
            parts = templates.parse(text, captures)
            check_value("".join(p if isinstance(p, str) else "x" for p in parts), "the value")
        except (templates.TemplateError, UnsafeValue) as exc:
            self.error(node, "%s: %s" % (what, exc))
            return None
        return parts

    def groups(self, node: Node) -> Dict[str, Group]:
        fields = self.mapping(node, "groups")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "group '%s'" % name
            self.check_name(key, what)
            self.declared["group"].add(name)
            body = self.mapping(value, what, allowed=("strategy", "gateways", "max_calls", "max_cps"),
                                required=("gateways",))
            if body is None:
                continue
            strategy: Optional[str] = "weighted_round_robin"
            if "strategy" in body:
                strategy_node = body["strategy"][1]
                strategy = strategy_node.value if strategy_node.kind == SCALAR else None
                if strategy not in STRATEGIES:
                    close = did_you_mean(strategy, STRATEGIES)
                    self.error(strategy_node, "%s: unknown strategy %r%s" % (
                        what, strategy, close or " (expected one of: %s)" % ", ".join(STRATEGIES)))
            members = []
            seen: Dict[str, int] = {}
            items = self.sequence(body["gateways"][1], what + ".gateways") if "gateways" in body else []
            if "gateways" in body and not items:
                self.error(body["gateways"][1], "%s: needs at least one gateway" % what)
            for item in items:
                member = self.member(item, what)
                if member is None:
                    continue
                if member.name in seen:
                    self.error(item, "%s: gateway '%s' is listed twice (first at line %d); list it once "
                               "and give it the combined weight" % (what, member.name, seen[member.name]))
                    continue
                seen[member.name] = item.line
                members.append(member)
            if strategy in STRATEGIES and members:
                out[name] = Group(name, strategy, tuple(members), self.capacity(body, what))
        return out

    def declared_gateway(self, node: Node, name: Optional[str], what: str) -> None:
        """Under strict_gateways, report a gateway name that gateways: does not declare."""
        if name and self.declared_gateways is not None and name not in self.declared_gateways:
            self.error(node, "%s: gateway '%s' is not declared under gateways (strict_gateways)%s"
                       % (what, name, did_you_mean(name, self.declared_gateways)))

    def member(self, item: Node, what: str) -> Optional[Member]:
        if item.kind == SCALAR:
            name = self.string(item, what + " gateway", NAME_RE)
            self.declared_gateway(item, name, what)
            return Member(name, 1) if name else None
        body = self.mapping(item, what + " gateway", allowed=("name", "weight"), required=("name",))
        if not body or "name" not in body:
            return None
        name = self.string(body["name"][1], what + " gateway name", NAME_RE,
                           " (letters, digits, '_', '.', '-')")
        self.declared_gateway(body["name"][1], name, what)
        weight: Optional[int] = 1
        if "weight" in body:
            weight = self.integer(body["weight"][1], "%s: weight of '%s'" % (what, name), 1, 1000000)
        return Member(name, weight) if name and weight else None

    def carriers(self, node: Node, groups: Dict[str, Group]) -> Dict[str, Carrier]:
        """The carriers of least-cost routing: deck file (relative to the rules file), gateway or group."""
        fields = self.mapping(node, "carriers")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "carrier '%s'" % name
            if not self.check_name(key, what):
                continue
            self.declared["carrier"].add(name)
            unknown: List[str] = []
            body = self.mapping(value, what, allowed=("deck", "gateway", "group", "number_format", "currency"),
                                required=("deck",), unknown=unknown)
            if body is None:
                continue
            deck = self.string(body["deck"][1], what + " deck") if "deck" in body else None
            gateway, group = self.target(value, body, what, groups, ("gateway", "group"), unknown)
            if gateway is not None:
                self.declared_gateway(body["gateway"][1], gateway, what)
            number_format: Optional[Tuple[str, str]] = ("", "")
            if "number_format" in body:
                text = self.string(body["number_format"][1], what + " number_format")
                found = _NUMBER_FORMAT_RE.match(text) if text else None
                if text and not found:
                    self.error(body["number_format"][1], "%s number_format %r must hold '{number}' once, with "
                               "only 0-9 A-Z a-z + * # . _ - around it" % (what, text))
                number_format = (found.group(1), found.group(2)) if found else None
            currency: Optional[str] = ""
            if "currency" in body:
                currency = self.string(body["currency"][1], what + " currency", _CURRENCY_RE,
                                       " (three capital letters: USD, EUR...)")
            if deck and (gateway or group) and number_format is not None and currency is not None:
                path = os.path.join(os.path.dirname(os.path.abspath(self.filename)), deck)
                out[name] = Carrier(name, os.path.normpath(path), gateway, group, number_format, currency)
        return out

    def target(self, item: Node, body: Fields, what: str, groups: Optional[Dict[str, Group]],
               allowed: Tuple[str, ...], unknown: List[str]) -> Tuple[Optional[str], Optional[str]]:
        """(gateway, group) of a carrier, naming exactly one of ``allowed``.

        With a misspelt key (``unknown``, reported already) naming none is not reported again;
        ``groups`` None: the groups are not known yet, so the group is not checked here.
        """
        targets = [k for k in allowed if k in body]
        if len(targets) > 1 or not (targets or unknown):
            names = ["'%s'" % k for k in allowed]
            self.error(item, "%s must name exactly one of %s or %s (it names %s)"
                       % (what, ", ".join(names[:-1]), names[-1],
                          " and ".join(targets) if targets else "neither"))
        gateway = group = None
        if "gateway" in body:
            gateway = self.string(body["gateway"][1], what + " gateway", NAME_RE,
                                  " (letters, digits, '_', '.', '-')")
        if "group" in body:
            group = self.string(body["group"][1], what + " group")
            if group is not None and groups is not None and group not in groups \
                    and group not in self.declared["group"]:
                self.error(body["group"][1], "%s: no group named '%s'%s"
                           % (what, group, did_you_mean(group, self.declared["group"])))
        return gateway, group

    def lcr(self, node: Node, what: str, carriers: Optional[Dict[str, Carrier]]
            ) -> Optional[Tuple[Lcr, Tuple[str, ...]]]:
        """A route's ``lcr: {carriers: [...], max_rate: 0.05, on_no_carrier: ...}`` and its carriers' names.

        ``carriers`` None: a route built by fold_route; its Lcr has no carriers
        yet, ``resolve_lcr`` puts them in once the file is read.
        """
        what += " lcr"
        body = self.mapping(node, what, allowed=("carriers", "max_rate", "on_no_carrier"),
                            required=("carriers",))
        if not body or "carriers" not in body:
            return None
        names: List[str] = []
        chosen: List[Carrier] = []
        items = self.sequence(body["carriers"][1], what + ".carriers")
        if not items and body["carriers"][1].kind == SEQ:
            self.error(body["carriers"][1], "%s: needs at least one carrier" % what)
        for item in items:
            name = self.string(item, what + " carrier")
            if name is None:
                continue
            if name in names:
                self.error(item, "%s: carrier '%s' is listed twice" % (what, name))
                continue
            names.append(name)
            if carriers is None:
                continue
            if name in carriers:
                chosen.append(carriers[name])
            elif name not in self.declared["carrier"]:
                self.error(item, "%s: no carrier named '%s'%s"
                           % (what, name, did_you_mean(name, self.declared["carrier"])))
        if carriers is not None:
            self.check_currencies(body["carriers"][1], what, chosen)
        max_rate = None
        if "max_rate" in body:
            rate_node = body["max_rate"][1]
            value = rate_node.value if rate_node.kind == SCALAR else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1e6:
                self.error(rate_node, "%s max_rate must be a rate per minute from 0 up, like 0.05" % what)
            else:
                max_rate = round(value * MICRO)
        on_no_carrier = None
        if "on_no_carrier" in body:
            on_no_carrier = self.action(body["on_no_carrier"][1], what + ".on_no_carrier")
        return Lcr(tuple(chosen), max_rate, on_no_carrier), tuple(names)

    def check_currencies(self, node: Node, what: str, chosen: Iterable[Carrier]) -> None:
        """Report the carriers of one lcr route quoting in more than one currency."""
        currencies = sorted({c.currency for c in chosen})
        if len(currencies) > 1:
            self.error(node, "%s: the carriers' rates are in different currencies (%s); "
                       "rates can only be compared in one" % (what, ", ".join(currencies)))

    def resolve_lcr(self, route: Route, carriers: Dict[str, Carrier]) -> Optional[Route]:
        """A route built by fold_route with its lcr carriers put in, or None when they need reporting."""
        if route.lcr is None:
            return route
        names = self.folded_carriers.get(route.name, ())
        if not names or not all(n in carriers for n in names):
            return None
        chosen = tuple(carriers[n] for n in names)
        if len({c.currency for c in chosen}) > 1:
            return None
        return route._replace(lcr=route.lcr._replace(carriers=chosen))

    def routes(self, node: Node, acls: Dict[str, Acl], groups: Dict[str, Group],
               carriers: Dict[str, Carrier]) -> List[Route]:
        out = []
        names = {}
        for item in self.sequence(node, "routes"):
            if isinstance(item, Route):  # built by fold_route: only what needs the whole file is left
                if item.name in names or item.acl not in acls and item.acl is not None \
                        or item.group not in groups and item.group is not None \
                        or item.gateway is not None and self.declared_gateways is not None \
                        and item.gateway not in self.declared_gateways:
                    raise RereadForReport()
                resolved = self.resolve_lcr(item, carriers)
                if resolved is None:
                    raise RereadForReport()
                names[item.name] = item.line
                out.append(resolved)
                continue
            route = self.route(item, acls, groups, carriers)
            if route is None:
                continue
            if route.name in names:
                self.error(item, "route name '%s' is used twice (first at line %d)" % (route.name, names[route.name]))
                continue
            names[route.name] = item.line
            out.append(route)
        return out

    def route(self, item: Node, acls: Optional[Dict[str, Acl]], groups: Optional[Dict[str, Group]],
              carriers: Optional[Dict[str, Carrier]]) -> Optional[Route]:
        """One route; ``acls``, ``groups`` and ``carriers`` None: built by fold_route, they are checked later."""
        unknown: List[str] = []
        body = self.mapping(item, _route_label(item), unknown=unknown,
                            allowed=ROUTE_KEYS, required=("name",))
        if body is None or "name" not in body:
            return None
        name = self.string(body["name"][1], "route name")
        if name is not None and (len(name) > 128 or not name.isprintable() or '"' in name):
            self.error(body["name"][1], "route name must be one printable line of at most 128 "
                       "characters, without '\"' (it goes into log lines and channel variables)")
            name = None
        what = "route '%s'" % name if name is not None else "the route"
        dest, conditions = None, []
        if "match" in body:
            match = self.mapping(body["match"][1], what + " match") or {}
            for variable, (key, value) in match.items():
                if not VARIABLE_RE.match(variable):
                    self.error(key, "%s: %r is not a channel variable name" % (what, variable))
                    continue
                regex = self.regex(value, "%s match %s" % (what, variable))
                if regex is not None:
                    if variable == "destination_number":
                        dest = regex
                    else:
                        conditions.append((variable, regex))
        number = None
        if "number" in body:
            number = self.template(body["number"][1], what, dest)
        acl = None
        if "acl" in body:
            acl = self.string(body["acl"][1], what + " acl")
            if acl is not None and acls is not None and acl not in acls and acl not in self.declared["acl"]:
                self.error(body["acl"][1], "%s: no acl named '%s'%s"
                           % (what, acl, did_you_mean(acl, self.declared["acl"])))
        targets = [k for k in ACTION_KEYS if k in body]
        if len(targets) > 1 or not (targets or unknown):  # a misspelt key was reported already
            named = set(targets) - set(BRIDGE_KEYS)
            self.error(item, "%s must name exactly one of %s (it names %s)"
                       % (what, "'gateway', 'group', 'lcr', 'hangup', 'transfer' or 'continue'" if named
                          else "'gateway', 'group' or 'lcr'", " and ".join(targets) if targets else "neither"))
        hangup = self.cause(body["hangup"][1], what + " hangup") if "hangup" in body else None
        transfer = self.transfer(body["transfer"][1], what, dest) if "transfer" in body else None
        continues = "continue" in body
        if continues and body["continue"][1].value is not True:
            self.error(body["continue"][1], "%s continue must be true (leave the call to the next dialplan action)"
                       % what)
        gateway = group = gateway_var = None
        if "gateway" in body:
            node = body["gateway"][1]
            found = _GATEWAY_VAR_RE.match(node.value) if node.kind == SCALAR and isinstance(node.value, str) else None
            if found:
                gateway_var = found.group(1)
            else:
                gateway = self.string(node, what + " gateway", NAME_RE, " (letters, digits, '_', '.', '-')")
                self.declared_gateway(node, gateway, what)
        if "group" in body:
            group = self.string(body["group"][1], what + " group")
            if group is not None and groups is not None and group not in groups \
                    and group not in self.declared["group"]:
                self.error(body["group"][1], "%s: no group named '%s'%s"
                           % (what, group, did_you_mean(group, self.declared["group"])))
        dialling = self.dialling(body, what, dest.groups if dest is not None else -1)
        lcr = None
        if "lcr" in body:
            built = self.lcr(body["lcr"][1], what, carriers)
            if built is not None:
                lcr, carrier_names = built
                if carriers is None and name is not None:
                    self.folded_carriers[name] = carrier_names
        when: Tuple[TimeSpec, ...] = ()
        unless: Tuple[TimeSpec, ...] = ()
        if self.timing is not None:  # None only in fold_route, which leaves timed routes for later
            when = self.timing.named(body["when"][1], what + " when") if "when" in body else ()
            unless = self.timing.named(body["unless"][1], what + " unless") if "unless" in body else ()
            if "time" in body:
                spec = self.timing.spec(body["time"][1], what + " time")
                when += (spec,) if spec is not None else ()
            self.timing.check_route(item, what, when, unless)
        if name is None:
            return None
        return Route(name, item.line, dest, tuple(conditions), number, acl, gateway, group,
                     hangup, transfer, continues, dialling, gateway_var, when, unless, lcr)

    def transfer(self, node: Node, what: str, dest: Optional[Regex]) -> Optional[Transfer]:
        """``'EXTENSION [DIALPLAN [CONTEXT]]'``: the extension a number template, the others names."""
        text = self.string(node, what + " transfer")
        if text is None:
            return None
        parts = text.split()
        if not 1 <= len(parts) <= 3 or any(not NAME_RE.match(p) for p in parts[1:]):
            self.error(node, "%s transfer must be 'EXTENSION [DIALPLAN [CONTEXT]]' (the dialplan and "
                       "context: letters, digits, '_', '.', '-')" % what)
            return None
        extension = self.template_text(node, parts[0], what + " transfer extension", dest)
        if extension is None:
            return None
        return Transfer(extension, *(parts[1:] + [None, None])[:2])

    def template(self, node: Node, what: str, dest: Optional[Regex]) -> Optional[Tuple[Union[str, int], ...]]:
        text = node.value if node.kind == SCALAR else None
        if isinstance(text, int) and not isinstance(text, bool):
            text = str(text)
        return self.template_text(node, text, what + " number", dest)

    def template_text(self, node: Node, text: object, what: str, dest: Optional[Regex]
                      ) -> Optional[Tuple[Union[str, int], ...]]:
        """The parts of a number template ``text`` found at ``node``, or None after reporting."""
        if not isinstance(text, str) or not _TEMPLATE_RE.match(text):
            self.error(node, "%s %r may hold only 0-9 A-Z a-z + * # . _ - and $N captures%s"
                       % (what, text, " (and ${var})" if "${" in str(text) else ""))
            return None
        parts = []
        groups = dest.groups if dest is not None else 0
        for ref, variable, literal in _TEMPLATE_PART_RE.findall(text):
            if literal:
                parts.append(literal)
                continue
            if variable:
                parts.append(templates.Var(variable))
                continue
            index = int(ref)
            if dest is None:
                self.error(node, "%s uses $%d but the route matches no destination_number"
                           % (what, index))
                return None
            if index > groups:
                self.error(node, "%s uses $%d but the destination_number regex has %d group%s"
                           % (what, index, groups, "" if groups == 1 else "s"))
                return None
            parts.append(index)
        return tuple(parts)


def _route_label(item: Node) -> str:
    """"route 'NAME'" when the route's mapping has a usable name, for its shape problems; else "a route"."""
    if item.kind == MAP:
        for key, value in item.pairs():
            if key.value == "name" and value.kind == SCALAR and isinstance(value.value, str) \
                    and value.value and value.value.isprintable() and len(value.value) <= 128:
                return "route '%s'" % value.value
    return "a route"
