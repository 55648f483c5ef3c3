"""The gateways a rules file names, checked against the gateways a switch defines.

Pure: the switch's side comes in as {gateway: set of profiles} (read from the sofia
configuration by fsroute.migrate.sofia_conf, or from the running switch by ``ctl check``);
each problem names the place in the rules file (file:line:col) where the gateway is named.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Set, Tuple

from . import yamltree
from .text import did_you_mean
from .model import RuleSet
from .yamltree import MAP, SCALAR, SEQ, Node

# (gateway name, line, col) of each place a rules file names a gateway.
Place = Tuple[str, int, int]


def gateway_places(text: str) -> List[Place]:
    """Every place the rules text names a gateway: gateways: keys, routes' gateway, groups' members."""
    root = yamltree.parse(text)
    if root is None or root.kind != MAP:
        return []
    out: List[Place] = []
    for key, value in root.pairs():
        if key.value == "gateways" and value.kind == MAP:
            out += [(k.value, k.line, k.col) for k, _ in value.pairs() if k.kind == SCALAR]
        elif key.value == "routes" and value.kind == SEQ:
            for route in value.value:
                out += [(v.value, v.line, v.col) for k, v in _pairs(route) if k.value == "gateway"
                        and v.kind == SCALAR and isinstance(v.value, str) and not v.value.startswith("${")]
        elif key.value == "groups" and value.kind == MAP:
            for _, group in value.pairs():
                for k, members in _pairs(group):
                    if k.value == "gateways" and members.kind == SEQ:
                        out += list(_members(members))
    return out


def _pairs(node: Node) -> Iterator[Tuple[Node, Node]]:
    return node.pairs() if node.kind == MAP else iter(())


def _members(members: Node) -> Iterator[Place]:
    for item in members.value:
        if item.kind == SCALAR:
            yield item.value, item.line, item.col
        for k, v in _pairs(item):
            if k.value == "name" and v.kind == SCALAR:
                yield v.value, v.line, v.col


def check_gateways(rules: RuleSet, places: List[Place], defined: Mapping[str, Set[str]], where: str) -> List[str]:
    """One ``file:line:col: message`` per place naming a gateway that ``where`` (e.g. "the sofia
    configuration") does not define, or defines on another profile than the rules read."""
    problems = []
    reported: Dict[Tuple[str, int, int], bool] = {}
    for name, line, col in places:
        if not isinstance(name, str) or (name, line, col) in reported:
            continue
        reported[(name, line, col)] = True
        profiles = defined.get(name)
        if not profiles:
            problems.append("%s:%d:%d: gateway '%s' is not defined in %s%s"
                            % (rules.path, line, col, name, where, did_you_mean(name, defined)))
        elif rules.profile_of(name) not in profiles:
            problems.append("%s:%d:%d: gateway '%s' is on profile %s in %s, but the rules read its state "
                            "from profile '%s' (give it profile: under gateways)"
                            % (rules.path, line, col, name, " and ".join(sorted(profiles)), where,
                               rules.profile_of(name)))
    return problems
