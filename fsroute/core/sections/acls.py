"""``acls:``: named lists of networks a call's source address is checked against."""

from __future__ import annotations

from typing import Dict

from ..acl import Acl
from ..reading import Reader
from ..yamltree import SCALAR, Node


def read_acls(r: Reader, node: Node) -> Dict[str, Acl]:
    fields = r.mapping(node, "acls")
    out = {}
    for name, (key, value) in (fields or {}).items():
        what = "acl '%s'" % name
        r.check_name(key, what)
        r.declared["acl"].add(name)
        body = r.mapping(value, what, allowed=("default", "nodes"), required=("default",))
        if body is None:
            continue
        default_allow = None
        if "default" in body:
            default_node = body["default"][1]
            if default_node.kind == SCALAR and default_node.value in ("allow", "deny"):
                default_allow = default_node.value == "allow"
            else:
                r.error(default_node, "%s: default must be 'allow' or 'deny'" % what)
        nodes, lines = [], []
        for item in r.sequence(body["nodes"][1], what + ".nodes") if "nodes" in body else ():
            entry = r.mapping(item, what + " node ({allow: CIDR} or {deny: CIDR})",
                              allowed=("allow", "deny"))
            if not entry:
                if entry is not None:
                    r.error(item, "%s: a node needs 'allow' or 'deny'" % what)
                continue
            if len(entry) != 1:
                r.error(item, "%s: a node is either allow or deny, not both" % what)
                continue
            (verb, (_, cidr)), = entry.items()
            try:
                nodes.append((verb == "allow", r.network(cidr)))
                lines.append(item.line)
            except ValueError as exc:
                r.error(cidr, "%s: %s" % (what, exc))
        if default_allow is not None:
            out[name] = Acl(name, default_allow, nodes, lines)
    return out
