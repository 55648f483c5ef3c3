"""The routing decision for one call: no I/O, no FreeSWITCH.

``decide`` reads the call's variables through a getter, so it asks only for
what the rules need; whether a gateway is up comes from a callable. The
result is a Decision: the outcome (None when there are gateways to bridge
to), through which route, which number and which gateways in order, and,
only when asked, the reasons met on the way (reasons.Reasons): the one walk
both routes calls and explains them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from . import lcr, margin, quality, tablerows
from .decks import Deck, rate_text
from .dialstring import UnsafeValue
from .legs import CallerIdRefused, Dial, Pairs, dial_for, plain_dial, route_variables
from .model import NAME_RE, NO_DIALLING, NUMBER_RE, Group, HasDeck, Member, Outcome, Route, RuleSet, fill
from .reasons import Reasons

if TYPE_CHECKING:
    from .calendars import Moment
    from .selection import Selector

# A call's channel variables: name -> value, or None when unset.
Getter = Callable[[str], Optional[str]]


class GatewayHealth(Protocol):
    """What the router may ask about a gateway besides up/down (runtime.generation.Generation is one)."""
    any_breaker: bool

    def benched(self, name: str) -> bool: ...

    def last_resort(self, name: str) -> bool: ...

    def calls(self, name: str) -> int: ...


# A carrier's (or a sell deck's) rate deck in force, or None while none is loaded.
DeckOf = Callable[[HasDeck], Optional[Deck]]
from .text import one_line

# Longer destinations are refused before any regex runs: no real number is
# this long, and it bounds what a hostile caller can make a regex chew on.
MAX_DESTINATION_LEN = 128
# Other variables longer than this never satisfy a match condition.
MAX_VALUE_LEN = 256
# No number holds control characters; a regex's $ would match before a
# trailing newline and let "1001\n" through as if it were "1001". Nor
# non-ASCII ones: FreeSWITCH's PCRE2 matches their UTF-8 bytes where Python's
# re matches characters, so '.' and counts would split them differently
# (tests/integration/test_regex_differential.py).
_CONTROL_RE = re.compile(r"[^\x20-\x7e]")
# The caller ID a bridge passes on: sofia URL-decodes a From user's or display name's %0D%0A into
# it and writes it raw into the outbound INVITE's From and Remote-Party-ID (seen in the real switch),
# so a caller could inject lines into what the carrier receives. Names may be non-ASCII; neither may
# hold a control character.
_CALLER_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CALLER_ID_VARIABLES = ("caller_id_number", "caller_id_name")


class Decision(NamedTuple):
    outcome: Optional[Outcome]    # None: bridge to ``gateways``
    route: Optional[Route] = None
    number: Optional[str] = None
    gateways: Tuple[str, ...] = ()
    detail: str = ""              # why, in a few words, for the log line
    benched: Tuple[str, ...] = ()  # up gateways left out by their breaker (or tried only as a last resort)
    dials: Tuple[Dial, ...] = ()  # one per attempt: its gateway, dial string and variables (lcr: carrier, rate)
    cause: Optional[str] = None   # a blocked call's cause
    reasons: Tuple[str, ...] = ()  # decide(..., explain=True) only: why, in lines for people (reasons.py)
    demoted: Tuple[Tuple[str, str, str], ...] = ()  # (gateway, quality level, why): moved last or left out
    lrn: Optional[str] = None     # the routing number lookup: found (or the call brought), which routed it
    set: Pairs = ()               # a route (or table row) that hangs up, transfers or continues: its set: ...
    export: Pairs = ()            # ... and export: variables, put on the channel before it does


def source_address(get: Getter) -> Optional[str]:
    """Where the call came from: network_addr, else sip_network_ip (never From/Contact)."""
    return get("network_addr") or get("sip_network_ip")


def find_route(rules: RuleSet, get: Getter, destination: str, source: Optional[str], moment: Optional[Moment] = None,
               *, reasons: Optional[Reasons] = None, table_of: Optional[tablerows.TableOf] = None
               ) -> Tuple[Optional[Route], Optional[re.Match[str]], Optional[Route]]:
    """(route, match, refused_by_acl) for the first route whose conditions and acl hold (and, for a
    ``table:`` route, whose table has a row for its number: the route comes back as the row makes it).

    ``moment`` (calendars.Moment) is the call's instant; routes with time conditions need it.
    ``reasons`` (when explaining) hears why each route looked at refused the call, and which took it.
    ``table_of(name)``: a loaded table (tablerows.BoundTable) or None.
    """
    refused = None
    acls = rules.acls
    if reasons is not None:
        reasons.walk(destination)
    for route in rules.index.candidates(destination):
        match = None
        if route.dest is not None:
            match = route.dest.search(destination)
            if match is None:
                if reasons is not None:
                    reasons.mismatch(route, destination, route.dest)
                continue
        held = True
        for name, regex in route.conditions:
            value = get(name) or ""  # an unset variable matches as "", as in the XML dialplan
            if len(value) > MAX_VALUE_LEN or regex.search(value) is None:
                held = False
                break
        if not held:
            if reasons is not None:
                reasons.condition(route, name, value, regex, MAX_VALUE_LEN)
            continue
        if route.timing is not None:
            if moment is None:
                raise ValueError("route %s has time conditions: the call's instant (now=) is needed" % route.name)
            if not moment.allows(route):
                if reasons is not None:
                    reasons.untimely(route, moment)
                continue
        if route.acl is not None and not acls[route.acl].allows(source):
            if reasons is not None:
                reasons.refused(route, acls[route.acl], source)
            refused = refused or route
            continue
        action = None
        if route.table is not None:
            looked_up = route.rewrite(match, destination, get)
            bound = table_of(route.table) if table_of is not None else None
            row, action = bound.find(looked_up, _table_instant(bound, moment)) if bound is not None else (-1, None)
            if reasons is not None:
                reasons.table(route, bound, looked_up, row, action)
            if action is None:
                continue
        if reasons is not None:
            reasons.took(route)
        if action is not None:
            return tablerows.routed(route, action, looked_up), match, None
        return route, match, None
    return None, None, refused


def decide(rules: RuleSet, get: Getter, is_up: Callable[[str], bool], selector: Selector,
           now: Optional[float] = None, health: Optional[GatewayHealth] = None, *,
           deck_of: Optional[DeckOf] = None, explain: bool = False,
           table_of: Optional[tablerows.TableOf] = None) -> Decision:
    """Decide one call; with ``explain``, the Decision's ``reasons`` say why, gathered on the same walk.

    ``get(name)`` returns a channel variable or None; ``is_up(gateway)`` says
    whether a gateway may be tried; ``selector`` is the selection.Selector
    holding round-robin state; ``now`` the call's instant in seconds since the
    epoch (time conditions, and the rates of least-cost routes, are read at it;
    None: an untimed call, which a timed or least-cost route refuses);
    ``health`` (optional) has ``any_breaker`` and answers ``benched(name)``,
    ``last_resort(name)`` and ``calls(name)`` (active calls, for least_calls), and when it has them
    ``judges_quality`` (True: it also answers ``quality_preview`` before a group's pick and ``quality_judge``
    after it), ``measured_acd`` (an lcr route's call length) and ``account_sell_deck`` (runtime.generation);
    ``deck_of(carrier)`` the loaded rate deck of a carrier (or None). Templates'
    ${name} are filled in from ``get`` (in FreeSWITCH a channel variable that is
    not set reads as the global one). ``table_of(name)`` the loaded number table
    of a ``table:`` route (or None: the route has no row for any number).
    """
    reasons = Reasons(rules) if explain else None
    decision = _refused_at_ingress(rules, get, reasons)  # before the lookup: a refused call costs no dip
    lrn = None
    if decision is None:
        lrn = _routing_number(rules, get, table_of, now, reasons) if rules.lookup is not None else None
        decision = _decide(rules, get, is_up, selector, now, health, deck_of, reasons, table_of, lrn)
    if lrn is not None:
        decision = decision._replace(lrn=lrn)
    if reasons is not None:
        decision = decision._replace(reasons=reasons.lines())
    if not (decision.dials and getattr(health, "judges_quality", False)):
        return decision
    judge = health.quality_judge(decision.route, decision.number)  # type: ignore[union-attr]
    return _by_quality(decision, judge, explain) if judge is not None else decision


def _refused_at_ingress(rules: RuleSet, get: Getter, reasons: Optional[Reasons]) -> Optional[Decision]:
    """The decision to deny a call whose source the ingress acl refuses (None: admitted, or no ingress acl)."""
    if rules.ingress_acl is None:
        return None
    source = source_address(get)
    ingress = rules.acls[rules.ingress_acl]
    allowed = ingress.allows(source)
    if reasons is not None:
        reasons.ingress(ingress, source, allowed)
    if allowed:
        return None
    return Decision(Outcome.DENIED, detail="source %s refused by ingress acl %s" % (one_line(source), rules.ingress_acl))


def _routing_number(rules: RuleSet, get: Getter, table_of: Optional[tablerows.TableOf], now: Optional[float],
                    reasons: Optional[Reasons]) -> Optional[str]:
    """lookup: the routing number (LRN) of the call's destination: the one it came with in the lookup's
    variable (dipped upstream), else its row's number in the lookup's table; None when neither."""
    lookup = rules.lookup
    assert lookup is not None
    brought = get(lookup.variable)
    destination = get("destination_number") or ""
    if brought:
        lrn: Optional[str] = brought if NUMBER_RE.match(brought) else None
        if reasons is not None:
            reasons.dipped(lookup.table, destination, lrn, "the call brings %s=%s" % (lookup.variable,
                                                                                      one_line(brought)))
        return lrn
    bound = table_of(lookup.table) if table_of is not None else None
    row, action = (-1, None)
    if bound is not None and len(destination) <= MAX_DESTINATION_LEN:
        moment = rules.moments.at(now) if now is not None else None
        row, action = bound.find(destination, _table_instant(bound, moment))
    lrn = None
    if action is not None and action.number is not None:
        lrn = tablerows.number_of(action, destination)
    if reasons is not None:
        reasons.dipped(lookup.table, destination, lrn, "table '%s' %s" % (
            lookup.table, "is not loaded" if bound is None else "has no row" if action is None
            else "row %s" % bound.table.key(row)))
    return lrn


def _by_quality(decision: Decision, judge: quality.Judge, explain: bool) -> Decision:
    """The decision's attempts in quality order (core.quality.arrange), by the verdicts of ``judge``."""
    dials, moved = quality.arrange(decision.dials, _gateway_of, judge)
    if not moved:
        return decision
    demoted = tuple((name, v.level, v.why) for name, v in moved.items())
    lines = decision.reasons + tuple(
        "quality: gateway %s %s: %s" % (name, _QUALITY_SAYS[level], why) for name, level, why in demoted) \
        if explain else decision.reasons
    return decision._replace(dials=tuple(dials), gateways=tuple(d.gateway for d in dials), demoted=demoted,
                             reasons=lines)


_QUALITY_SAYS = {quality.WARN: "moved to the end", quality.CRITICAL: "left out",
                 quality.PROBE: "kept for its probe call"}


def _gateway_of(dial: Dial) -> str:
    return dial.gateway


def _decide(rules: RuleSet, get: Getter, is_up: Callable[[str], bool], selector: Selector, now: Optional[float],
            health: Optional[GatewayHealth], deck_of: Optional[DeckOf], reasons: Optional[Reasons],
            table_of: Optional[tablerows.TableOf] = None, lrn: Optional[str] = None) -> Decision:
    source = source_address(get) if rules.acls else None  # without ACLs no rule looks at it
    destination = get("destination_number") or ""
    if len(destination) > MAX_DESTINATION_LEN:
        if reasons is not None:
            reasons.refused_destination(destination, "longer than %d characters" % MAX_DESTINATION_LEN)
        return Decision(Outcome.INVALID_NUMBER, detail="destination longer than %d characters" % MAX_DESTINATION_LEN)
    if _CONTROL_RE.search(destination):
        if reasons is not None:
            reasons.refused_destination(destination, "it holds control or non-ASCII characters")
        return Decision(Outcome.INVALID_NUMBER, detail="control or non-ASCII characters in destination %s"
                        % one_line(destination))
    moment = rules.moments.at(now) if now is not None else None
    dialled = destination
    if lrn is not None:  # routed and rated on the routing number; the dial string may keep the dialled one
        destination = lrn
    route, match, refused = find_route(rules, get, destination, source, moment, reasons=reasons, table_of=table_of)
    if route is None:
        if refused is not None:
            return Decision(Outcome.DENIED, refused, detail="source %s refused by acl %s of route %s"
                            % (one_line(source), refused.acl, refused.name))
        return Decision(Outcome.NO_ROUTE, detail="no route matches")
    if route.hangup is not None:
        return _with_variables(Decision(Outcome.BLOCKED, route, detail="the route hangs up with %s" % route.hangup,
                                        cause=route.hangup), match, get)
    if route.continues:
        return _with_variables(Decision(Outcome.CONTINUED, route, detail="the route leaves the call to the dialplan"),
                               match, get)
    if route.transfer is not None:
        extension = fill(route.transfer.extension, match, get)
        if not NUMBER_RE.match(extension):
            return Decision(Outcome.INVALID_NUMBER, route, detail="extension %s is not dialable" % one_line(extension))
        return _with_variables(Decision(Outcome.TRANSFERRED, route, extension,
                                        detail="transfer to %s" % route.transfer.data(extension)), match, get)
    number = route.rewrite(match, destination, get)
    if not NUMBER_RE.match(number):
        return Decision(Outcome.INVALID_NUMBER, route, detail="number %s is not dialable" % one_line(number))
    rated = number
    if lrn is not None and rules.lookup is not None and rules.lookup.dial == "dialled":
        # the dialled number through the route's own rewrite when its regex takes it too, else as dialled
        again = route.dest.search(dialled) if route.dest is not None else None
        number = route.rewrite(again, dialled, get) if again is not None or route.dest is None else dialled
        if not NUMBER_RE.match(number):
            return Decision(Outcome.INVALID_NUMBER, route, detail="number %s is not dialable" % one_line(number))
    for name in _CALLER_ID_VARIABLES:
        caller = get(name)
        if caller and not caller.isprintable() and _CALLER_CONTROL_RE.search(caller):  # printable: the common case
            if reasons is not None:
                reasons.refused_caller(name, caller)
            return Decision(Outcome.INVALID_NUMBER, route, detail="control characters in %s %s"
                            % (name, one_line(caller)))
    if route.lcr is not None:
        if now is None:
            raise ValueError("route %s is a least-cost route: the call's instant (now=) is needed" % route.name)
        return _least_cost(rules, route, rated, match, get, is_up, selector, deck_of or _no_decks, now, health,
                           reasons, number)
    gateway = route.gateway
    if route.gateway_var is not None:
        gateway = get(route.gateway_var) or ""
        why = _refuse_gateway(rules, gateway)
        if why:
            return Decision(Outcome.INVALID_NUMBER, route, number, detail="gateway ${%s} %s" % (route.gateway_var, why))
    gateways, benched = _gateways(rules, route, gateway, get, destination, number, is_up, selector, health)
    if not gateways:
        if reasons is not None:
            reasons.unusable(_names(rules, gateway, route.group), benched)
        return Decision(Outcome.ALL_DOWN, route, number, detail="every gateway of the route is down%s"
                        % (" or benched" if benched else ""), benched=tuple(benched))
    if route.dialling is NO_DIALLING and not rules.gateway_specs:  # no attempt has anything to add (legs)
        return Decision(None, route, number, tuple(gateways), benched=tuple(benched),
                        dials=tuple([plain_dial(name, number) for name in gateways]))
    return _dialled(rules, route, number, [Dial(name, number, "", (), ()) for name in gateways], match, get,
                    tuple(benched))


def _with_variables(decision: Decision, match: Optional[re.Match[str]], get: Getter) -> Decision:
    """``decision`` (a route's hangup, transfer or continue) with the route's set:/export: values, as a
    bridge's attempt gets them; a value that cannot be set safely makes the number invalid, as it does
    for a bridge."""
    route = decision.route
    assert route is not None
    if not (route.dialling.set or route.dialling.export):
        return decision
    try:
        set_, export = route_variables(route, match, get)
    except UnsafeValue as exc:
        return Decision(Outcome.INVALID_NUMBER, route, decision.number, detail=one_line(str(exc)))
    return decision._replace(set=set_, export=export)


def _dialled(rules: RuleSet, route: Route, number: str, wanted: Sequence[Dial], match: Optional[re.Match[str]],
             get: Getter, benched: Tuple[str, ...] = ()) -> Decision:
    """The decision to bridge through ``wanted`` (gateway and number, lcr details), each attempt built
    by legs.dial_for: the gateway's number format, leg variables, caller ID. A caller-ID rule that
    refuses every attempt blocks the call; a value that cannot be dialled makes the number invalid."""
    dials: List[Dial] = []
    refusal: Optional[CallerIdRefused] = None
    try:
        for want in wanted:
            try:
                dial = dial_for(rules, route, want.gateway, want.number, match, get)
            except CallerIdRefused as exc:
                refusal = refusal or exc
                continue
            if want.carrier is not None:
                dial = dial._replace(carrier=want.carrier, prefix=want.prefix, rate=want.rate, price=want.price)
            dials.append(dial)
    except UnsafeValue as exc:
        return Decision(Outcome.INVALID_NUMBER, route, number, detail=one_line(str(exc)), benched=benched)
    if not dials:
        assert refusal is not None
        return Decision(Outcome.BLOCKED, route, number, detail=one_line(str(refusal)), cause=refusal.cause,
                        benched=benched)
    return Decision(None, route, number, tuple(d.gateway for d in dials), benched=benched, dials=tuple(dials))


def _refuse_gateway(rules: RuleSet, name: str) -> str:
    """Why a gateway named by a call's variable cannot be dialled ("" when it can)."""
    if not NAME_RE.match(name):
        return "%s is not a gateway name" % one_line(repr(name), 40)
    if rules.defaults.strict_gateways and name not in rules.gateway_specs:
        return "%s is not declared under gateways (strict_gateways)" % name
    return ""


def _gateways(rules: RuleSet, route: Route, gateway: Optional[str], get: Getter, destination: str, number: str,
              is_up: Callable[[str], bool], selector: Selector, health: Optional[GatewayHealth]
              ) -> Tuple[List[str], List[str]]:
    """(gateway names in order, names left out as benched); ``gateway``: the route's own, or its variable's;
    ``number``: the one dialled (what quality judges)."""
    group: Optional[Group]
    members: Sequence[Member]
    if gateway is not None:
        group, members = None, (Member(gateway, 1),)
    else:
        assert route.group is not None  # a route names a gateway or a group (the grammar)
        group = rules.groups[route.group]
        members = group.members
    up, benched = _usable(members, is_up, health)
    if group is None:
        return [m.name for m in up], benched
    return _picked(selector, group, up, get, destination, health, route, number), benched


def _picked(selector: Selector, group: Group, up: List[Member], get: Getter, key_number: str,
            health: Optional[GatewayHealth], route: Route, number: str) -> List[str]:
    """_ordered, but a gateway this call leaves out for its quality (critical, no probe due) takes no part in
    the pick, as a benched one does not, so that a weighted group keeps its ratios among the others; it
    follows them, for core.quality.arrange to leave out (judging, announcing and naming it as skipped).
    ``number``: the one dialled, which quality judges."""
    if len(up) < 2 or not getattr(health, "judges_quality", False):
        return _ordered(selector, group, up, get, key_number, health)
    judge = health.quality_preview(route, number)  # type: ignore[union-attr]
    kept = [m for m in up if judge(m.name).level != quality.CRITICAL] if judge is not None else up
    if not kept or len(kept) == len(up):  # every one critical: arrange keeps them all
        return _ordered(selector, group, up, get, key_number, health)
    return _ordered(selector, group, kept, get, key_number, health) + [m.name for m in up if m not in kept]


def _ordered(selector: Selector, group: Group, up: Sequence[Member], get: Getter, number: str,
             health: Optional[GatewayHealth]) -> List[str]:
    """The gateways ``up`` of ``group`` in the order it tries them for this call (a route's or a carrier's):
    hash_caller hashes the caller, every other strategy the number."""
    key = get("caller_id_number") if group.strategy == "hash_caller" else number
    return selector.order(group, up, key, len(up), health.calls if health is not None else None)


def _names(rules: RuleSet, gateway: Optional[str], group: Optional[str]) -> List[str]:
    """The gateway a route or carrier names, else its group's members (for reasons only)."""
    if gateway is not None:
        return [gateway]
    assert group is not None  # a route or carrier names a gateway or a group (the grammar)
    return [m.name for m in rules.groups[group].members]


def _usable(members: Sequence[Member], is_up: Callable[[str], bool], health: Optional[GatewayHealth]
            ) -> Tuple[List[Member], List[str]]:
    """(the members that are up and not benched by their breaker, else the last-resort ones among those
    benched; the names of the up members benched)."""
    up = [m for m in members if is_up(m.name)]
    benched: List[str] = []
    if health is not None and health.any_breaker:
        usable = [m for m in up if not health.benched(m.name)]
        benched = [m.name for m in up if m not in usable]
        up = usable or [m for m in up if health.last_resort(m.name)]
    return up, benched


def _least_cost(rules: RuleSet, route: Route, number: str, match: Optional[re.Match[str]], get: Getter,
                is_up: Callable[[str], bool], selector: Selector, deck_of: DeckOf, now: float,
                health: Optional[GatewayHealth], reasons: Optional[Reasons], dialled: Optional[str] = None
                ) -> Decision:
    """The carriers serving ``number`` at or below max_rate that keep the route's minimum margin, cheapest
    call first, each through its gateways (those up and not benched, as for a group route); ``dialled``:
    the number their format gets, when it is not the one rated (lookup: keeps the dialled number for the
    dial string)."""
    spec = route.lcr
    assert spec is not None  # only lcr routes come here
    if not lcr.is_lookup_number(number):
        return Decision(Outcome.INVALID_NUMBER, route, number,
                        detail="lcr number %s is not all digits" % one_line(number))
    length = lcr.call_length(spec, None if spec.expected_seconds else _measured_acd(rules, route, number, health))
    seconds = length.seconds
    ranking = lcr.rank(spec.carriers, deck_of, number, now, seconds)
    quotes = affordable = lcr.affordable(ranking.quotes, spec.max_rate)
    sale: Optional[margin.Sale] = None
    unsold = ""
    if spec.margin is not None:
        sale, unsold = margin.sale_for(spec.margin, rules.sell_decks, get, deck_of, number, now, seconds,
                                       getattr(health, "account_sell_deck", None),
                                       rules.accounts.sell_deck if rules.accounts is not None else None)
        quotes = margin.protect(spec.margin, affordable, sale)
    if reasons is not None:
        reasons.priced(length)
        reasons.carriers(spec, number, ranking, affordable, seconds)
        if spec.margin is not None:
            reasons.margin(spec.margin, sale, unsold, affordable, quotes, seconds)
    if not quotes:
        if affordable:  # only carriers that would lose money (or whose margin cannot be known) are left
            assert spec.margin is not None  # only a margin drops affordable carriers
            return Decision(Outcome.NO_MARGIN, route, number, detail=unsold or "every carrier breaks %s (best: %s)"
                            % (margin.minimum_text(spec.margin), _best_margin(sale, affordable)))
        return Decision(Outcome.NO_CARRIER, route, number, detail=_why_no_carrier(ranking, spec.max_rate))
    dials: List[Dial] = []
    benched: List[str] = []
    for quote in quotes:
        carrier = quote.carrier
        gateways: List[str]
        if carrier.gateway is not None:
            up, left_out = _usable((Member(carrier.gateway, 1),), is_up, health)
            gateways = [m.name for m in up]
        else:
            assert carrier.group is not None  # a carrier names a gateway or a group (the grammar)
            group = rules.groups[carrier.group]
            up, left_out = _usable(group.members, is_up, health)
            gateways = _picked(selector, group, up, get, number, health, route, number)
        benched += [name for name in left_out if name not in benched]
        prefix = quote.deck.prefix(quote.row)
        dial_number = carrier.dial_number(dialled or number, get)
        price = margin.Price(seconds, quote.tariff(), quote.cost, sale)
        dials.extend(Dial(gw, dial_number, "", (), (), carrier.name, prefix, quote.rate, price) for gw in gateways)
    if not dials:
        if reasons is not None:
            reasons.unusable([name for q in quotes for name in _names(rules, q.carrier.gateway, q.carrier.group)],
                             benched)
        return Decision(Outcome.ALL_DOWN, route, number, detail="every gateway of the carriers serving it is down%s"
                        % (" or benched" if benched else ""), benched=tuple(benched))
    for dial in dials:  # a carrier's format made it too long, or its ${var} filled in what cannot be dialled
        if not NUMBER_RE.match(dial.number):
            return Decision(Outcome.INVALID_NUMBER, route, number, detail="carrier %s's number %s is not dialable"
                            % (dial.carrier, one_line(dial.number)), benched=tuple(benched))
    # the carrier's format first, then the gateway's own (number/strip under gateways:), if any
    return _dialled(rules, route, dialled or number, dials, match, get, tuple(benched))


def _measured_acd(rules: RuleSet, route: Route, number: str, health: Optional[GatewayHealth]
                  ) -> Optional[quality.Acd]:
    """The destination's measured ACD over the gateways of the route's carriers, when the health object
    measures quality (runtime.generation: ``measured_acd``), else None."""
    measure = getattr(health, "measured_acd", None)
    if measure is None:
        return None
    assert route.lcr is not None  # only lcr routes are priced
    gateways = tuple(dict.fromkeys(name for carrier in route.lcr.carriers
                                   for name in _names(rules, carrier.gateway, carrier.group)))
    found: Optional[quality.Acd] = measure(route, number, gateways)
    return found


def _table_instant(bound: tablerows.BoundTable, moment: Optional[Moment]) -> float:
    """The instant a table's effective dates are read at (a table without dates needs none)."""
    if moment is not None:
        return moment.instant
    if bound.table.starts is not None:
        raise ValueError("table %s has effective dates: the call's instant (now=) is needed" % bound.spec.name)
    return 0.0


def _no_decks(carrier: HasDeck) -> Optional[Deck]:
    return None


def _best_margin(sale: Optional[margin.Sale], quotes: Sequence[lcr.Quote]) -> str:
    """The margin of the cheapest carrier (a carrier that breaks the minimum), for the detail."""
    assert sale is not None  # without a sale the detail says why there is none
    return "%s %s" % (quotes[0].carrier.name, margin.margin_text(sale.revenue, quotes[0].cost))


def _why_no_carrier(ranking: lcr.Ranking, max_rate: Optional[int]) -> str:
    if ranking.quotes:
        assert max_rate is not None  # quotes were cut only by max_rate
        cheapest = min(quote.rate for quote in ranking.quotes)
        return "cheapest rate %s is above max_rate %s" % (rate_text(cheapest), rate_text(max_rate))
    if ranking.unloaded:
        return "no carrier serves it (decks not loaded: %s)" % ",".join(ranking.unloaded)
    return "no carrier serves it"
