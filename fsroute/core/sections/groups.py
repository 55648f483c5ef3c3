"""``groups:``: gateways tried in the order their strategy picks per call."""

from __future__ import annotations

from typing import Dict, Optional

from ..model import STRATEGIES, Group
from ..reading import Reader
from ..text import did_you_mean
from ..yamltree import SCALAR, Node
from .failover import FAILOVER_KEYS, read_own_failover_on
from .gateways import read_capacity
from .quality import read_quality_rule


def read_groups(r: Reader, node: Node) -> Dict[str, Group]:
    fields = r.mapping(node, "groups")
    out = {}
    for name, (key, value) in (fields or {}).items():
        what = "group '%s'" % name
        r.check_name(key, what)
        r.declared["group"].add(name)
        body = r.mapping(value, what, allowed=("strategy", "gateways", "max_calls", "max_cps") + FAILOVER_KEYS + ("quality",),
                         required=("gateways",))
        if body is None:
            continue
        strategy: Optional[str] = "weighted_round_robin"
        if "strategy" in body:
            strategy_node = body["strategy"][1]
            strategy = strategy_node.value if strategy_node.kind == SCALAR else None
            if strategy not in STRATEGIES:
                close = did_you_mean(strategy, STRATEGIES)
                r.error(strategy_node, "%s: unknown strategy %r%s" % (
                    what, strategy, close or " (expected one of: %s)" % ", ".join(STRATEGIES)))
        members = []
        seen: Dict[str, int] = {}
        items = r.sequence(body["gateways"][1], what + ".gateways") if "gateways" in body else []
        if "gateways" in body and not items:
            r.error(body["gateways"][1], "%s: needs at least one gateway" % what)
        for item in items:
            member = r.member(item, what)
            if member is None:
                continue
            if member.name in seen:
                r.error(item, "%s: gateway '%s' is listed twice (first at line %d); list it once "
                        "and give it the combined weight" % (what, member.name, seen[member.name]))
                continue
            seen[member.name] = item.line
            members.append(member)
        if strategy in STRATEGIES and members:
            out[name] = Group(name, strategy, tuple(members), read_capacity(r, body, what),
                              read_own_failover_on(r, body, what), read_quality_rule(r, body, what))
    return out
