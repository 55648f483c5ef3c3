"""The grammar of rules format version 1: a YAML node tree -> validated RuleSet.

Every problem is reported as ``file:line:col: message``, all of them at
once (up to a cap), so an operator fixes a file in one pass. The Builder
holds what the sections share (the problems, the names declared, the key
converters: reading.Reader); each section is read by its own module under
sections/.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Pattern, Set, Tuple, Union

from .acl import IPNetwork, parse_network
from .causes import CAUSES
from .model import NAME_RE, Defaults, GatewaySpec, Group, Member, Problem, Route, RuleSet, RulesError
from .patterns import Regex, compile_route_regex
from .reading import NAME_HINT, Fields, RereadForReport
from .sections.accounts import read_accounts
from .sections.acls import read_acls
from .sections.calendars import TimeGrammar
from .timespec import zone_of
from .sections.carriers import read_carriers
from .sections.defaults import read_defaults
from .sections.fraud import read_fraud
from .sections.quality import check_class_tables, class_columns
from .sections.gateways import read_gateways
from .sections.groups import read_groups
from .sections.pricing import read_sell_decks
from .sections.routes import TIME_KEYS, Alike, alike_parts, read_alike_route, read_route, read_routes, remember_alike
from .sections.tables import read_lookup, read_tables
from .text import closest, did_you_mean, one_line
from .yamltree import MAP, SCALAR, SEQ, Node

FORMAT_VERSION = 1
MAX_PROBLEMS = 50
_TIMED = frozenset(TIME_KEYS)
TOP_KEYS = ("version", "defaults", "acls", "ingress_acl", "gateways", "groups", "calendars", "carriers", "routes",
            "sell_decks", "tables", "lookup", "accounts", "fraud")


class _TooMany(Exception):
    pass


class Builder:
    """Walks the node tree once, collecting problems and building the RuleSet (a reading.Reader)."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: List[Problem] = []
        self.warnings: List[Problem] = []
        # Names declared in the file, even when their body was refused: a
        # reference to one is not reported again as "no group named ...".
        self.declared: Dict[str, Set[str]] = {"acl": set(), "group": set(), "carrier": set(), "table": set()}
        # With defaults.strict_gateways: the gateways declared under gateways: (else None).
        self.declared_gateways: Optional[Dict[str, GatewaySpec]] = None
        # The carrier names of each lcr route built by fold_route, resolved once the carriers are read.
        self.folded_carriers: Dict[str, Tuple[str, ...]] = {}
        # Routes fold_route read, by what they say besides their name and regex (read_alike_route).
        self._alike: Alike = {}

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

    def network(self, node: Node) -> IPNetwork:
        """An acl node's CIDR; raises ValueError with a readable message."""
        return parse_network(node.value if node.kind == SCALAR else None)

    def declared_gateway(self, node: Node, name: Optional[str], what: str) -> None:
        """Under strict_gateways, report a gateway name that gateways: does not declare."""
        if name and self.declared_gateways is not None and name not in self.declared_gateways:
            self.error(node, "%s: gateway '%s' is not declared under gateways (strict_gateways)%s"
                       % (what, name, did_you_mean(name, self.declared_gateways)))

    def group_name(self, node: Node, what: str, groups: Optional[Dict[str, Group]]) -> Optional[str]:
        """The group a route or carrier names; ``groups`` None: not known yet (checked once the file is read)."""
        group = self.string(node, what + " group")
        if group is not None and groups is not None and group not in groups and group not in self.declared["group"]:
            self.error(node, "%s: no group named '%s'%s"
                       % (what, group, did_you_mean(group, self.declared["group"])))
        return group

    def member(self, item: Node, what: str) -> Optional[Member]:
        """A group's gateway: NAME, or {name: NAME, weight: N}."""
        if item.kind == SCALAR:
            name = self.string(item, what + " gateway", NAME_RE)
            self.declared_gateway(item, name, what)
            return Member(name, 1) if name else None
        body = self.mapping(item, what + " gateway", allowed=("name", "weight"), required=("name",))
        if not body or "name" not in body:
            return None
        name = self.string(body["name"][1], what + " gateway name", NAME_RE, NAME_HINT)
        self.declared_gateway(body["name"][1], name, what)
        weight: Optional[int] = 1
        if "weight" in body:
            weight = self.integer(body["weight"][1], "%s: weight of '%s'" % (what, name), 1, 1000000)
        return Member(name, weight) if name and weight else None

    # -- the file ------------------------------------------------------------
    def fold_route(self, item: Node) -> Union[Route, Node, None]:
        """One route built as soon as yamltree has read it (its nodes are then freed).

        Whether its acl and group exist is checked once the file is read; any
        problem ends this pass (RereadForReport). A route with time conditions
        is kept as its nodes and built with the whole file, once the defaults'
        tz and the calendars it may name have been read.
        """
        parts = alike_parts(item)
        if parts is not None:
            alike = read_alike_route(self, parts, item.line, self._alike)
            if alike is not None:
                return alike
        elif item.kind == MAP and not _TIMED.isdisjoint([key.value for key in item.value[::2]]):
            return item
        built = read_route(self, item, None, None, None, None)
        if self.problems:
            raise RereadForReport()
        if built is not None and parts is not None:
            remember_alike(parts, built, self._alike)
        return built

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
        top = self.mapping(root, "the rules file", allowed=TOP_KEYS, required=("version", "routes"))
        if top is None:
            return None
        if "version" in top:
            node = top["version"][1]
            if node.kind != SCALAR or type(node.value) is not int or node.value != FORMAT_VERSION:
                self.error(node, "unsupported version %r: this fsroute reads version %d"
                           % (node.value if node.kind == SCALAR else node.kind, FORMAT_VERSION))
        defaults = read_defaults(self, top["defaults"][1]) if "defaults" in top else Defaults()
        acls = read_acls(self, top["acls"][1]) if "acls" in top else {}
        ingress = None
        if "ingress_acl" in top:
            node = top["ingress_acl"][1]
            ingress = self.string(node, "ingress_acl")
            if ingress is not None and ingress not in acls and ingress not in self.declared["acl"]:
                self.error(node, "ingress_acl: no acl named '%s'%s"
                           % (ingress, did_you_mean(ingress, self.declared["acl"])))
        profiles, specs, settings = read_gateways(self, top["gateways"][1], defaults) if "gateways" in top \
            else ({}, {}, {})
        self.declared_gateways = specs if defaults.strict_gateways else None
        groups = read_groups(self, top["groups"][1]) if "groups" in top else {}
        timing = TimeGrammar(self, zone_of(defaults.tz))
        if "calendars" in top:
            timing.read_calendars(top["calendars"][1])
        carriers = read_carriers(self, top["carriers"][1], groups) if "carriers" in top else {}
        sell_decks = read_sell_decks(self, top["sell_decks"][1]) if "sell_decks" in top else {}
        tables = read_tables(self, top["tables"][1], groups, carriers, class_columns(defaults.quality)) \
            if "tables" in top else {}
        check_class_tables(self, defaults.quality, tables)
        lookup = read_lookup(self, top["lookup"][1], tables) if "lookup" in top else None
        routes = read_routes(self, top["routes"][1], acls, groups, carriers, timing, tables) if "routes" in top else []
        accounts = read_accounts(self, top["accounts"][1], acls) if "accounts" in top else None
        if accounts is not None and defaults.on_over_limit.cause is None:
            self.error(top["accounts"][0], "defaults.on_over_limit must hang up ({hangup: CAUSE}): FreeSWITCH's "
                       "limit application ends the call it refuses")
        fraud = read_fraud(self, top["fraud"][1], {route.name for route in routes}, timing, tables) \
            if "fraud" in top else []
        if self.problems:
            return None
        return RuleSet(self.filename, sha256, defaults, acls, ingress, profiles, groups, routes,
                       gateway_specs=specs, warnings=self.warnings, carriers=carriers, gateway_settings=settings,
                       sell_decks=sell_decks, tables=tables, lookup=lookup, accounts=accounts, fraud=fraud)
