"""The rules file text of an import: YAML written by hand, with the reports and the mapping in comments.

Kept apart from the translation so that what the rules say and how they
are spelt as YAML (which strings need quotes, what a comment may hold)
can each be read on their own.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, List, Mapping, Sequence, Tuple, Union

from .legacy import Legacy, Report, printable

if TYPE_CHECKING:  # the importer imports this module to write its result
    from .importer import AclSpec, GroupSpec, RouteSpec

_PLAIN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_YAML_WORDS = ("y", "n", "yes", "no", "on", "off", "true", "false", "null")


def _scalar(text: str) -> str:
    """``text`` as a YAML string scalar: plain when unambiguous, else quoted."""
    if _PLAIN_RE.match(text) and text.lower() not in _YAML_WORDS:
        return text
    if text.isascii() and text.isprintable():
        return "'%s'" % text.replace("'", "''")
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _entry(out: List[str], spec: Union[AclSpec, GroupSpec], what: str) -> None:
    """The key of an acl or group, after comments saying where it came from and what changed."""
    out.append("  # %s:%d: %s %s" % (printable(spec.file), spec.line, what, printable(spec.name)))
    for comment in spec.comments:
        out.append("  # %s" % printable(comment))
    out.append("  %s:" % _scalar(spec.name))


def render(legacy: Legacy, profile: str, acls: Mapping[str, AclSpec], groups: Mapping[str, GroupSpec],
           routes: Sequence[RouteSpec], reports: Sequence[Report], contexts: Sequence[str] = (),
           tables: Sequence[Tuple[str, str]] = ()) -> str:
    """The rules file text, with the reports and the mapping explained in comments."""
    out = ["# fsroute rules imported by `fsroute import` from the classic setup:"]
    out.append("#   dialplan:    %s" % (printable(", ".join(legacy.dialplans)) or "(none)"))
    out.append("#   distributor: %s" % printable(legacy.distributor or "(none)"))
    out.append("#   acl:         %s" % printable(legacy.acl or "(none)"))
    out.append("#")
    if reports:
        out.append("# NOT CARRIED OVER OR CHANGED (%d) -- review each before going live; also printed on"
                   % len(reports))
        out.append("# stderr as FILE:LINE: what.")
        for report in reports:
            out.append("#   %s" % printable(str(report)))
    else:
        out.append("# Everything found was carried over; nothing to review.")
    out.append("#")
    out.append("# How the old setup maps onto this file:")
    out.append("# - routes keep the dialplan's order (first match wins); each condition's field and")
    out.append("#   regex becomes a `match` entry, ${acl(${network_addr} LIST)} the route's `acl`.")
    out.append("# - every gateway's state is read from sofia profile %r (--profile): the dialplan" % profile)
    out.append("#   does not say which profile a gateway is on; add `gateways: {NAME: {profile: P}}`")
    out.append("#   for any that live on another profile.")
    out.append("# - mod_distributor lists become groups with strategy weighted_round_robin and the")
    out.append("#   same integer weights: a gateway of weight w gets w picks per cycle of the summed")
    out.append("#   weights, as in mod_distributor, but gateways that are down are left out and a")
    out.append("#   failed call fails over to the next gateway of the group.")
    if contexts:
        out.append("# - the dialplan has several contexts (%s): each route matches its"
                   % printable(", ".join(contexts)))
        out.append("#   context through the `context` channel variable and is named CONTEXT/EXTENSION.")
    out.append("")
    out.append("version: 1")
    out.append("")
    out.append("defaults:")
    out.append("  profile: %s" % _scalar(profile))
    if acls:
        out.append("")
        out.append("acls:")
        for spec in acls.values():
            _entry(out, spec, "acl list")
            out.append("    default: %s" % ("allow" if spec.default_allow else "deny"))
            if spec.nodes:
                out.append("    nodes:")
                for allow, cidr, line, note in spec.nodes:
                    out.append("      - %s: %s    # line %d%s" % ("allow" if allow else "deny", _scalar(cidr),
                                                                 line, (" " + printable(note)) if note else ""))
    if groups:
        out.append("")
        out.append("groups:")
        for group in groups.values():
            _entry(out, group, "distributor list" if group.strategy == "weighted_round_robin" else "bridge to")
            out.append("    strategy: %s" % group.strategy)
            out.append("    gateways:")
            for name, weight, note in group.members:
                out.append("      - {name: %s, weight: %d}    # %s" % (_scalar(name), weight, printable(note)))
    if tables:
        out.append("")
        out.append("tables:                        # per-DID extensions, one row each (did, target, number)")
        for name, path in tables:
            out.append("  %s:" % name)
            out.append("    file: %s" % _scalar(path))
            out.append("    key: exact")
            out.append("    columns: {key: did, target: target, number: number}")
    out.append("")
    if not routes:
        out.append("routes: []    # no extension could be imported; see the list above")
        return "\n".join(out) + "\n"
    out.append("routes:                        # first match wins, in dialplan order")
    for route in routes:
        out.append("")
        out.append("  # %s:%d: extension %s" % (printable(route.file), route.line, printable(route.extension)))
        for comment in route.comments:
            out.append("  # %s" % printable(comment))
        out.append("  - name: %s" % _scalar(route.name))
        if route.match:
            out.append("    match:")
            for variable, regex in route.match:
                out.append("      %s: %s" % (_scalar(variable), _scalar(regex)))
        if route.time:
            out.append("    time: {%s}" % ", ".join("%s: %s" % (a, _scalar(v)) for a, v in route.time))
        if route.number is not None:
            out.append("    number: %s" % _scalar(route.number))
        if route.acl is not None:
            out.append("    acl: %s" % _scalar(route.acl))
        if route.gateway is not None:
            out.append("    gateway: %s" % _scalar(route.gateway))
        elif route.group is not None:
            out.append("    group: %s" % _scalar(route.group))
        elif route.hangup is not None:
            out.append("    hangup: %s" % route.hangup)
        elif route.table is not None:
            out.append("    table: %s" % route.table)
        for kind, pairs in (("set", route.set), ("export", route.export)):
            if pairs:
                out.append("    %s:" % kind)
                for name, value in pairs:
                    out.append("      %s: %s" % (_scalar(name), _scalar(value)))
    return "\n".join(out) + "\n"
