"""``routes:``: the routes, first match wins; each matches variables and does one thing with the call."""

from __future__ import annotations

import functools
import re
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, Union

from .. import templates
from ..acl import Acl
from ..decks import MICRO
from ..model import NAME_RE, VARIABLE_RE, Carrier, Group, Lcr, Route, RoutePolicy, RouteTiming, TableSpec, Transfer
from ..patterns import Regex
from ..quality import QualityRule
from ..reading import NAME_HINT, TEMPLATE_RE, Reader, RereadForReport
from ..text import did_you_mean
from ..timespec import TimeSpec
from ..yamltree import MAP, SCALAR, SEQ, Node
from .calendars import TimeGrammar
from .defaults import read_action
from .failover import ROUTE_FAILOVER_KEYS, read_own_failover_on, read_route_limits
from .gateways import DIALLING_KEYS, read_dialling
from .pricing import PRICING_KEYS, read_pricing, sell_default_declared
from .quality import read_quality_rule

# What a route does: bridge (gateway, group) or one of the other actions.
BRIDGE_KEYS = ("gateway", "group", "lcr")
ACTION_KEYS = BRIDGE_KEYS + ("hangup", "transfer", "continue", "table")
# A route's time conditions (calendars.py); a route with any of them is built once the file is read.
TIME_KEYS = ("time", "when", "when_any", "unless")
ROUTE_KEYS = ("name", "match", "number", "acl") + ACTION_KEYS + DIALLING_KEYS + TIME_KEYS + ROUTE_FAILOVER_KEYS + ("quality",)
_GATEWAY_VAR_RE = re.compile(r"\$\{([A-Za-z0-9_]{1,64})\}\Z")
_TEMPLATE_PART_RE = re.compile(r"\$([0-9]+)|\$\{([A-Za-z0-9_]+)\}|([^$]+)")


def read_routes(r: Reader, node: Node, acls: Dict[str, Acl], groups: Dict[str, Group],
                carriers: Dict[str, Carrier], timing: TimeGrammar,
                tables: Optional[Mapping[str, TableSpec]] = None) -> List[Route]:
    """``routes:``, in file order; items fold_route built already only get what needs the whole file."""
    out = []
    names = {}
    for item in r.sequence(node, "routes"):
        if isinstance(item, Route):  # built by fold_route: only what needs the whole file is left
            if item.name in names or item.acl not in acls and item.acl is not None \
                    or item.group not in groups and item.group is not None \
                    or item.gateway is not None and r.declared_gateways is not None \
                    and item.gateway not in r.declared_gateways \
                    or item.table is not None and (item.table not in (tables or {})
                                                   or not (tables or {})[item.table].routes):
                raise RereadForReport()
            resolved = resolve_lcr(r, item, carriers)
            if resolved is None:
                raise RereadForReport()
            names[item.name] = item.line
            out.append(resolved)
            continue
        route = read_route(r, item, acls, groups, carriers, timing, tables)
        if route is None:
            continue
        if route.name in names:
            r.error(item, "route name '%s' is used twice (first at line %d)" % (route.name, names[route.name]))
            continue
        names[route.name] = item.line
        out.append(route)
    return out


def read_route(r: Reader, item: Node, acls: Optional[Dict[str, Acl]], groups: Optional[Dict[str, Group]],
               carriers: Optional[Dict[str, Carrier]], timing: Optional[TimeGrammar],
               tables: Optional[Mapping[str, TableSpec]] = None) -> Optional[Route]:
    """One route; ``acls``, ``groups``, ``carriers``, ``timing`` and ``tables`` None: built by fold_route,
    they are checked later (a route with time conditions is not built then)."""
    unknown: List[str] = []
    body = r.mapping(item, _route_label(item), unknown=unknown,
                     allowed=ROUTE_KEYS, required=("name",))
    if body is None or "name" not in body:
        return None
    name = r.string(body["name"][1], "route name")
    if name is not None and not _usable_name(name):
        r.error(body["name"][1], "route name must be one printable line of at most 128 "
                "characters, without '\"' (it goes into log lines and channel variables)")
        name = None
    what = "route '%s'" % name if name is not None else "the route"
    dest, conditions = None, []
    if "match" in body:
        match = r.mapping(body["match"][1], what + " match") or {}
        for variable, (key, value) in match.items():
            if not VARIABLE_RE.match(variable):
                r.error(key, "%s: %r is not a channel variable name" % (what, variable))
                continue
            regex = r.regex(value, "%s match %s" % (what, variable))
            if regex is not None:
                if variable == "destination_number":
                    dest = regex
                else:
                    conditions.append((variable, regex))
    number = None
    if "number" in body:
        number = read_number(r, body["number"][1], what, dest)
    acl = None
    if "acl" in body:
        acl = r.string(body["acl"][1], what + " acl")
        if acl is not None and acls is not None and acl not in acls and acl not in r.declared["acl"]:
            r.error(body["acl"][1], "%s: no acl named '%s'%s"
                    % (what, acl, did_you_mean(acl, r.declared["acl"])))
    targets = [k for k in ACTION_KEYS if k in body]
    if len(targets) > 1 or not (targets or unknown):  # a misspelt key was reported already
        named = set(targets) - set(BRIDGE_KEYS)
        r.error(item, "%s must name exactly one of %s (it names %s)"
                % (what, ("'gateway', 'group', 'lcr', 'hangup', 'transfer', 'continue' or 'table'" if "table" in named
                          else "'gateway', 'group', 'lcr', 'hangup', 'transfer' or 'continue'") if named
                   else "'gateway', 'group' or 'lcr'", " and ".join(targets) if targets else "neither"))
    hangup = r.cause(body["hangup"][1], what + " hangup") if "hangup" in body else None
    transfer = read_transfer(r, body["transfer"][1], what, dest) if "transfer" in body else None
    continues = "continue" in body
    if continues and body["continue"][1].value is not True:
        r.error(body["continue"][1], "%s continue must be true (leave the call to the next dialplan action)"
                % what)
    gateway = group = gateway_var = None
    if "gateway" in body:
        node = body["gateway"][1]
        found = _GATEWAY_VAR_RE.match(node.value) if node.kind == SCALAR and isinstance(node.value, str) else None
        if found:
            gateway_var = found.group(1)
        else:
            gateway = r.string(node, what + " gateway", NAME_RE, NAME_HINT)
            r.declared_gateway(node, gateway, what)
    if "group" in body:
        group = r.group_name(body["group"][1], what, groups)
    dialling = read_dialling(r, body, what, dest.groups if dest is not None else -1)
    lcr = None
    if "lcr" in body:
        built = read_lcr(r, body["lcr"][1], what, carriers)
        if built is not None:
            lcr, carrier_names = built
            if carriers is None and name is not None:
                r.folded_carriers[name] = carrier_names
    when: Tuple[TimeSpec, ...] = ()
    unless: Tuple[TimeSpec, ...] = ()
    when_any: Tuple[TimeSpec, ...] = ()
    if timing is not None:  # None only in fold_route, which leaves timed routes for later
        when = timing.named(body["when"][1], what + " when") if "when" in body else ()
        unless = timing.named(body["unless"][1], what + " unless") if "unless" in body else ()
        if "when_any" in body:
            when_any = timing.named(body["when_any"][1], what + " when_any", at_least_one=True)
        if "time" in body:
            spec = timing.spec(body["time"][1], what + " time")
            when += (spec,) if spec is not None else ()
        timing.check_route(item, what, when, unless, when_any)
    failover_on = read_own_failover_on(r, body, what)
    max_attempts, max_seconds = read_route_limits(r, body, what)
    quality = read_quality_rule(r, body, what)
    table = None
    if "table" in body:
        table = r.string(body["table"][1], what + " table")
        if table is not None and tables is not None and table not in tables and table not in r.declared["table"]:
            r.error(body["table"][1], "%s: no table named '%s'%s"
                    % (what, table, did_you_mean(table, r.declared["table"])))
        elif table is not None and tables is not None and table in tables and not tables[table].routes:
            r.error(body["table"][1], "%s: table '%s' has neither a target column nor an action: it gives "
                    "numbers only (lookup:)" % (what, table))
    if name is None:
        return None
    return Route(name=name, line=item.line, dest=dest, conditions=tuple(conditions), number=number, acl=acl,
                 gateway=gateway, group=group, hangup=hangup, transfer=transfer, continues=continues,
                 dialling=dialling, gateway_var=gateway_var, lcr=lcr,
                 timing=RouteTiming(when, unless, when_any) if when or unless or when_any else None, policy=_policy(failover_on, max_attempts, max_seconds, quality), table=table)


def _usable_name(name: str) -> bool:
    """One printable line of at most 128 characters without '"': it goes into log lines and variables."""
    return len(name) <= 128 and name.isprintable() and '"' not in name


# Besides its name and destination regex, a carrier table's route has only these keys, each a string:
# what read_route makes of them depends on nothing else but the regex's group count.
_ALIKE_KEYS = frozenset(("number", "gateway", "group", "acl", "hangup"))
_ALIKE_MAX = 1024
Alike = Dict[Tuple[Tuple[str, str], ...], Dict[int, Route]]  # by the other keys, then the regex's groups


AlikeParts = Tuple[str, Node, Tuple[Tuple[str, str], ...]]


def alike_parts(item: Node) -> Optional[AlikeParts]:
    """(name, destination regex node, the other keys and values) of a route of a carrier table's shape."""
    if item.kind != MAP:
        return None
    name: Optional[str] = None
    dest: Optional[Node] = None
    tail = []
    pairs = iter(item.value)
    for key_node, value in zip(pairs, pairs):
        if key_node.kind != SCALAR:
            return None
        key = key_node.value
        if key == "match":
            if dest is not None or value.kind != MAP or len(value.value) != 2 \
                    or value.value[0].kind != SCALAR or value.value[0].value != "destination_number":
                return None
            dest = value.value[1]
        elif value.kind != SCALAR or not isinstance(value.value, str):
            return None
        elif key == "name" and name is None:
            name = value.value
        elif key in _ALIKE_KEYS:
            tail.append((key, value.value))
        else:
            return None
    if not name or dest is None or not _usable_name(name):  # no name, or an empty one
        return None
    return name, dest, tuple(tail)


def read_alike_route(r: Reader, parts: AlikeParts, line: int, alike: Alike) -> Optional[Route]:
    """The route at ``line`` of these ``parts``, read from its name and regex alone when ``alike`` holds
    a route read before that says the same in everything else; else None (read_route, then
    remember_alike). A big table repeats a few such tails a hundred thousand times."""
    name, dest_node, tail = parts
    by_groups = alike.get(tail)
    if by_groups is None:
        return None
    dest = r.regex(dest_node, "route '%s' match destination_number" % name)
    like = by_groups.get(dest.groups) if dest is not None else None
    if like is None:
        return None
    return tuple.__new__(Route, (name, line, dest) + like[3:])  # like._replace(name=, line=, dest=), faster


def remember_alike(parts: AlikeParts, route: Route, alike: Alike) -> None:
    """Keep ``route``, read without a problem from ``parts``, for read_alike_route."""
    tail = parts[2]
    if route.dest is not None and (tail in alike or len(alike) < _ALIKE_MAX):
        alike.setdefault(tail, {})[route.dest.groups] = route


def _policy(failover_on: Optional[FrozenSet[str]], max_attempts: Optional[int], max_seconds: Optional[float],
            quality: Optional[QualityRule]) -> Optional[RoutePolicy]:
    """The route's own failover and quality settings, None when it has none."""
    policy = RoutePolicy(failover_on, max_attempts, max_seconds, quality)
    return None if policy == _NO_POLICY else policy


_NO_POLICY = RoutePolicy()


def read_transfer(r: Reader, node: Node, what: str, dest: Optional[Regex]) -> Optional[Transfer]:
    """``'EXTENSION [DIALPLAN [CONTEXT]]'``: the extension a number template, the others names."""
    text = r.string(node, what + " transfer")
    if text is None:
        return None
    parts = text.split()
    if not 1 <= len(parts) <= 3 or any(not NAME_RE.match(p) for p in parts[1:]):
        r.error(node, "%s transfer must be 'EXTENSION [DIALPLAN [CONTEXT]]' (the dialplan and "
                "context: letters, digits, '_', '.', '-')" % what)
        return None
    extension = template_text(r, node, parts[0], what + " transfer extension", dest)
    if extension is None:
        return None
    return Transfer(extension, *(parts[1:] + [None, None])[:2])


def read_number(r: Reader, node: Node, what: str, dest: Optional[Regex]) -> Optional[Tuple[Union[str, int], ...]]:
    text = node.value if node.kind == SCALAR else None
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    return template_text(r, node, text, what + " number", dest)


def template_text(r: Reader, node: Node, text: object, what: str, dest: Optional[Regex]
                  ) -> Optional[Tuple[Union[str, int], ...]]:
    """The parts of a number template ``text`` found at ``node``, or None after reporting."""
    if not isinstance(text, str) or not TEMPLATE_RE.match(text):
        r.error(node, "%s %r may hold only 0-9 A-Z a-z + * # . _ - and $N captures%s"
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
            r.error(node, "%s uses $%d but the route matches no destination_number"
                    % (what, index))
            return None
        if index > groups:
            r.error(node, "%s uses $%d but the destination_number regex has %d group%s"
                    % (what, index, groups, "" if groups == 1 else "s"))
            return None
        parts.append(index)
    return _shared(tuple(parts))


@functools.lru_cache(maxsize=4096)
def _shared(parts: Tuple[Union[str, int], ...]) -> Tuple[Union[str, int], ...]:
    """One tuple for equal templates: a table of 100,000 routes mostly says '$1' (about 50 bytes a route)."""
    return parts


def read_lcr(r: Reader, node: Node, what: str, carriers: Optional[Dict[str, Carrier]]
             ) -> Optional[Tuple[Lcr, Tuple[str, ...]]]:
    """A route's ``lcr: {carriers: [...], max_rate: 0.05, on_no_carrier: ...}`` and its carriers' names.

    ``carriers`` None: a route built by fold_route; its Lcr has no carriers
    yet, ``resolve_lcr`` puts them in once the file is read.
    """
    what += " lcr"
    body = r.mapping(node, what, allowed=("carriers", "max_rate", "on_no_carrier") + PRICING_KEYS,
                     required=("carriers",))
    if not body or "carriers" not in body:
        return None
    names: List[str] = []
    chosen: List[Carrier] = []
    items = r.sequence(body["carriers"][1], what + ".carriers")
    if not items and body["carriers"][1].kind == SEQ:
        r.error(body["carriers"][1], "%s: needs at least one carrier" % what)
    for item in items:
        name = r.string(item, what + " carrier")
        if name is None:
            continue
        if name in names:
            r.error(item, "%s: carrier '%s' is listed twice" % (what, name))
            continue
        names.append(name)
        if carriers is None:
            continue
        if name in carriers:
            chosen.append(carriers[name])
        elif name not in r.declared["carrier"]:
            r.error(item, "%s: no carrier named '%s'%s"
                    % (what, name, did_you_mean(name, r.declared["carrier"])))
    if carriers is not None:
        check_currencies(r, body["carriers"][1], what, chosen)
    max_rate = None
    if "max_rate" in body:
        rate_node = body["max_rate"][1]
        value = rate_node.value if rate_node.kind == SCALAR else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1e6:
            r.error(rate_node, "%s max_rate must be a rate per minute from 0 up, like 0.05" % what)
        else:
            max_rate = round(value * MICRO)
    on_no_carrier = None
    if "on_no_carrier" in body:
        on_no_carrier = read_action(r, body["on_no_carrier"][1], what + ".on_no_carrier")
    expected, margin = read_pricing(r, body, what, carriers is not None)
    return Lcr(tuple(chosen), max_rate, on_no_carrier, expected, margin), tuple(names)


def check_currencies(r: Reader, node: Node, what: str, chosen: Iterable[Carrier]) -> None:
    """Report the carriers of one lcr route quoting in more than one currency."""
    currencies = sorted({c.currency for c in chosen})
    if len(currencies) > 1:
        r.error(node, "%s: the carriers' rates are in different currencies (%s); "
                "rates can only be compared in one" % (what, ", ".join(currencies)))


def resolve_lcr(r: Reader, route: Route, carriers: Dict[str, Carrier]) -> Optional[Route]:
    """A route built by fold_route with its lcr carriers put in, or None when they need reporting."""
    if route.lcr is None:
        return route
    names = r.folded_carriers.get(route.name, ())
    if not names or not all(n in carriers for n in names):
        return None
    chosen = tuple(carriers[n] for n in names)
    if len({c.currency for c in chosen}) > 1 or not sell_default_declared(r, route.lcr.margin):
        return None
    return route._replace(lcr=route.lcr._replace(carriers=chosen))


def _route_label(item: Node) -> str:
    """"route 'NAME'" when the route's mapping has a usable name, for its shape problems; else "a route"."""
    if item.kind == MAP:
        for key, value in item.pairs():
            if key.value == "name" and value.kind == SCALAR and isinstance(value.value, str) \
                    and value.value and value.value.isprintable() and len(value.value) <= 128:
                return "route '%s'" % value.value
    return "a route"
