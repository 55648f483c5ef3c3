"""The grammar of rules format version 1: a YAML node tree -> validated RuleSet.

Every problem is reported as ``file:line:col: message``, all of them at
once (up to a cap), so an operator fixes a file in one pass.
"""

import os
import re

from .acl import Acl, parse_network
from .causes import CAUSES
from .decks import MICRO
from .model import (DEFAULT_FAILOVER_ON, NAME_RE, STRATEGIES, VARIABLE_RE, Action, Carrier, Defaults,
                    Group, Lcr, Member, Problem, Route, RuleSet, RulesError)
from .patterns import compile_route_regex
from .text import one_line
from .yamltree import MAP, SCALAR, SEQ

FORMAT_VERSION = 1
MAX_PROBLEMS = 50

_TEMPLATE_RE = re.compile(r"(?:[0-9A-Za-z+*#._-]|\$[0-9]+)+\Z")
_TEMPLATE_PART_RE = re.compile(r"\$([0-9]+)|([^$]+)")
_NUMBER_FORMAT_RE = re.compile(r"([0-9A-Za-z+*#._-]*)\{number\}([0-9A-Za-z+*#._-]*)\Z")
_CURRENCY_RE = re.compile(r"[A-Z]{3}\Z")


class _TooMany(Exception):
    pass


class Builder:
    """Walks the node tree once, collecting problems and building the RuleSet."""

    def __init__(self, filename):
        self.filename = filename
        self.problems = []

    # -- reporting -------------------------------------------------------
    def error(self, node, message):
        line, col = (node.line, node.col) if node is not None else (1, 1)
        self.problems.append(Problem(self.filename, line, col, one_line(message, 400)))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooMany()

    # -- shapes ------------------------------------------------------------
    def mapping(self, node, what, allowed=None, required=()):
        """{key: (key node, value node)} for a mapping node, or None after reporting."""
        if node is None or node.kind != MAP:
            self.error(node, "%s must be a mapping" % what)
            return None
        out = {}
        for key, value in node.pairs():
            if key.kind != SCALAR or not isinstance(key.value, str):
                self.error(key, "%s: keys must be plain strings" % what)
                continue
            if key.value in out:
                self.error(key, "%s: key '%s' appears twice (first at line %d)"
                           % (what, key.value, out[key.value][0].line))
                continue
            if allowed is not None and key.value not in allowed:
                self.error(key, "%s: unknown key '%s' (expected one of: %s)"
                           % (what, key.value, ", ".join(allowed)))
                continue
            out[key.value] = (key, value)
        for name in required:
            if name not in out:
                self.error(node, "%s: missing required key '%s'" % (what, name))
        return out

    def sequence(self, node, what):
        if node.kind != SEQ:
            self.error(node, "%s must be a list" % what)
            return []
        return node.value

    def string(self, node, what, pattern=None, hint=""):
        if node.kind != SCALAR or not isinstance(node.value, str) or node.value == "":
            self.error(node, "%s must be a non-empty string" % what)
            return None
        if pattern is not None and not pattern.match(node.value):
            self.error(node, "%s %r is not valid%s" % (what, node.value, hint))
            return None
        return node.value

    def integer(self, node, what, low, high):
        value = node.value if node.kind == SCALAR else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(node, "%s must be a whole number from %d to %d" % (what, low, high))
            return None
        return value

    def seconds(self, node, what, low, high):
        value = node.value if node.kind == SCALAR else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.error(node, "%s must be a number of seconds from %g to %g" % (what, low, high))
            return None
        return float(value)

    def check_name(self, key, what):
        """True when the mapping key ``key`` is a usable name (it may reach a dial string or a log)."""
        if NAME_RE.match(key.value):
            return True
        self.error(key, "%s: the name may hold only letters, digits, '_', '.', '-' (at most 64)" % what)
        return False

    def cause(self, node, what):
        name = self.string(node, what)
        if name is not None and name.upper() not in CAUSES:
            self.error(node, "%s: '%s' is not a FreeSWITCH hangup cause" % (what, name))
            return None
        return name.upper() if name else None

    def regex(self, node, what):
        text = self.string(node, what)
        if text is None:
            return None
        try:
            return compile_route_regex(text)
        except re.error as exc:
            self.error(node, "%s: bad regex %r: %s" % (what, text, exc.msg if hasattr(exc, "msg") else exc))
            return None
        except RecursionError:  # sre's parser recurses per nested group (FreeSWITCH: ~240 frames)
            self.error(node, "%s: regex nests its groups too deeply" % what)
            return None
        except (OverflowError, ValueError, MemoryError) as exc:  # e.g. a{99999999999999999999}
            self.error(node, "%s: bad regex %r: %s" % (what, text, exc))
            return None

    # -- sections ----------------------------------------------------------
    def build(self, root, sha256):
        try:
            ruleset = self._build(root, sha256)
        except _TooMany:
            ruleset = None
        if self.problems:
            if len(self.problems) >= MAX_PROBLEMS:
                last = self.problems[-1]
                self.problems.append(Problem(self.filename, last.line, last.col,
                                             "too many problems; stopped after %d" % MAX_PROBLEMS))
            raise RulesError(self.problems)
        return ruleset

    def _build(self, root, sha256):
        if root is None:
            self.error(None, "the rules file is empty")
            return None
        top = self.mapping(root, "the rules file",
                           allowed=("version", "defaults", "acls", "ingress_acl", "gateways",
                                    "groups", "carriers", "routes"),
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
            if ingress is not None and ingress not in acls:
                self.error(node, "ingress_acl: no acl named '%s'" % ingress)
        profiles = self.gateways(top["gateways"][1]) if "gateways" in top else {}
        groups = self.groups(top["groups"][1]) if "groups" in top else {}
        carriers = self.carriers(top["carriers"][1], groups) if "carriers" in top else {}
        routes = self.routes(top["routes"][1], acls, groups, carriers) if "routes" in top else []
        if self.problems:
            return None
        return RuleSet(self.filename, sha256, defaults, acls, ingress, profiles, groups, routes, carriers)

    def defaults(self, node):
        fields = self.mapping(node, "defaults", allowed=Defaults._fields)
        if fields is None:
            return Defaults()
        values = {}
        for key, (_, value) in fields.items():
            what = "defaults." + key
            if key == "profile":
                values[key] = self.string(value, what, NAME_RE)
            elif key in ("status_ttl", "reload_check"):
                values[key] = self.seconds(value, what, 0, 3600)
            elif key == "status_timeout":
                values[key] = self.seconds(value, what, 0.01, 30)
            elif key == "max_attempts":
                values[key] = self.integer(value, what, 1, 20)
            elif key == "failover_on":
                causes = [self.cause(item, what) for item in self.sequence(value, what)]
                values[key] = frozenset(c for c in causes if c)
            else:
                values[key] = self.action(value, what)
        return Defaults(**{k: v for k, v in values.items() if v is not None})

    def action(self, node, what):
        if node.kind == SCALAR and node.value == "continue":
            return Action(None)
        fields = self.mapping(node, what + " (either 'continue' or {hangup: CAUSE})",
                              allowed=("hangup",), required=("hangup",))
        if not fields or "hangup" not in fields:
            return None
        cause = self.cause(fields["hangup"][1], what + ".hangup")
        return Action(cause) if cause else None

    def acls(self, node):
        fields = self.mapping(node, "acls")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "acl '%s'" % name
            self.check_name(key, what)
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
            nodes = []
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
                except ValueError as exc:
                    self.error(cidr, "%s: %s" % (what, exc))
            if default_allow is not None:
                out[name] = Acl(name, default_allow, nodes)
        return out

    def gateways(self, node):
        fields = self.mapping(node, "gateways")
        out = {}
        for name, (key, value) in (fields or {}).items():
            if not self.check_name(key, "gateway '%s'" % name):
                continue
            body = self.mapping(value, "gateway '%s'" % name, allowed=("profile",), required=("profile",))
            if body and "profile" in body:
                profile = self.string(body["profile"][1], "gateway '%s' profile" % name, NAME_RE)
                if profile:
                    out[name] = profile
        return out

    def groups(self, node):
        fields = self.mapping(node, "groups")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "group '%s'" % name
            self.check_name(key, what)
            body = self.mapping(value, what, allowed=("strategy", "gateways"), required=("gateways",))
            if body is None:
                continue
            strategy = "weighted_round_robin"
            if "strategy" in body:
                strategy_node = body["strategy"][1]
                strategy = strategy_node.value if strategy_node.kind == SCALAR else None
                if strategy not in STRATEGIES:
                    self.error(strategy_node, "%s: unknown strategy %r (expected one of: %s)"
                               % (what, strategy, ", ".join(STRATEGIES)))
            members = []
            seen = {}
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
                out[name] = Group(name, strategy, tuple(members))
        return out

    def member(self, item, what):
        if item.kind == SCALAR:
            name = self.string(item, what + " gateway", NAME_RE)
            return Member(name, 1) if name else None
        body = self.mapping(item, what + " gateway", allowed=("name", "weight"), required=("name",))
        if not body or "name" not in body:
            return None
        name = self.string(body["name"][1], what + " gateway name", NAME_RE,
                           " (letters, digits, '_', '.', '-')")
        weight = 1
        if "weight" in body:
            weight = self.integer(body["weight"][1], "%s: weight of '%s'" % (what, name), 1, 1000000)
        return Member(name, weight) if name and weight else None

    def carriers(self, node, groups):
        """The carriers of least-cost routing: deck file (relative to the rules file), gateway or group."""
        fields = self.mapping(node, "carriers")
        out = {}
        for name, (key, value) in (fields or {}).items():
            what = "carrier '%s'" % name
            if not self.check_name(key, what):
                continue
            body = self.mapping(value, what, allowed=("deck", "gateway", "group", "number_format", "currency"),
                                required=("deck",))
            if body is None:
                continue
            deck = self.string(body["deck"][1], what + " deck") if "deck" in body else None
            gateway, group = self.target(value, body, what, groups, ("gateway", "group"))
            number_format = ("", "")
            if "number_format" in body:
                text = self.string(body["number_format"][1], what + " number_format")
                found = _NUMBER_FORMAT_RE.match(text) if text else None
                if text and not found:
                    self.error(body["number_format"][1], "%s number_format %r must hold '{number}' once, with "
                               "only 0-9 A-Z a-z + * # . _ - around it" % (what, text))
                number_format = found.groups() if found else None
            currency = ""
            if "currency" in body:
                currency = self.string(body["currency"][1], what + " currency", _CURRENCY_RE,
                                       " (three capital letters: USD, EUR...)")
            if deck and (gateway or group) and number_format is not None and currency is not None:
                path = os.path.join(os.path.dirname(os.path.abspath(self.filename)), deck)
                out[name] = Carrier(name, os.path.normpath(path), gateway, group, tuple(number_format),
                                    currency)
        return out

    def target(self, item, body, what, groups, allowed):
        """(gateway, group) of a route or carrier, naming exactly one of ``allowed``."""
        targets = [k for k in allowed if k in body]
        if len(targets) != 1:
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
            if group is not None and group not in groups:
                self.error(body["group"][1], "%s: no group named '%s'" % (what, group))
                group = None
        return gateway, group

    def lcr(self, node, what, carriers):
        """A route's ``lcr: {carriers: [...], max_rate: 0.05, on_no_carrier: ...}``."""
        what += " lcr"
        body = self.mapping(node, what, allowed=("carriers", "max_rate", "on_no_carrier"),
                            required=("carriers",))
        if not body or "carriers" not in body:
            return None
        chosen = []
        items = self.sequence(body["carriers"][1], what + ".carriers")
        if not items:
            self.error(body["carriers"][1], "%s: needs at least one carrier" % what)
        for item in items:
            name = self.string(item, what + " carrier")
            if name is None:
                continue
            if name not in carriers:
                self.error(item, "%s: no carrier named '%s'" % (what, name))
            elif carriers[name] in chosen:
                self.error(item, "%s: carrier '%s' is listed twice" % (what, name))
            else:
                chosen.append(carriers[name])
        if len({c.currency for c in chosen}) > 1:
            self.error(body["carriers"][1], "%s: the carriers' rates are in different currencies (%s); "
                       "rates can only be compared in one" % (what, ", ".join(sorted({c.currency for c in chosen}))))
        max_rate = None
        if "max_rate" in body:
            node = body["max_rate"][1]
            value = node.value if node.kind == SCALAR else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1e6:
                self.error(node, "%s max_rate must be a rate per minute from 0 up, like 0.05" % what)
            else:
                max_rate = round(value * MICRO)
        on_no_carrier = None
        if "on_no_carrier" in body:
            on_no_carrier = self.action(body["on_no_carrier"][1], what + ".on_no_carrier")
        return Lcr(tuple(chosen), max_rate, on_no_carrier)

    def routes(self, node, acls, groups, carriers):
        out = []
        names = {}
        for item in self.sequence(node, "routes"):
            route = self.route(item, acls, groups, carriers)
            if route is None:
                continue
            if route.name in names:
                self.error(item, "route name '%s' is used twice (first at line %d)" % (route.name, names[route.name]))
                continue
            names[route.name] = item.line
            out.append(route)
        return out

    def route(self, item, acls, groups, carriers):
        body = self.mapping(item, "a route", allowed=("name", "match", "number", "acl", "gateway", "group", "lcr"),
                            required=("name",))
        if body is None or "name" not in body:
            return None
        name = self.string(body["name"][1], "route name")
        if name is not None and (len(name) > 128 or not name.isprintable() or '"' in name):
            self.error(body["name"][1], "route name must be one printable line of at most 128 "
                       "characters, without '\"' (it goes into log lines and channel variables)")
            name = None
        what = "route '%s'" % name
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
            if acl is not None and acl not in acls:
                self.error(body["acl"][1], "%s: no acl named '%s'" % (what, acl))
        gateway, group = self.target(item, body, what, groups, ("gateway", "group", "lcr"))
        lcr = self.lcr(body["lcr"][1], what, carriers) if "lcr" in body else None
        if name is None:
            return None
        return Route(name, item.line, dest, tuple(conditions), number, acl, gateway, group, lcr)

    def template(self, node, what, dest):
        text = node.value if node.kind == SCALAR else None
        if isinstance(text, int) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not _TEMPLATE_RE.match(text):
            self.error(node, "%s number %r may hold only 0-9 A-Z a-z + * # . _ - and $N captures"
                       % (what, text))
            return None
        parts = []
        groups = dest.groups if dest is not None else 0
        for ref, literal in _TEMPLATE_PART_RE.findall(text):
            if literal:
                parts.append(literal)
                continue
            index = int(ref)
            if dest is None:
                self.error(node, "%s number uses $%d but the route matches no destination_number"
                           % (what, index))
                return None
            if index > groups:
                self.error(node, "%s number uses $%d but the destination_number regex has %d group%s"
                           % (what, index, groups, "" if groups == 1 else "s"))
                return None
            parts.append(index)
        return tuple(parts)
