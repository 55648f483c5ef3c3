"""Translate the classic setup -- XML dialplan + distributor.conf.xml + acl.conf.xml -- into rules.

Operators adopting fsroute already route with the XML dialplan, weigh
gateways with mod_distributor and check sources with mod_acl; moving should
be one command whose output they can read and review. ``import_files``
reads the given files (``fsroute.migrate.legacy``) and returns the rules text
(version 1, commented by ``fsroute.migrate.render``, validated with
``fsroute.core.loader.parse``) and the list of everything it could not carry
over, each as ``FILE:LINE: what``: nothing is dropped unreported.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from fsroute.core import loader, model
from fsroute.core.acl import MAPPED_PREFIX, parse_network
from fsroute.core.fsvalues import atoi, switch_true
from .legacy import (ACL_NODE_ATTRS, CAPTURE_RE, Action, Condition, ConfigError, Distribution, Element, Extension,
                     Legacy, Report, Target, classify_field, compile_expression, find_list, parse_dialstring,
                     read_legacy, short)
from .render import render
from .varsxml import read_vars, resolve
from fsroute.core import templates
from fsroute.core.causes import CAUSES
from fsroute.core.dialstring import UnsafeValue, check_value
from fsroute.core.timespec import ATTRIBUTES, SpecError, spec_from_attributes
from fsroute.core.model import NAME_RE, NUMBER_RE

MAX_WEIGHT = 1000000  # what a rules file accepts for one gateway


class AclSpec(NamedTuple):
    name: str
    default_allow: bool
    nodes: Tuple[Tuple[bool, str, int, str], ...]   # (allow, cidr, line, comment)
    file: str
    line: int
    comments: Tuple[str, ...]


class GroupSpec(NamedTuple):
    name: str
    members: Tuple[Tuple[str, int, str], ...]       # (gateway, weight, comment)
    file: str
    line: int
    comments: Tuple[str, ...]
    strategy: str = "weighted_round_robin"          # priority: a dial string's '|' / ',' failover list


class RouteSpec(NamedTuple):
    name: str
    extension: str
    file: str
    line: int
    match: Tuple[Tuple[str, str], ...]
    number: Optional[str]
    acl: Optional[str]
    gateway: Optional[str]
    group: Optional[str]
    comments: Tuple[str, ...]
    set: Tuple[Tuple[str, str], ...] = ()           # set actions before the bridge
    export: Tuple[Tuple[str, str], ...] = ()        # export actions before the bridge
    hangup: Optional[str] = None                    # an extension that only hangs up
    time: Tuple[Tuple[str, str], ...] = ()           # the XML time attributes, as the route's time:
    table: Optional[str] = None                     # per-DID extensions folded into a table (didtable.py)


AclNode = Tuple[bool, str, int, str]
Lines = List[Tuple[int, str]]   # (line, what) found about an extension


def translate_acls(legacy: Legacy, reports: List[Report]) -> Dict[str, AclSpec]:
    """acl.conf.xml lists as AclSpecs by name (FreeSWITCH keeps the last list of a name)."""
    out: Dict[str, AclSpec] = {}
    for acl_list in legacy.acl_lists:
        where = (acl_list.file, acl_list.line)
        if not acl_list.name:
            reports.append(Report(*where, "warning: acl list without a name skipped (FreeSWITCH skips it too)"))
            continue
        what = "acl list %r" % acl_list.name
        if not NAME_RE.match(acl_list.name):
            reports.append(Report(*where, "not translated: %s: fsroute acl names hold only letters, digits, "
                                  "'_', '.', '-'" % what))
            continue
        comments: List[str] = []
        if acl_list.default is None:
            default_allow = True
            comments.append("no default in acl.conf.xml: FreeSWITCH treats that as allow")
            reports.append(Report(*where, "warning: %s has no default; FreeSWITCH's default is allow, "
                                  "kept as allow" % what))
        else:
            default_allow = switch_true(acl_list.default)
            if acl_list.default.strip().lower() not in ("allow", "deny"):
                reports.append(Report(*where, "warning: %s default=%r read as %s, as FreeSWITCH does"
                                      % (what, acl_list.default, "allow" if default_allow else "deny")))
        nodes: List[AclNode] = []
        for node in acl_list.nodes:
            nodes.extend(_acl_node(node, what, default_allow, reports))
        if acl_list.name in out:
            earlier = out[acl_list.name]
            reports.append(Report(earlier.file, earlier.line, "not translated: %s is defined again at line %d; "
                                  "FreeSWITCH keeps the later one, so does the import" % (what, acl_list.line)))
        out[acl_list.name] = AclSpec(acl_list.name, default_allow, tuple(nodes), acl_list.file,
                                     acl_list.line, tuple(comments))
    return out


def _acl_node(node: Element, what: str, default_allow: bool, reports: List[Report]) -> List[AclNode]:
    where = (node.file, node.line)
    unknown = sorted(set(node.attrs) - set(ACL_NODE_ATTRS))
    if unknown:
        reports.append(Report(*where, "not translated: %s node with attribute(s) %s that fsroute cannot "
                              "express; node left out" % (what, ", ".join(unknown))))
        return []
    kind = node.attrs.get("type")
    allow = default_allow if kind is None else switch_true(kind)
    if kind is not None and kind.strip().lower() not in ("allow", "deny"):
        reports.append(Report(*where, "warning: %s node type=%r read as %s, as FreeSWITCH does"
                              % (what, kind, "allow" if allow else "deny")))
    if "domain" in node.attrs:
        reports.append(Report(*where, "not translated: %s node domain=%r takes the cidr= of the users of a "
                              "directory domain, which the import cannot see; list those CIDRs in the rules"
                              % (what, node.attrs["domain"])))
        return []
    if "cidr" in node.attrs:
        out: List[AclNode] = []
        for token in node.attrs["cidr"].split(","):
            token = token.strip()
            if "/" not in token:
                reports.append(Report(*where, "not translated: %s node cidr %r has no /bits; FreeSWITCH "
                                      "refuses it too" % (what, token)))
                continue
            comment = ""
            if token[:len(MAPPED_PREFIX)].lower() == MAPPED_PREFIX:
                # FreeSWITCH strips '::ffff:' and reads the rest as IPv4: /8 stays /8, /104 is dropped
                written, token = token, token[len(MAPPED_PREFIX):]
                if "." not in token:
                    reports.append(Report(*where, "not translated: %s node cidr %r: FreeSWITCH strips '::ffff:' "
                                          "and misreads the rest; write the network as IPv4 or as full IPv6"
                                          % (what, written)))
                    continue
                try:
                    ipaddress.IPv4Network(token, strict=False)
                except ValueError:
                    reports.append(Report(*where, "not translated: %s node cidr %r: FreeSWITCH drops it "
                                          "('Error Adding'), so does the import" % (what, written)))
                    continue
                comment = "cidr=%s, read as IPv4 as FreeSWITCH does" % written
                reports.append(Report(*where, "warning: %s node %s" % (what, comment)))
            try:
                network = parse_network(token)
            except ValueError as exc:
                reports.append(Report(*where, "not translated: %s node: %s" % (what, exc)))
                continue
            out.append((allow, str(network), node.line, comment))
        return out
    host, mask = node.attrs.get("host"), node.attrs.get("mask")
    if host is not None and mask is not None:
        try:
            network = parse_network("%s/%s" % (host.strip(), mask.strip()))
            if network.version != 4:
                raise ValueError(host)
        except ValueError:
            reports.append(Report(*where, "not translated: %s node host=%r mask=%r is not an IPv4 address with a "
                                  "contiguous netmask; fsroute cannot express it" % (what, host, mask)))
            return []
        return [(allow, str(network), node.line, "host=%s mask=%s" % (host.strip(), mask.strip()))]
    reports.append(Report(*where, "warning: %s node has no cidr, host+mask or domain; FreeSWITCH ignores it, "
                          "so does the import" % what))
    return []


def translate_lists(legacy: Legacy, reports: List[Report]) -> Dict[str, GroupSpec]:
    """distributor lists as GroupSpecs keyed by lower-case name (mod_distributor ignores case)."""
    out: Dict[str, GroupSpec] = {}
    for dist_list in legacy.lists:
        where = (dist_list.file, dist_list.line)
        if not dist_list.name:
            reports.append(Report(*where, "warning: distributor list without a name skipped "
                                  "(mod_distributor skips it too)"))
            continue
        what = "distributor list %r" % dist_list.name
        key = dist_list.name.lower()
        if key in out or find_list(legacy, dist_list.name) is not dist_list:
            reports.append(Report(*where, "not translated: %s is a second list of that name (case ignored); "
                                  "mod_distributor only ever uses the first" % what))
            continue
        comments: List[str] = []
        if dist_list.total_weight is not None:
            comments.append("total-weight=%s ignored, as current mod_distributor does (it warns \"no longer "
                            "necessary\"): the cycle is the sum of the weights" % short(dist_list.total_weight))
        merged: Dict[str, Tuple[int, int]] = {}   # gateway -> (first line, summed weight)
        for node in dist_list.nodes:
            weight = atoi(node.weight)
            if weight < 1:
                comments.append("node %s (line %d) dropped: weight %r is not >= 1; mod_distributor "
                                "skips it too" % (short(node.name), node.line, node.weight))
                reports.append(Report(dist_list.file, node.line, "not translated: %s node %r weight %r is not "
                                      ">= 1 (mod_distributor skips it too)" % (what, node.name, node.weight)))
                continue
            if str(weight) != node.weight.strip():
                reports.append(Report(dist_list.file, node.line, "warning: %s node %r weight %r read as %d, as "
                                      "mod_distributor's atoi() does" % (what, node.name, node.weight, weight)))
            if not NAME_RE.match(node.name):
                comments.append("node %r (line %d) dropped: not a plain gateway name"
                                % (short(node.name), node.line))
                reports.append(Report(dist_list.file, node.line, "not translated: %s node %r is not a plain "
                                      "gateway "
                                      "name (letters, digits, '_', '.', '-'); the group's ratio changes"
                                      % (what, node.name)))
                continue
            if node.name in merged:
                first_line, total = merged[node.name]
                merged[node.name] = (first_line, total + weight)
                reports.append(Report(dist_list.file, node.line, "warning: %s lists %r again (first at line %d); "
                                      "merged into one gateway of weight %d, the share mod_distributor gives it"
                                      % (what, node.name, first_line, total + weight)))
            else:
                merged[node.name] = (node.line, weight)
        members: List[Tuple[str, int, str]] = []
        for name, (line, weight) in merged.items():
            if weight > MAX_WEIGHT:
                reports.append(Report(dist_list.file, line, "not translated: %s node %r weight %d is above "
                                      "fsroute's %d" % (what, name, weight, MAX_WEIGHT)))
                continue
            members.append((name, weight, "line %d" % line))
        if not members:
            reports.append(Report(*where, "not translated: %s has no usable node; mod_distributor would "
                                  "answer -err for every call" % what))
            continue
        out[key] = GroupSpec(dist_list.name, tuple(members), dist_list.file, dist_list.line, tuple(comments))
    return out


def _first_bridge(ext: Extension) -> Optional[Tuple[int, Action]]:
    """(condition index, action) of the extension's first bridge or transfer, or None."""
    for index, condition in enumerate(ext.conditions):
        for action in condition.actions:
            if action.app in ("bridge", "transfer"):
                return index, action
    return None


class _Findings(NamedTuple):
    """What translating one extension found, each as (line, what)."""
    fatal: Lines    # the extension is not imported
    review: Lines   # imported, but this part is not carried over
    changed: Lines  # carried over with a difference worth knowing


class _Conditions(NamedTuple):
    """What an extension's conditions up to its bridge become in the route."""
    match: Dict[str, str]
    acl: Optional[str]
    timing: Dict[str, str]       # the XML time attributes of field-less conditions: the route's time:
    dest_groups: Optional[int]   # capture groups of the bridge's own condition, if it is on destination_number


def translate_extension(ext: Extension, acls: Dict[str, AclSpec], group_specs: Dict[str, GroupSpec],
                        legacy: Legacy, profile: str, reports: List[Report]) -> Optional[RouteSpec]:
    """A RouteSpec for ``ext`` (match without context), or None after reporting why not.

    Whatever the route leaves out of the extension is reported too.
    """
    label = "extension %r" % ext.name
    found = _first_bridge(ext) or _hangup_only(ext)
    if found is None:
        apps = [a.app or "?" for c in ext.conditions for a in c.actions + c.anti_actions]
        what = "applications: " + ", ".join(apps) if apps else "no actions"
        reports.append(Report(ext.file, ext.line, "not translated: %s has no bridge to a gateway (%s); keep it "
                              "in the XML dialplan ahead of the fsroute extension, or its calls reach the next "
                              "matching route" % (label, what)))
        return None
    bridge_index, bridge = found
    findings = _Findings([], _extension_notes(ext), [])
    conditions = _read_conditions(ext, bridge_index, acls, findings)
    sets, exports = _actions_before_bridge(ext, bridge_index, bridge, findings)
    comments: List[str] = []
    number, gateway, group = _dialled(ext, bridge_index, bridge, conditions.dest_groups, legacy, group_specs,
                                      profile, findings, comments)
    if not _reported(ext, label, findings, reports, comments):
        return None
    if conditions.timing:
        comments.append("time: read in the switch's local time zone, as the XML dialplan does when the "
                        "channel has no timezone variable")
    return RouteSpec(name=ext.name, extension=ext.name, file=ext.file, line=ext.line,
                     match=tuple(conditions.match.items()), number=number, acl=conditions.acl, gateway=gateway,
                     group=group, comments=tuple(comments), set=tuple(sets), export=tuple(exports),
                     hangup=_cause(bridge.data) if bridge.app == "hangup" else None,
                     time=tuple(conditions.timing.items()))


def _extension_notes(ext: Extension) -> Lines:
    """What the extension's own attributes and children do that a route does not."""
    review: Lines = []
    if switch_true(ext.attrs.get("continue")):
        review.append((ext.line, "continue=%r: the old dialplan went on to later extensions and ran their "
                       "actions too; fsroute stops at the first matching route" % ext.attrs["continue"]))
    if ext.name.isdigit():
        review.append((ext.line, "FreeSWITCH starts the hunt at an extension named like the dialled number "
                       "(%s); fsroute keeps file order" % ext.name))
    for other in ext.others:
        review.append((other.line, "<%s> inside the extension" % other.tag))
    return review


def _read_conditions(ext: Extension, bridge_index: int, acls: Dict[str, AclSpec], findings: _Findings) -> _Conditions:
    """The route's match, acl and time: from the conditions up to the bridge's; the rest is reported."""
    fatal, review = findings.fatal, findings.review
    read = _Conditions({}, None, {}, None)
    for index, condition in enumerate(ext.conditions):
        if index > bridge_index:
            review.append((condition.line, "a condition after the one holding the bridge (the old bridge ran "
                           "whatever it decided)"))
            for action in condition.actions + condition.anti_actions:
                review.append((action.line, "application %r after the bridge" % action.app))
            continue
        _time_attributes(condition, read.timing, fatal, review)
        _check_condition_shape(condition, findings)
        if condition.field is not None:
            read = _read_field(condition, index == bridge_index, acls, read, fatal)
    return read


def _check_condition_shape(condition: Condition, findings: _Findings) -> None:
    """Report what of a condition a route cannot say: regex modes, other attributes, nesting, break, anti-actions."""
    fatal, review = findings.fatal, findings.review
    extra = sorted(set(condition.attrs) - {"field", "expression", "break", "require-nested", "regex"}
                   - set(ATTRIBUTES))
    if "regex" in condition.attrs or any(o.tag == "regex" for o in condition.others):
        fatal.append((condition.line, "regex=%r / <regex> conditions (any|all|xor) cannot be expressed; "
                      "fsroute ANDs one regex per variable" % condition.attrs.get("regex", "")))
    if extra:
        fatal.append((condition.line, "condition attribute(s) %s cannot be expressed" % ", ".join(extra)))
    if any(o.tag == "condition" for o in condition.others):
        fatal.append((condition.line, "nested conditions cannot be expressed"))
    for other in condition.others:
        if other.tag not in ("condition", "regex"):
            review.append((other.line, "<%s> inside the condition" % other.tag))
    if condition.break_mode != "on-false":
        fatal.append((condition.line, "break=%r cannot be expressed; fsroute ANDs the conditions"
                      % condition.attrs["break"]))
    for anti in condition.anti_actions:
        review.append((anti.line, "anti-action %r: the old dialplan ran it (and stopped) when the "
                       "condition failed; with fsroute such calls go on to the next route" % anti.app))


def _read_field(condition: Condition, holds_bridge: bool, acls: Dict[str, AclSpec], read: _Conditions,
                fatal: Lines) -> _Conditions:
    """``read`` with a condition on a field added: a match regex or the route's acl, or why not in ``fatal``."""
    assert condition.field is not None
    kind, value, _ = classify_field(condition.field)
    if kind == "bad":
        fatal.append((condition.line, value))
        return read
    expression = condition.expression or ""
    regex = compile_expression(expression)
    if isinstance(regex, str):
        fatal.append((condition.line, regex))
        return read
    if kind == "acl":
        list_name = value
        if not (regex.search("true") and not regex.search("false")):
            fatal.append((condition.line, "an acl condition with expression %r is not \"the source is "
                          "allowed\"; a route's acl only lets allowed sources through" % expression))
        elif read.acl is not None:
            fatal.append((condition.line, "a second acl condition; a route takes one acl"))
        elif list_name not in acls:
            fatal.append((condition.line, "acl list %r is not in the --acl file (or could not be "
                          "translated)" % list_name))
        else:
            return read._replace(acl=list_name)
        return read
    if value in read.match:
        fatal.append((condition.line, "a second condition on %r; fsroute takes one regex per variable"
                      % value))
        return read
    if expression:
        read.match[value] = expression
    if holds_bridge and value == "destination_number":
        return read._replace(dest_groups=regex.groups)
    return read


def _actions_before_bridge(ext: Extension, bridge_index: int, bridge: Action, findings: _Findings
                           ) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(sets, exports) carried over from set/export applications before the bridge; the rest is reported."""
    sets: List[Tuple[str, str]] = []
    exports: List[Tuple[str, str]] = []
    for condition in ext.conditions[:bridge_index + 1]:
        seen_bridge = False
        for action in condition.actions:
            if action is bridge:
                seen_bridge = True
            elif action.app in ("bridge", "transfer"):
                findings.review.append((action.line, "a further %s (%s); fsroute fails over within a group instead"
                                        % (action.app, short(action.data))))
            elif action.app in ("set", "export") and not seen_bridge and (pair := _variable(action.data)):
                problem = _value_captures(pair[1], condition)
                if problem:
                    findings.review.append((action.line, "application %r is not carried over: %s"
                                            % (action.app, problem)))
                    continue
                (sets if action.app == "set" else exports).append(pair)
                findings.changed.append((action.line, "application %r before the bridge is carried over as the "
                                         "route's %s: (set before each attempt; a call that ends before any "
                                         "attempt does not get it)" % (action.app, action.app)))
            else:
                findings.review.append((action.line, "application %r %s the bridge" % (
                    action.app, "after" if seen_bridge else "before")))
    return sets, exports


def _dialled(ext: Extension, bridge_index: int, bridge: Action, dest_groups: Optional[int], legacy: Legacy,
             group_specs: Dict[str, GroupSpec], profile: str, findings: _Findings, comments: List[str]
             ) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(number, gateway, group) the bridge dials; a failover list becomes a priority group in ``group_specs``."""
    target, group = _bridge_target(ext, bridge, group_specs, findings)
    if target is None:
        return None, None, group
    number, error = number_template(target.number, _substitutes(ext.conditions[bridge_index]), dest_groups)
    if error:
        findings.fatal.append((bridge.line, error))
    gateway = None
    if group is not None:
        pass  # a failover list
    elif target.gateway is not None:
        gateway = target.gateway
    elif target.distribution is not None:
        group = _route_group(target.distribution, bridge, legacy, group_specs, profile, findings.fatal,
                             findings.review, comments)
    return number, gateway, group


def _bridge_target(ext: Extension, bridge: Action, group_specs: Dict[str, GroupSpec], findings: _Findings
                   ) -> Tuple[Optional[Target], Optional[str]]:
    """(what the bridge dials, the failover group made of its list) or (None, None) for a block or a refusal."""
    if bridge.app == "hangup":
        return None, None  # a blocking route: nothing to dial
    if bridge.app == "transfer" and not bridge.data.strip().startswith("sofia/gateway/"):
        findings.fatal.append((bridge.line, "transfer to %r is not a gateway dial string" % short(bridge.data)))
        return None, None
    if bridge.app == "transfer":
        findings.review.append((bridge.line, "transfer is imported as a bridge to that gateway; FreeSWITCH's "
                                "transfer re-enters the dialplan with its argument as the destination number, "
                                "so check what the old dialplan really did with it"))
    parsed = _failover_list(bridge.data)
    if isinstance(parsed, str):
        findings.fatal.append((bridge.line, parsed))
        return None, None
    target, listed = parsed
    if len(listed) <= 1:
        return target, None
    findings.changed.append((bridge.line, "the dial string lists several endpoints (%s): they become a group "
                             "with strategy priority, tried in that order; fsroute also leaves out gateways "
                             "that are down" % ", ".join(listed)))
    base = group = "%s_failover" % re.sub(r"[^A-Za-z0-9_.-]", "_", ext.name)[:50]
    taken = 1
    while group.lower() in group_specs:  # another extension's of that name (in another context), or a list's
        taken += 1
        group = "%s_%d" % (base, taken)
    group_specs[group.lower()] = GroupSpec(group, tuple((g, 1, "in dial-string order") for g in listed),
                                           ext.file, bridge.line,
                                           ("the bridge's failover list: tried in that order",), "priority")
    return target, group


def _reported(ext: Extension, label: str, findings: _Findings, reports: List[Report], comments: List[str]) -> bool:
    """Report the findings (the review and change notes also as route comments); False when not imported."""
    if findings.fatal:
        for line, why in findings.fatal:
            reports.append(Report(ext.file, line, "not translated: %s is not imported: %s" % (label, why)))
        return False
    for line, what in findings.review:
        reports.append(Report(ext.file, line, "not translated: %s (imported as a route): %s" % (label, what)))
        comments.append("REVIEW (line %d): %s" % (line, what))
    for line, what in findings.changed:
        reports.append(Report(ext.file, line, "warning: %s (imported as a route): %s" % (label, what)))
        comments.append("CHANGED (line %d): %s" % (line, what))
    return True


def _hangup_only(ext: Extension) -> Optional[Tuple[int, Action]]:
    """(condition index, action) when the extension's only application is hangup: a block."""
    actions = [(i, a) for i, c in enumerate(ext.conditions) for a in c.actions + c.anti_actions]
    if len(actions) == 1 and actions[0][1].app == "hangup" and _cause(actions[0][1].data) is not None \
            and actions[0][1] in ext.conditions[actions[0][0]].actions:
        return actions[0]
    return None


def _cause(data: str) -> Optional[str]:
    """The hangup application's cause (NORMAL_CLEARING when none), or None when it is not a cause name."""
    name = (data.strip() or "NORMAL_CLEARING").upper()
    return name if name in CAUSES else None


_SET_RE = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]{0,63})=(.+)\Z", re.S)


def _substitutes(condition: Condition) -> bool:
    """Whether mod_dialplan_xml fills $N in ``condition``'s actions: a field's regex holding a '('."""
    return condition.field is not None and "(" in (condition.expression or "")


def _value_captures(value: str, condition: Condition) -> Optional[str]:
    """Why a set/export ``value`` of an action in ``condition`` cannot go to a route's set: (whose $N are
    the destination regex's captures), or None."""
    substitutes = _substitutes(condition)
    groups = None
    if condition.field is not None and classify_field(condition.field)[:2] == ("var", "destination_number"):
        regex = compile_expression(condition.expression or "")
        groups = regex.groups if not isinstance(regex, str) else None
    for found in CAPTURE_RE.finditer(value):
        problem = _capture_problem("its value %r" % value, int(found.group(1) or found.group(2)), substitutes,
                                   groups, "set", "a route's set: values")
        if problem:
            return problem
    return None


def _variable(data: str) -> Optional[Tuple[str, str]]:
    """(name, value) of a set/export the rules can carry (a value template fsroute checks), else None."""
    found = _SET_RE.match(data.strip())
    if found is None:
        return None
    try:
        check_value("".join(p if isinstance(p, str) else "x" for p in templates.parse(found.group(2), None)),
                    "the value")
    except (templates.TemplateError, UnsafeValue):
        return None
    return found.group(1), found.group(2)


def _failover_list(data: str) -> Union[Tuple[Target, List[str]], str]:
    """(target, gateways) of a dial string: one endpoint, or a '|' / ',' list of gateways dialling the same
    number (tried in order); or why not."""
    text = data.strip()
    if ("|" not in text and "," not in text) or text[:1] in ("{", "[", "<") or ":_:" in text:
        parsed = parse_dialstring(text)
        return parsed if isinstance(parsed, str) else (parsed, [parsed.gateway or ""])
    targets = [parse_dialstring(part) for part in re.split(r"[|,]", text)]
    for target in targets:
        if isinstance(target, str):
            return "in the failover list: " + target
        if target.gateway is None or target.gateway.startswith("${"):
            return "a failover list of distributor expansions or variable gateways cannot be expressed"
    plain = [t for t in targets if not isinstance(t, str)]
    if len({t.number for t in plain}) != 1:
        return "the failover list dials different numbers; a route dials one number through its gateways"
    names = [t.gateway for t in plain if t.gateway]
    if len(set(names)) != len(names):
        return "the failover list names a gateway twice"
    return plain[0], names


def _time_attributes(condition: Condition, timing: Dict[str, str], fatal: Lines, review: Lines) -> None:
    """Add a condition's time attributes (wday, hour, ...) to ``timing``, the route's ``time:``.

    mod_dialplan_xml decides a condition with a field by its regex alone (the
    time check's verdict is overwritten), so only field-less ones count.
    """
    attrs = {a: v for a, v in condition.attrs.items() if a in ATTRIBUTES}
    if not attrs:
        return
    if condition.field is not None or "regex" in condition.attrs:
        review.append((condition.line, "time attribute(s) %s on a condition with a field: FreeSWITCH lets the "
                       "field's regex decide alone, so they are left out" % ", ".join(sorted(attrs))))
        return
    try:
        spec_from_attributes(attrs, None)
    except SpecError as exc:
        fatal.append((condition.line, "%s (FreeSWITCH reads such a value leniently; write what it means)" % exc))
        return
    for attribute, value in attrs.items():
        if attribute in timing:
            fatal.append((condition.line, "a second condition on %s; a route's time: takes each attribute once"
                          % attribute))
            return
        timing[attribute] = value.strip()


def _route_group(distribution: Distribution, bridge: Action, legacy: Legacy, group_specs: Dict[str, GroupSpec],
                 profile: str, fatal: Lines, review: Lines, comments: List[str]) -> Optional[str]:
    """The group name for a distributor expansion, or None after adding why to ``fatal``."""
    dist_list = find_list(legacy, distribution.list_name)
    if dist_list is None:
        fatal.append((bridge.line, "distributor list %r is not in the --distributor file; mod_distributor "
                      "answers -err and every call fails (INVALID_GATEWAY)" % distribution.list_name))
        return None
    spec = group_specs.get(dist_list.name.lower())
    if spec is None:
        fatal.append((bridge.line, "distributor list %r could not be translated (see its report)"
                      % dist_list.name))
        return None
    if distribution.down_profile is None:
        comments.append("the old dial string passed no exceptions, so mod_distributor also picked gateways "
                        "that were down; fsroute leaves them out")
    elif distribution.down_profile != profile:
        review.append((bridge.line, "the old dial string left out the gateways down on profile %r; these "
                       "rules read every gateway's state from profile %r (--profile) unless it is listed "
                       "under gateways:" % (distribution.down_profile, profile)))
    return spec.name


_NUMBER_VAR_RE = re.compile(r"\$\{[A-Za-z0-9_]{1,64}\}")


def number_template(text: str, substitutes: bool,
                    groups: Optional[int]) -> Tuple[Optional[str], Optional[str]]:
    """(template or None, error): the dial string's number as an fsroute ``number``.

    ``substitutes``: FreeSWITCH fills $N only when the condition's expression
    has a '('; ``groups``: capture groups of the destination_number regex
    (None when the bridge's captures come from another field). None as
    template means "the destination as is" (``${destination_number}``).
    """
    if text == "${destination_number}":
        return None, None
    out: List[str] = []
    i = 0
    previous_was_capture = False
    while i < len(text):
        found = CAPTURE_RE.match(text, i)
        if found:
            index = int(found.group(1) or found.group(2))
            problem = _capture_problem("the number %r" % text, index, substitutes, groups, "dial",
                                       "fsroute numbers")
            if problem:
                return None, problem
            out.append("$%d" % index)
            previous_was_capture = True
            i = found.end()
            continue
        variable = _NUMBER_VAR_RE.match(text, i)
        if variable:  # ${name}: fsroute reads the call's variable (else the global one) per call
            out.append(variable.group())
            previous_was_capture = False
            i = variable.end()
            continue
        char = text[i]
        if char == "$":
            return None, ("the number %r holds a variable or expansion; fsroute numbers hold only "
                          "0-9 A-Z a-z + * # . _ - and $N captures" % text)
        if not NUMBER_RE.match(char):
            return None, ("the number %r holds %r; fsroute numbers hold only 0-9 A-Z a-z + * # . _ - "
                          "and $N captures" % (text, char))
        if previous_was_capture and char.isdigit():
            return None, "the number %r puts a digit right after a capture, which fsroute reads as $NN" % text
        out.append(char)
        previous_was_capture = False
        i += 1
    if not out:
        return None, "the dial string's number is empty"
    return "".join(out), None


def _capture_problem(subject: str, index: int, substitutes: bool, groups: Optional[int], verb: str,
                     takers: str) -> Optional[str]:
    """Why ``$index`` in ``subject`` (an action's data) is not a capture of the route's destination regex,
    or None. mod_dialplan_xml fills an action's $N from its own condition's regex, and only when that
    expression has a '('; ``groups``: that regex's groups when it is the one on destination_number."""
    if not substitutes:
        return "%s uses $%d but the condition's expression has no '(': FreeSWITCH would %s it literally" % (
            subject, index, verb)
    if groups is None:
        return "%s uses $%d, captured from a field other than destination_number; %s take captures of " \
               "destination_number only" % (subject, index, takers)
    if index > groups:
        return "%s uses $%d but the regex has %d group(s)" % (subject, index, groups)
    return None


class ImportResult(NamedTuple):
    text: str                       # the rules file
    reports: Tuple[Report, ...]     # everything not carried over, in file and line order
    routes: Tuple[RouteSpec, ...]   # the routes written, each with its extension's file and line


def import_files(dialplans: Sequence[str] = (), distributor: Optional[str] = None, acl: Optional[str] = None,
                 profile: str = "external", vars_file: Optional[str] = None,
                 dids_dir: Optional[str] = None) -> ImportResult:
    """Read the old configuration files and return an ImportResult.

    ``vars_file``: vars.xml, whose X-PRE-PROCESS set lines resolve $${name}. ``dids_dir``: long runs of
    per-DID extensions become number tables written there (didtable.py).
    Raises ConfigError when a file is unreadable or not well-formed XML.
    The text always passes ``fsroute.core.loader.parse`` (checked here).
    """
    if not NAME_RE.match(profile or ""):
        raise ValueError("profile %r is not a valid sofia profile name" % profile)
    legacy = read_legacy(dialplans, distributor, acl)
    if vars_file is not None:  # $${name}: resolved now, as FreeSWITCH's preprocessor does at load
        legacy = resolve(legacy, read_vars(vars_file), vars_file)
    return translate(legacy, profile, dids_dir)


def translate(legacy: Legacy, profile: str = "external", dids_dir: Optional[str] = None) -> ImportResult:
    """An ImportResult for an already read Legacy configuration."""
    reports = list(legacy.notes)
    acls = translate_acls(legacy, reports)
    groups = translate_lists(legacy, reports)
    contexts: List[str] = []
    for ext in legacy.extensions:
        if ext.context is not None and ext.context not in contexts:
            contexts.append(ext.context)
    several = len(contexts) > 1
    routes: List[RouteSpec] = []
    names = set()
    for ext in legacy.extensions:
        route = translate_extension(ext, acls, groups, legacy, profile, reports)
        if route is None:
            continue
        match, comments = list(route.match), list(route.comments)
        name = route.name
        if several:
            if ext.context is None:
                comments.append("REVIEW: %s holds no <context>; the route applies in every context" % ext.file)
            else:
                match.append(("context", "^%s$" % re.escape(ext.context)))
                name = "%s/%s" % (ext.context, name)
        unique, count = name, 1
        while unique in names:
            count += 1
            unique = "%s (%d)" % (name, count)
        names.add(unique)
        routes.append(route._replace(name=unique, match=tuple(match), comments=tuple(comments)))
    tables: List[Tuple[str, str]] = []
    if dids_dir is not None:
        from .didtable import fold_dids  # it builds on RouteSpec, defined here

        routes, written = fold_dids(routes, dids_dir, reports)
        tables = [(table.name, table.path) for table in written]
    order = {path: i for i, path in enumerate(list(legacy.dialplans) + [legacy.distributor, legacy.acl])}
    reports.sort(key=lambda r: (order.get(r.file, len(order)), r.line))
    text = render(legacy, profile, acls, groups, routes, reports, contexts if several else (), tables)
    try:
        loader.parse(text, "<imported rules>")
    except model.RulesError as exc:  # a bug in the import, never the operator's doing
        raise ConfigError("<imported rules>", exc.problems[0].line,
                          "internal error: the generated rules do not validate: %s" % exc) from None
    return ImportResult(text, tuple(reports), tuple(routes))
