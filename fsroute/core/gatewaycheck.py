"""The gateways a rules file names, checked against the gateways a switch defines.

Pure: the switch's side comes in as {gateway: set of profiles} (read from the sofia
configuration by fsroute.migrate.sofia_conf, or from the running switch by ``ctl check``);
each gateway with a problem is reported once, at the first place the rules file names it
(file:line:col), with every place that names it.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Set, Tuple

from . import yamltree
from .text import did_you_mean
from .model import RuleSet
from .yamltree import MAP, SCALAR, SEQ, Node

# (gateway name, line, col, what names it: "gateways:", "group 'g'", "route 'a'") of each place a rules
# file names a gateway.
Place = Tuple[str, int, int, str]


def gateway_places(text: str) -> List[Place]:
    """Every place the rules text names a gateway: gateways: keys, routes' gateway, groups' members."""
    root = yamltree.parse(text)
    if root is None or root.kind != MAP:
        return []
    out: List[Place] = []
    for key, value in root.pairs():
        if key.value == "gateways" and value.kind == MAP:
            out += [(k.value, k.line, k.col, "gateways:") for k, _ in value.pairs() if k.kind == SCALAR]
        elif key.value == "routes" and value.kind == SEQ:
            for number, route in enumerate(value.value, 1):
                names = [v.value for k, v in _pairs(route) if k.value == "name" and v.kind == SCALAR]
                use = "route '%s'" % names[0] if names else "route #%d" % number
                out += [(v.value, v.line, v.col, use) for k, v in _pairs(route) if k.value == "gateway"
                        and v.kind == SCALAR and isinstance(v.value, str) and not v.value.startswith("${")]
        elif key.value == "groups" and value.kind == MAP:
            for name, group in value.pairs():
                for k, members in _pairs(group):
                    if k.value == "gateways" and members.kind == SEQ:
                        out += [place + ("group '%s'" % name.value,) for place in _members(members)]
    return out


def _pairs(node: Node) -> Iterator[Tuple[Node, Node]]:
    return node.pairs() if node.kind == MAP else iter(())


def _members(members: Node) -> Iterator[Tuple[str, int, int]]:
    for item in members.value:
        if item.kind == SCALAR:
            yield item.value, item.line, item.col
        for k, v in _pairs(item):
            if k.value == "name" and v.kind == SCALAR:
                yield v.value, v.line, v.col


def check_gateways(rules: RuleSet, places: List[Place], defined: Mapping[str, Set[str]], where: str) -> List[str]:
    """One ``file:line:col: message; named by ...`` per gateway that ``where`` (e.g. "the sofia
    configuration") does not define, or defines on another profile than the rules read: at the first place
    the rules name it, listing every place."""
    uses: Dict[str, List[Tuple[int, int, str]]] = {}
    for name, line, col, use in places:
        if isinstance(name, str) and (line, col, use) not in uses.setdefault(name, []):
            uses[name].append((line, col, use))
    problems = []
    for name, found in sorted(uses.items(), key=lambda item: min(item[1])):
        profiles = defined.get(name)
        if not profiles:
            problem = "gateway '%s' is not defined in %s%s" % (name, where, did_you_mean(name, defined))
        elif rules.profile_of(name) not in profiles:
            problem = ("gateway '%s' is on profile %s in %s, but the rules read its state from profile '%s' "
                       "(give it profile: under gateways)"
                       % (name, " and ".join(sorted(profiles)), where, rules.profile_of(name)))
        else:
            continue
        line, col, _ = min(found)
        problems.append("%s:%d:%d: %s; named by %s" % (rules.path, line, col, problem, ", ".join(
            "%s (%d:%d)" % (use, at_line, at_col) for at_line, at_col, use in sorted(found))))
    return problems
