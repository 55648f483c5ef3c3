"""``fsroute compare``: what the old XML setup would pick next to what fsroute picks.

Operators switch only when they can see that the new rules route like the
old ones. The old side is emulated from the same XML files ``fsroute
import`` reads: mod_dialplan_xml's hunt (first extension whose conditions
hold, ``break``, anti-actions and ``continue`` honoured, $N substituted when
the expression has a '('), mod_acl's verdicts, and mod_distributor's cycle
exactly as its ``find_next()`` walks it, starting from a fresh list. The
fsroute side is not emulated: it is the real handler on stub calls
(``fsroute.tools.simulate``), all gateways up.

Anything the emulation cannot evaluate (regex=any, variables it does not
know; time-of-day conditions unless ``--at`` gives the instant) makes the row
"?" rather than a guess.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction
from typing import Any, Collection, Dict, List, Mapping, Match, NamedTuple, Optional, Sequence, Tuple

from fsroute.core.acl import Acl, parse_network
from .importer import translate_acls
from .varsxml import read_vars, resolve
from fsroute.core.fsvalues import switch_true
from fsroute.core.model import Route
from fsroute.core.timespec import ATTRIBUTES, SpecError, read_at, read_clock, spec_from_attributes, zone_named
from .legacy import (ACL_NODE_ATTRS, CAPTURE_RE, Condition, Extension, Legacy, Report, classify_field,
                     closing_brace, compile_expression, distributor_nodes, find_list, parse_dialstring)
from fsroute.tools.simulate import Simulation

MAX_CALLS = 30000        # longest run compared call by call; longer cycles are compared by weights
MIN_CALLS = 300          # at least this many calls (in whole cycles) when a list or group is involved
MAX_UNKNOWN = 4          # unknowable conditions per extension tried both ways
_ENDING_APPS = ("hangup", "respond", "redirect", "deflect")

Variables = Mapping[str, str]                     # a call's channel variables
Queued = List[Tuple[str, str, Extension, int]]    # (app, data, extension, line) of queued actions
View = Dict[str, Any]                             # one side of a Row, as --json prints it


class DistributorCycle:
    """One mod_distributor list from a fresh load, picking exactly as its find_next() does.

    The list's target is the sum of the node weights; node i starts at
    target - w_i and is eligible while below target; each pick takes the
    first eligible node after the last one picked (wrapping around) and
    adds one; when no node is eligible the list resets. So a node of weight
    w gets w picks per cycle, in list order (1:2 gives a, b, b, a, b, b...).
    Exceptions (the `gwlist down` names) are skipped; with every node
    excepted it gives up after 1000 rounds and the API answers ``-err``.
    """

    def __init__(self, nodes: Sequence[Tuple[str, int]]) -> None:
        self.names = [name for name, _ in nodes]
        weights = [weight for _, weight in nodes]
        self.target = sum(weights)
        self.start = [self.target - w for w in weights]
        self.reset()

    def reset(self) -> None:
        self.current = list(self.start)
        self.last = -1

    def pick(self, exceptions: Collection[str] = ()) -> str:
        """The next node's name, or "-err" as the API answers when none can be picked."""
        for _ in range(1000):
            if self.last >= len(self.names):
                self.last = -1
            match: Optional[int] = None
            matches = 0
            for index, value in enumerate(self.current):
                if value < self.target:
                    matches += 1
                    if match is None and index > self.last:
                        match = index
            if match is not None:
                self.current[match] += 1
                self.last = match
                if self.names[match] in exceptions:
                    if matches == 1:
                        self.reset()
                    continue
                return self.names[match]
            if matches:
                self.last = -1
            else:
                self.reset()
        return "-err"


class CannotEmulate(Exception):
    """The old setup's choice depends on something the emulation cannot evaluate."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__("%s:%d: %s" % (file, line, message))


NO_EXTENSION = "no extension matches"


class OldOutcome(NamedTuple):
    kind: str                       # "bridge", "none" (no bridge at all), "elsewhere" (not a gateway), "unknown"
    detail: str                     # extension and place, or why not
    number: Optional[str] = None
    gateway: Optional[str] = None   # a fixed gateway
    nodes: Tuple[Tuple[str, int], ...] = ()   # (name, weight) of the distributor list, as mod_distributor
                                              # keeps them
    list_name: Optional[str] = None
    notes: Tuple[str, ...] = ()

    def picks(self, calls: int) -> List[Optional[str]]:
        """The gateways ``calls`` consecutive calls would be sent to, from a fresh distributor state."""
        if self.list_name is None:
            return [self.gateway] * calls
        cycle = DistributorCycle(self.nodes)
        return [cycle.pick() for _ in range(calls)]


# How the import's report says of a node it leaves out that FreeSWITCH reads it (core.acl.parse_network).
_READ_BY_THE_SWITCH = ("FreeSWITCH reads", "FreeSWITCH matches", "misreads")


class OldSetup:
    """The classic XML dialplan + mod_distributor + mod_acl, emulated for one call at a time."""

    def __init__(self, legacy: Legacy, at: Optional[float] = None) -> None:
        self.legacy = legacy
        self.at = at    # the instant time conditions are evaluated at (seconds); None: they are unknown
        reports: List[Report] = []
        specs = translate_acls(legacy, reports)
        self.acls = {name: Acl(name, spec.default_allow, [(allow, parse_network(cidr))
                                                          for allow, cidr, _, _ in spec.nodes])
                     for name, spec in specs.items()}
        self.partial_acls = {a.name for a in legacy.acl_lists
                             if any("domain" in n.attrs or set(n.attrs) - set(ACL_NODE_ATTRS) for n in a.nodes)}
        # lists FreeSWITCH has whose verdicts these do not give: left out whole, or with a node left out that
        # the switch reads (a /0 with address bits is one host to it, 0.0.0.0/32 every address, ...)
        read_by_the_switch = {(r.file, r.line) for r in reports if r.message.startswith("not translated")
                              and any(words in r.message for words in _READ_BY_THE_SWITCH)}
        self.inexact_acls = {a.name for a in legacy.acl_lists if a.name and a.name not in self.acls or any(
            (a.file, n.line) in read_by_the_switch for n in a.nodes)}

    def route(self, variables: Variables) -> OldOutcome:
        """An OldOutcome for a call with these channel variables."""
        try:
            return self._route(variables)
        except CannotEmulate as exc:
            return OldOutcome("unknown", "cannot emulate: %s" % exc)

    def _route(self, variables: Variables) -> OldOutcome:
        extensions = self._context(variables.get("context", ""))
        destination = variables.get("destination_number", "")
        start = 0
        for index, ext in enumerate(extensions):  # the hunt starts at an extension named like the number
            if ext.attrs.get("name") == destination:
                start = index
                break
        actions: Queued = []
        notes: List[str] = []
        for ext in extensions[start:]:
            if self._extension(ext, variables, actions, notes) and not switch_true(ext.attrs.get("continue")):
                break
        for app, data, ext, line in actions:
            where = "extension %r (%s:%d)" % (ext.name, ext.file, line)
            if app == "transfer" and not data.strip().startswith("sofia/gateway/"):
                return OldOutcome("none", "%s transfers to %r" % (where, data), notes=tuple(notes))
            if app in ("bridge", "transfer"):
                if app == "transfer":
                    notes.append("a transfer, taken as a bridge (as fsroute import does)")
                return self._dial(data, variables, where, ext, line, notes)
            if app in _ENDING_APPS:
                return OldOutcome("none", "%s runs %s %s" % (where, app, data), notes=tuple(notes))
        if actions:
            return OldOutcome("none", "no bridge (applications %s)" % ", ".join(a[0] for a in actions),
                              notes=tuple(notes))
        return OldOutcome("none", NO_EXTENSION, notes=tuple(notes))

    def _context(self, context: str) -> List[Extension]:
        extensions = self.legacy.extensions
        if any(e.context == context for e in extensions):
            return [e for e in extensions if e.context in (context, None)]
        # mod_dialplan_xml falls back to the context named "global"
        return [e for e in extensions if e.context in ("global", None)]

    def _extension(self, ext: Extension, variables: Variables, actions: Queued, notes: List[str]) -> bool:
        """parse_exten(): queue the actions, return whether the extension matched ("proceed").

        A condition the emulation cannot evaluate (time of day, regex=any,
        nested conditions, unknown expansions) is tried both ways; when the
        outcome differs, the call's routing cannot be known here.
        """
        unknown = [i for i, c in enumerate(ext.conditions) if self._unknowable(c)]
        if len(unknown) > MAX_UNKNOWN:
            raise CannotEmulate(ext.file, ext.conditions[unknown[0]].line, "extension %r: more than %d "
                                "conditions the emulation cannot evaluate" % (ext.name, MAX_UNKNOWN))
        outcomes: List[Tuple[bool, List[Tuple[str, str, int]], Queued, List[str]]] = []
        for truths in itertools.product((True, False), repeat=len(unknown)):
            queued: Queued = []
            local_notes: List[str] = []
            proceed = self._conditions(ext, variables, dict(zip(unknown, truths)), queued, local_notes)
            outcome = (proceed, [(app, data, line) for app, data, _, line in queued], queued, local_notes)
            if outcomes and outcome[:2] != outcomes[0][:2]:
                condition = ext.conditions[unknown[0]]
                raise CannotEmulate(ext.file, condition.line, "extension %r: the outcome depends on a condition "
                                    "the emulation cannot evaluate (%s)" % (ext.name, _describe(condition)))
            outcomes.append(outcome)
        proceed, _, queued, local_notes = outcomes[0]
        actions.extend(queued)
        notes.extend(n for n in local_notes if n not in notes)
        return proceed

    def _unknowable(self, condition: Condition) -> bool:
        if _regex_mode(condition) is not None:
            return not all(self._knowable(r.attrs.get("field"), r.attrs.get("expression"))
                           for r in condition.others)
        if "regex" in condition.attrs or condition.others:
            return True
        extra = set(condition.attrs) - {"field", "expression", "break", "require-nested"}
        if extra - (set(ATTRIBUTES) if self.at is not None else set()):
            return True
        return condition.field is not None and not self._knowable(condition.field, condition.expression)

    @staticmethod
    def _knowable(field: Optional[str], expression: Optional[str]) -> bool:
        return (field is not None and classify_field(field)[0] != "bad"
                and not isinstance(compile_expression(expression or ""), str))

    def _conditions(self, ext: Extension, variables: Variables, assumed: Dict[int, bool], actions: Queued,
                    notes: List[str]) -> bool:
        proceed = False
        for index, condition in enumerate(ext.conditions):
            brk = condition.break_mode
            found: Optional[Match[str]] = None
            mode = _regex_mode(condition)
            timed = self._time_match(ext, condition, variables)
            field = condition.field
            if mode is None and field is not None and self._knowable(field, condition.expression):
                # a nested or timed condition is still false when its own regex fails
                found = self._search(ext, field, condition.expression, condition.line, variables, notes)
                holds = found is not None and assumed.get(index, True)
            elif index in assumed:
                holds = assumed[index]
            elif mode is not None:
                hits = sum(1 for r in condition.others if self._search(
                    ext, r.attrs["field"], r.attrs.get("expression"), r.line, variables, notes))
                holds = {"all": hits == len(condition.others), "any": hits > 0, "xor": hits == 1}[mode]
            else:
                holds = True if timed is None else timed
            proceed = holds
            if not holds:
                # parse_exten: a time match clears anti_action, and a field's regex then decides alone
                for anti in () if timed and condition.field is not None else condition.anti_actions:
                    actions.append((anti.app, anti.data, ext, anti.line))
                    proceed = True
                if brk in ("on-false", "always"):
                    break
                continue
            substitute = (mode is not None or (index in assumed and found is None)
                          or (condition.field is not None and "(" in (condition.expression or "")))
            for action in condition.actions:
                data = action.data
                if substitute:
                    if found is None:
                        if CAPTURE_RE.search(data):
                            raise CannotEmulate(ext.file, action.line, "extension %r: %s takes captures the "
                                                "emulation cannot tell (regex=any|all|xor or an unknown "
                                                "condition)" % (ext.name, action.app))
                    else:
                        data = _substitute(data, found)
                actions.append((action.app, data, ext, action.line))
            if brk in ("on-true", "always"):
                break
        return proceed

    def _time_match(self, ext: Extension, condition: Condition, variables: Variables) -> Optional[bool]:
        """switch_xml_std_datetime_check at ``self.at``: None when the condition has no time attribute.

        The attributes are read in the channel's ``timezone`` (an IANA name), else the local zone.
        """
        attrs = {a: v for a, v in condition.attrs.items() if a in ATTRIBUTES}
        if not attrs or self.at is None:
            return None
        try:
            if variables.get("tod_tz_offset"):
                raise SpecError("tod_tz_offset is set; only a timezone name can be emulated")
            zone = zone_named(variables["timezone"]) if variables.get("timezone") else None
            spec = spec_from_attributes(attrs, zone)
        except SpecError as exc:
            raise CannotEmulate(ext.file, condition.line, "extension %r: %s" % (ext.name, exc))
        return spec.holds(read_clock(self.at, spec.zone))

    def _search(self, ext: Extension, field: str, expression: Optional[str], line: int, variables: Variables,
                notes: List[str]) -> Optional[Match[str]]:
        """The match of ``expression`` on the value of ``field`` (None when it does not match)."""
        regex = compile_expression(expression or "")
        if isinstance(regex, str):  # not reached: only knowable conditions are searched
            raise CannotEmulate(ext.file, line, regex)
        return regex.search(self._value(ext, field, line, variables, notes))

    def _value(self, ext: Extension, field: str, line: int, variables: Variables, notes: List[str]) -> str:
        kind, value, address_variable = classify_field(field)
        if kind == "var":
            return variables.get(value) or ""
        if kind == "acl":
            list_name = value
            acl = self.acls.get(list_name)
            if list_name in self.inexact_acls:
                raise CannotEmulate(ext.file, line, "acl list %r is read by FreeSWITCH as the import could not "
                                    "translate it (see its report)" % list_name)
            if acl is None and (list_name.endswith(".auto") or "/" in list_name):
                raise CannotEmulate(ext.file, line, "acl %r: a list FreeSWITCH builds itself, or CIDRs inline, "
                                    "is not emulated" % list_name)
            if acl is None:
                notes.append("acl list %r unknown: FreeSWITCH answers false" % list_name)
                return "false"
            if list_name in self.partial_acls:
                notes.append("acl list %r has domain=/other nodes, evaluated without them" % list_name)
            return "true" if acl.allows(variables.get(address_variable or "") or "") else "false"
        raise CannotEmulate(ext.file, line, value)

    def _dial(self, data: str, variables: Variables, where: str, ext: Extension, line: int,
              notes: List[str]) -> OldOutcome:
        data, dial_notes = _first_endpoint(data)
        notes = list(notes) + dial_notes
        target = parse_dialstring(data)
        if isinstance(target, str):
            if "sofia/gateway/" in data:
                raise CannotEmulate(ext.file, line, target)
            return OldOutcome("elsewhere", "%s bridges to %s, not to a gateway" % (where, data.strip()),
                              notes=tuple(notes))
        number = _expand_variables(target.number, variables, ext, line)
        if target.gateway is not None or target.distribution is None:
            gateway = target.gateway
            if gateway is not None and gateway.startswith("${"):  # a variable gateway: the call's value
                gateway = _expand_variables(gateway, variables, ext, line)
            return OldOutcome("bridge", where, number, gateway, notes=tuple(notes))
        dist_list = find_list(self.legacy, target.distribution.list_name)
        if dist_list is None:
            return OldOutcome("none", "%s: distributor list %r unknown: -err, the call fails with "
                              "INVALID_GATEWAY" % (where, target.distribution.list_name), notes=tuple(notes))
        nodes = tuple((name, weight) for name, weight, _ in distributor_nodes(dist_list))
        if not nodes:
            return OldOutcome("none", "%s: distributor list %r has no usable node: -err" % (where, dist_list.name),
                              notes=tuple(notes))
        return OldOutcome("bridge", where, number, None, nodes, dist_list.name, tuple(notes))


def _first_endpoint(data: str) -> Tuple[str, List[str]]:
    """(dial string, notes): the endpoint a bridge tries first when every gateway is up.

    ``a|b`` tries a first (b only when a fails); a leading {vars} block
    sets channel variables and does not change where the call goes. A
    ``,`` list rings at once and is left to parse_dialstring to refuse.
    """
    notes: List[str] = []
    text = data.strip()
    if text.startswith("{"):
        end = closing_brace(text, 0)
        if end > 0:
            notes.append("channel variables %s ignored" % text[:end])
            text = text[end:].lstrip()
    parts: List[str] = []
    depth = start = 0
    for i, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if len(parts) > 1:
        notes.append("first of the failover list %s" % " | ".join(p.strip() for p in parts))
    return parts[0].strip(), notes


def _regex_mode(condition: Condition) -> Optional[str]:
    """"all", "any" or "xor" for a condition made of <regex> children only, else None."""
    mode = (condition.attrs.get("regex") or "").strip().lower()
    if mode in ("all", "any", "xor") and condition.others and all(
            o.tag == "regex" and "field" in o.attrs for o in condition.others):
        return mode
    return None


def _describe(condition: Condition) -> str:
    attrs = " ".join('%s="%s"' % item for item in sorted(condition.attrs.items()))
    return ("<condition %s>" % attrs) if attrs else "<condition>"


def _substitute(data: str, found: Match[str]) -> str:
    """switch_perform_substitution(): $N and ${N} become the capture (empty when absent)."""
    def capture(m: Match[str]) -> str:
        index = int(m.group(1) or m.group(2))
        return (found.group(index) or "") if index <= found.re.groups else ""
    return CAPTURE_RE.sub(capture, data)


def _expand_variables(text: str, variables: Variables, ext: Extension, line: int) -> str:
    out: List[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            end = text.find("}", i)
            name = text[i + 2:end] if end > 0 else ""
            if not name or not name.replace("_", "a").isalnum():
                raise CannotEmulate(ext.file, line, "the number %r expands %s" % (text, text[i:]))
            out.append(variables.get(name) or "")
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# -- the comparison ---------------------------------------------------------------------------

class Row(NamedTuple):
    dest: str
    src_ip: Optional[str]
    verdict: str          # "match", "DIFFER" or "?"
    why: str
    old: View
    new: View
    at: Optional[str] = None  # the instant both sides were routed at (--at), as timespec.read_at shows it


def _calls_for(old_cycle: int, new_cycle: int) -> Optional[int]:
    """Calls compared: whole cycles of both sides (at least MIN_CALLS), or None when too many."""
    both = old_cycle * new_cycle // math.gcd(old_cycle, new_cycle)
    if both > MAX_CALLS:
        return None
    return both * max(1, MIN_CALLS // both) if both > 1 else 1


def compare(rules_path: str, legacy: Legacy, dests: Sequence[str], src_ips: Sequence[Optional[str]] = (None,),
            caller: Optional[str] = None, context: str = "public",
            variables: Optional[Mapping[str, str]] = None, kept: Optional[Legacy] = None,
            at: Optional[str] = None, vars_file: Optional[str] = None) -> List[Row]:
    """One Row per (destination, source address), both sides at ``at`` (timespec.read_at, in the rules'
    defaults.tz) or now.
    Raises RulesError for a bad rules file.

    ``kept``: XML extensions that stay ahead of the fsroute extension in the new setup (the hybrid
    the docs recommend): a call one of them takes never reaches fsroute.
    ``vars_file``: vars.xml; its X-PRE-PROCESS set lines resolve $${name} in the XML (as ``import`` does)
    and are global variables on both sides, read by ${name} when the call does not set it.
    """
    globals_ = read_vars(vars_file) if vars_file is not None else {}
    if vars_file is not None:
        legacy = resolve(legacy, globals_, vars_file)
        kept = resolve(kept, globals_, vars_file) if kept is not None else None
    simulation = Simulation(rules_path)
    ruleset = simulation.rules
    routes = {route.name: route for route in ruleset.routes}
    instant, shown = read_at(at, ruleset.defaults.tz) if at else (None, None)
    old_setup = OldSetup(legacy, instant)
    kept_setup = OldSetup(kept, instant) if kept is not None else None
    extra = dict(variables or {})
    extra["context"] = context
    rows: List[Row] = []
    for dest in dests:
        for src_ip in src_ips or (None,):
            facts = dict(globals_)  # a channel variable, else the global one (switch_channel_get_variable)
            facts.update({"destination_number": dest, "network_addr": src_ip or "", "sip_network_ip": src_ip or "",
                          "caller_id_number": caller or ""})
            facts.update(extra)
            old = old_setup.route(facts)
            front = kept_setup.route(facts) if kept_setup is not None else None
            if front is not None and front.detail != NO_EXTENSION:
                rows.append(_kept_row(dest, src_ip, old, front))
                continue
            new = simulation.run(dest, src_ip, caller, extra, at=at, global_variables=globals_)
            rows.append(_row(dest, src_ip, old, new, routes, simulation, caller, extra, at, globals_))
    return [row._replace(at=shown) for row in rows]


def _row(dest: str, src_ip: Optional[str], old: OldOutcome, new: Dict[str, Any], routes: Dict[str, Route],
         simulation: Simulation, caller: Optional[str], extra: Dict[str, str], at: Optional[str],
         globals_: Mapping[str, str]) -> Row:
    ruleset = simulation.rules
    old_view = _old_view(old)
    new_view: View = {"result": new["result"], "route": new["route"], "number": new["number"],
                      "hangup_cause": new["hangup_cause"]}
    route = routes.get(new["route"]) if new["route"] else None
    candidates: List[Optional[str]] = []
    new_weights: Dict[Optional[str], int] = {}
    if new["result"] == "bridged" and route is not None:
        if route.group is not None:
            members = ruleset.groups[route.group].members
            candidates = [m.name for m in members]
            new_weights = {m.name: m.weight for m in members}
            new_view["group"] = route.group
        else:  # one gateway: named, or taken from the call's variable (the one dialled)
            gateway = route.gateway or (new["attempts"][0]["gateway"] if new["attempts"] else None)
            candidates = [gateway]
            new_weights = {gateway: 1}
        new_view["dialstring"] = new["attempts"][0]["dialstring"] if new["attempts"] else None
        new_view["candidates"] = candidates
    if old.kind == "unknown":
        return Row(dest, src_ip, "?", old.detail, old_view, new_view)
    if old.kind == "elsewhere":
        return Row(dest, src_ip, "DIFFER", "the old setup bridges somewhere other than a gateway",
                   old_view, new_view)
    if old.kind == "none":
        if new["result"] != "bridged":
            return Row(dest, src_ip, "match", "neither bridges", old_view, new_view)
        return Row(dest, src_ip, "DIFFER", "the old setup does not bridge, fsroute does", old_view, new_view)
    if new["result"] != "bridged":
        return Row(dest, src_ip, "DIFFER", "the old setup bridges, fsroute does not (%s)" % new["result"],
                   old_view, new_view)
    old_weights: Counter[Optional[str]] = Counter()
    for name, weight in (old.nodes or ((old.gateway, 1),)):
        old_weights[name] += weight
    calls = _calls_for(sum(old_weights.values()), sum(new_weights.values()))
    if calls is None:
        old_counts, new_counts = dict(old_weights), dict(new_weights)
        same_split = _shares(old_counts) == _shares(new_counts)
        old_view["split"] = new_view["split"] = "by weight"
    else:
        old_counts = dict(Counter(old.picks(calls)))
        new_counts = simulation.run(dest, src_ip, caller, extra, calls=calls, at=at,
                                    global_variables=globals_)["gateways"] if calls > 1 \
            else {candidates[0]: 1}
        same_split = old_counts == new_counts
        old_view["calls"] = new_view["calls"] = calls
    old_view["counts"] = dict(sorted(old_counts.items()))
    new_view["counts"] = dict(sorted(new_counts.items()))
    first = old.picks(1)[0]
    # what the first gateway got dialled: the route's number in that gateway's format
    dialled = new["attempts"][0]["dialstring"].rsplit("/", 1)[1] if new["attempts"] else new["number"]
    if old.number != dialled:
        return Row(dest, src_ip, "DIFFER", "number %s vs %s" % (old.number, dialled), old_view, new_view)
    if first not in candidates:
        return Row(dest, src_ip, "DIFFER", "the old pick %s is not among fsroute's gateways" % first,
                   old_view, new_view)
    if not same_split:
        return Row(dest, src_ip, "DIFFER", "the split over the gateways differs", old_view, new_view)
    if len(candidates) == 1 and old.list_name is None:
        return Row(dest, src_ip, "match", "same dial string", old_view, new_view)
    return Row(dest, src_ip, "match", "same number; the old pick is one of fsroute's gateways; same split",
               old_view, new_view)


def _old_view(old: OldOutcome) -> View:
    view: View = {"kind": old.kind, "detail": old.detail, "notes": list(old.notes)}
    if old.kind == "bridge":
        view.update(number=old.number, list=old.list_name)
        view["dialstring"] = "sofia/gateway/%s/%s" % (old.picks(1)[0], old.number)
    return view


def _kept_row(dest: str, src_ip: Optional[str], old: OldOutcome, front: OldOutcome) -> Row:
    """A call a kept XML extension takes before fsroute sees it: both sides are XML then."""
    new_view: View = {"result": "xml", "route": None, "number": front.number, "hangup_cause": None,
                      "xml": _old_view(front)}
    if "unknown" in (old.kind, front.kind):
        return Row(dest, src_ip, "?", old.detail if old.kind == "unknown" else front.detail, _old_view(old), new_view)
    if old.kind == front.kind == "none":
        return Row(dest, src_ip, "match", "neither bridges (a kept XML extension takes the call)",
                   _old_view(old), new_view)
    same = (old.kind, old.number, old.gateway, old.list_name, old.nodes) == \
        (front.kind, front.number, front.gateway, front.list_name, front.nodes)
    if same and old.kind == "bridge":
        return Row(dest, src_ip, "match", "a kept XML extension dials the same", _old_view(old), new_view)
    return Row(dest, src_ip, "DIFFER", "a kept XML extension takes the call ahead of fsroute, differently",
               _old_view(old), new_view)


def _shares(counts: Mapping[Optional[str], int]) -> Dict[Optional[str], Fraction]:
    total = sum(counts.values())
    return {name: Fraction(count, total) for name, count in counts.items()}


LEGEND = """\
old     = the XML dialplan's hunt (first extension whose conditions hold; break, anti-actions
          and continue honoured) with mod_acl's verdicts and mod_distributor's picks from a
          freshly loaded list, emulated from the XML files
fsroute = the real fsroute handler on stub calls (as `fsroute simulate`); all gateways up;
          with --keep-xml, the kept XML extensions first (emulated as above) and fsroute after them
match   = both dial the same number through the same gateway; for a distributor list or a
          group: the old first pick is one of fsroute's gateways and over N calls (whole
          weight cycles of both sides) every gateway gets the same count -- the order within
          a cycle may differ (mod_distributor: a,b,b; fsroute's smooth round robin: b,a,b).
          Rows where neither side bridges match too. "?" = the old choice cannot be emulated."""


def format_rows(rows: Sequence[Row], rules_path: str) -> str:
    """The comparison as text for a terminal."""
    at = " at %s" % rows[0].at if rows and rows[0].at else ""
    out = ["fsroute compare: %s against the XML configuration%s" % (rules_path, at), LEGEND, ""]
    for row in rows:
        out.append("%s%s: %s -- %s" % (row.dest, " from %s" % row.src_ip if row.src_ip else "",
                                       row.verdict, row.why))
        out.append("  old:     %s" % _old_line(row.old))
        out.append("  fsroute: %s" % _new_line(row.new))
    matched = sum(1 for r in rows if r.verdict == "match")
    out.append("")
    differ = sum(1 for r in rows if r.verdict == "DIFFER")
    out.append("%d row(s): %d match, %d DIFFER, %d ?" % (len(rows), matched, differ, len(rows) - matched - differ))
    return "\n".join(out)


def _split(view: View) -> str:
    if "counts" not in view:
        return ""
    counts = ", ".join("%s %d" % item for item in view["counts"].items())
    if "calls" in view and view["calls"] > 1:
        return "; %d calls: %s" % (view["calls"], counts)
    if view.get("split") == "by weight":
        return "; weights: %s" % counts
    return ""


def _old_line(view: View) -> str:
    if view["kind"] != "bridge":
        line = view["detail"]
    else:
        line = "%s -> %s" % (view["detail"], view["dialstring"])
        if view.get("list"):
            line += " (distributor list %s)" % view["list"]
        line += _split(view)
    for note in view["notes"]:
        line += " [%s]" % note
    return line


def _new_line(view: View) -> str:
    if view["result"] == "xml":
        return "kept XML: " + _old_line(view["xml"])
    if view["result"] != "bridged":
        return "%s%s (hangup %s)" % (view["result"], " by route %r" % view["route"] if view["route"] else "",
                                     view["hangup_cause"] or "-")
    line = "route %r -> %s" % (view["route"], view.get("dialstring"))
    if view.get("group"):
        line += " (group %s: %s)" % (view["group"], ", ".join(view["candidates"]))
    return line + _split(view)
