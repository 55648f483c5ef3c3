"""``fsroute replay CDRS --rules NEW [--against OLD]``: what draft rules would have done with real calls.

Every CDR's call (its destination, caller, source and other variables, at
the instant it started) goes through the router's one decision walk
(router.decide) with the draft rules and their decks, every gateway up, as
``fsroute simulate`` and ``ctl test`` decide. What it is compared with: the
same walk with ``--against`` rules, else what the call recorded (the
``fsroute_route`` and ``fsroute_lcr_carrier`` variables, when the CDR holds
them). A call changes when its route or its first carrier does (the first
gateway of a group is round-robin's, not the rules', so it is not compared).
A least-cost call's cost and sell price are its billed seconds at its first
carrier's and its sell deck's rows (billing.call_cost), so cost and margin
before and after are known per carrier, per destination and per day.
"""

from __future__ import annotations

import bisect
import datetime
import time
from collections import Counter
from typing import Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set, Tuple

from fsroute.core import lcr, loader, router
from fsroute.core.accounts import account_sell_deck
from fsroute.core.decks import FOREVER, MAX_DIGITS, NEVER, Deck, key_digits
from fsroute.core.margin import money_text
from fsroute.core.model import HasDeck, Route, RuleSet
from fsroute.core.selection import Selector
from fsroute.core.tariff import Tariff
from fsroute.runtime.accounts import read_table
from .cdrs import Cdr
from .lcrtool import load_decks

ROUTED = "routed"  # the result of a call the rules would bridge
TOP = 20           # rows of the text's destination and change tables


class Routed(NamedTuple):
    """What one set of rules does with one call (whatever its length: the Tariffs price it)."""
    result: str                 # ROUTED, or the outcome (no_route, no_carrier, no_margin, denied, ...)
    route: str                  # "" when no route took it
    carrier: str                # the first carrier of a least-cost route, else ""
    buy: Optional[Tariff] = None   # that carrier's row (least-cost routes)
    sell: Optional[Tariff] = None  # the sell deck's row (with a sell price)
    destination: str = ""       # the carrier row's prefix


class Replayer:
    """One rules file and its decks, read once, deciding replayed calls (raises RulesError)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rules: RuleSet = loader.load(path)
        self.decks: Dict[str, Deck] = load_decks(self.rules)
        self._selector = Selector(None, self.rules.groups.values())
        self._cache = _DecisionCache(self.rules, self.decks.values(), self._shape)
        self._consulted: List[Deck] = []  # the decks the walk under way asked, in order
        self._routed: Dict[Routed, Routed] = {}  # one Routed per distinct decision (Report groups calls by it)
        self._keys: Dict[Tuple[Deck, ...], FrozenSet[str]] = {}  # the prefixes some of these decks have
        self._dated_under: Dict[str, bool] = {}  # prefix -> whether it or a shorter one has a dated row
        # the prefixes that have a dated row in some deck of these rules
        self._dated: FrozenSet[str] = frozenset(
            key_digits(key) for deck in self.decks.values() for key, start, end in zip(deck.keys, deck.starts, deck.ends)
            if start != NEVER or end != FOREVER)
        self.walks = 0  # decisions the walk made (the others were reused)
        # the sell decks the accounts' rows name (accounts table included), as the switch reads them
        self._accounts = _Accounts(self.rules) if self.rules.accounts is not None else None

    def deck_of(self, named: HasDeck) -> Optional[Deck]:
        deck = self.decks.get(named.deck)
        if deck is not None:
            self._consulted.append(deck)
        return deck

    def route(self, cdr: Cdr) -> Routed:
        """What these rules do with the call ``cdr`` recorded."""
        return self._cache.decide(cdr, self._decide)

    def _decide(self, get: Callable[[str], Optional[str]], now: float) -> Walked:
        """What the walk decides, whether that holds at any instant (it asked no deck, or no deck has a dated
        row for any prefix of the number), and what it priced (see Walked)."""
        self.walks += 1
        self._consulted = []
        decision = router.decide(self.rules, get, _up, self._selector, now, self._accounts, deck_of=self.deck_of)
        timeless = self._timeless(decision.number)
        route = decision.route.name if decision.route is not None else ""
        if decision.outcome is not None:
            routed = Routed(decision.outcome.value, route, "")
        else:
            first = decision.dials[0]
            price = first.price
            routed = Routed(ROUTED, route, "") if price is None else Routed(
                ROUTED, route, first.carrier or "", price.tariff,
                price.sale.tariff if price.sale is not None else None, first.prefix)
        priced = None
        if decision.route is not None and decision.route.lcr is not None and decision.number is not None:
            priced = (decision.route, tuple(self._consulted))
        return Walked(self._routed.setdefault(routed, routed), timeless, priced)

    def _shape(self, get: Callable[[str], Optional[str]], decks: Tuple[Deck, ...]) -> Optional[Shape]:
        """What a least-cost walk reads of an all-digits destination (None: not all digits, or no route):
        the route router.find_route takes, the length of the number it looks up, that number's longest
        prefix among the keys of ``decks`` (every deck's row follows from it and the instant), and whether
        a deck has a dated row for a prefix of it (the row then depends on the instant)."""
        destination = get("destination_number") or ""
        if not destination.isdigit() or not destination.isascii():
            return None
        route, match, _ = router.find_route(self.rules, get, destination, router.source_address(get))
        if route is None:
            return None
        number = route.rewrite(match, destination, get)
        if not lcr.is_lookup_number(number):
            return None
        keys = self._keys.get(decks)
        if keys is None:
            keys = self._keys[decks] = frozenset(key_digits(key) for deck in decks for key in deck.keys)
        digits = number[:MAX_DIGITS]
        size = len(digits)
        while size and digits[:size] not in keys:
            size -= 1
        deepest = digits[:size]
        dated = self._dated_under.get(deepest)
        if dated is None:
            dated = self._dated_under[deepest] = self._dated_prefix(deepest)
        return route.name, len(number), deepest, dated

    def _timeless(self, number: Optional[str]) -> bool:
        if not self._consulted:
            return True
        if number is None or not number.isdigit():
            return False
        return not self._dated_prefix(number[:MAX_DIGITS])

    def _dated_prefix(self, digits: str) -> bool:
        """Whether a deck of these rules has a dated row for a prefix of ``digits``."""
        return not self._dated.isdisjoint([digits[:size] for size in range(1, len(digits) + 1)])


def _up(gateway: str) -> bool:
    return True


class _Accounts:
    """What a replayed call's decision asks besides decks (core.router.GatewayHealth): no gateway is benched
    or busy; its account's sell deck as the switch finds it (the accounts table read here)."""

    any_breaker = False

    def __init__(self, rules: RuleSet) -> None:
        assert rules.accounts is not None  # made only for rules with accounts
        self._rules, self._accounts = rules, rules.accounts
        self._table = read_table(rules.accounts, rules.sell_decks).sell_decks

    def account_sell_deck(self, get: Callable[[str], Optional[str]]) -> Optional[Tuple[str, Optional[str]]]:
        return account_sell_deck(self._accounts, self._table, get, self._rules.acls)

    def benched(self, name: str) -> bool:
        return False

    def last_resort(self, name: str) -> bool:
        return False

    def calls(self, name: str) -> int:
        return 0


# A decision's key: the names of the variables the walk read (in that order) and their values.
Key = Tuple[Tuple[str, ...], Tuple[Optional[str], ...]]
# What a least-cost walk reads of the number (Replayer._shape): route, the number's length, its longest
# prefix any deck asked has, whether a deck has a dated row for that prefix or a shorter one.
Shape = Tuple[str, int, str, bool]
Shaper = Callable[[Callable[[str], Optional[str]], Tuple[Deck, ...]], Optional[Shape]]


class Walked(NamedTuple):
    """One decision walk: what it decided, whether that holds at any instant, and for a least-cost route
    (else None) the route and the decks it asked, in order."""
    routed: Routed
    anytime: bool
    priced: Optional[Tuple[Route, Tuple[Deck, ...]]]


class _DecisionCache:
    """Decisions reused for calls that read the same variable values, at an instant where they hold.

    The walk is a function of the variables it reads (in the order it reads them) and of the instant.
    Rules without time conditions change with the instant only through the decks' effective dates: a
    decision whose decks have no dated row for the number holds at any instant; another holds within
    the span between two of the decks' dates. Rules with time conditions are decided call by call.

    A least-cost walk reads an all-digits destination through its route's regexes and the number's rows
    in the decks it asks; what it decides (route, first carrier, the carrier's and the sell deck's rows)
    follows from those. So a call to another number is given the decision of a walk that read the same
    other values, took the same route (router.find_route, run for the call) and looked up a number of
    the same length with the same longest prefix among those decks' keys (``shape``): each deck's row
    follows from that prefix and the instant, so in the same span of deck dates when a deck has a dated
    row for it. The number's length stands for the dial strings' checks, which see digits only.
    """

    def __init__(self, rules: RuleSet, decks: Iterable[Deck], shape: Shaper) -> None:
        self.enabled = not rules.timed
        bounds: Set[int] = set()
        for deck in decks:
            bounds.update(deck.starts)
            bounds.update(deck.ends)
        self.bounds = sorted(bounds - {NEVER, FOREVER})
        self.timeless: Dict[Key, Routed] = {}
        self.spans: Dict[int, Dict[Key, Routed]] = {}  # per span between two deck dates
        self.reads: List[Tuple[str, ...]] = []  # each list of names some walk read
        self.shape = shape
        self.shapes: Dict[Tuple[Tuple[str, ...], Tuple[Optional[str], ...], int, Shape, int], Routed] = {}
        self.priced: List[Tuple[Tuple[str, ...], Tuple[Deck, ...]]] = []  # (names read, decks asked) of lcr walks

    def decide(self, cdr: Cdr, decide: Callable[[Callable[[str], Optional[str]], float], Walked]) -> Routed:
        variables = cdr.variables
        if not self.enabled:
            return decide(variables.get, cdr.start).routed
        span = bisect.bisect_right(self.bounds, cdr.start)
        known = self.spans.get(span)
        if known is None:
            known = self.spans[span] = {}
        timeless = self.timeless
        for names in self.reads:
            key = (names, tuple([variables.get(name) for name in names]))
            found = timeless.get(key) or known.get(key)
            if found is not None:
                return found
        length = len(variables.get("destination_number") or "")
        shapes: Dict[Tuple[Deck, ...], Optional[Shape]] = {}
        for names, decks in self.priced:
            shape = shapes[decks] = self.shape(variables.get, decks)
            if shape is not None:
                found = self.shapes.get((names, _others(names, variables), length, shape, span if shape[3] else -1))
                if found is not None:
                    return found
        read: List[str] = []

        def get(name: str) -> Optional[str]:
            if name not in read:
                read.append(name)
            return variables.get(name)

        walked = decide(get, cdr.start)
        routed = walked.routed
        names = tuple(read)
        if names not in self.reads:
            self.reads.append(names)
        (timeless if walked.anytime else known)[(names, tuple([variables.get(name) for name in names]))] = routed
        if walked.priced is not None:
            decks = walked.priced[1]
            if (names, decks) not in self.priced:
                self.priced.append((names, decks))
            shape = shapes[decks] if decks in shapes else self.shape(variables.get, decks)
            if shape is not None and shape[0] == walked.priced[0].name:
                self.shapes[(names, _others(names, variables), length, shape, span if shape[3] else -1)] = routed
        return routed


def _others(names: Tuple[str, ...], variables: Dict[str, str]) -> Tuple[Optional[str], ...]:
    """The values of the variables ``names`` but the destination (a shape stands for it)."""
    return tuple([variables.get(name) for name in names if name != "destination_number"])


class Totals:
    """Calls, billed seconds, cost, revenue and margin (micro-units) of some calls."""

    __slots__ = ("calls", "answered", "seconds", "cost", "revenue", "margin", "priced")

    def __init__(self) -> None:
        self.calls = self.answered = self.seconds = self.cost = self.revenue = self.margin = self.priced = 0

    def add(self, routed: Routed, lengths: Counter[int]) -> None:
        """Calls routed as ``routed``, by billed seconds (``lengths``: seconds -> calls), each priced at the
        carrier's row and at the sell deck's (billing.call_cost)."""
        for billsec, calls in lengths.items():
            self.calls += calls
            if billsec <= 0:
                continue
            self.answered += calls
            self.seconds += billsec * calls
            if routed.buy is not None:
                cost = routed.buy.cost(billsec) * calls
                self.cost += cost
                if routed.sell is not None:
                    revenue = routed.sell.cost(billsec) * calls
                    self.revenue += revenue
                    self.margin += revenue - cost
                    self.priced += calls

    def merge(self, other: Totals) -> None:
        self.calls += other.calls
        self.answered += other.answered
        self.seconds += other.seconds
        self.cost += other.cost
        self.revenue += other.revenue
        self.margin += other.margin
        self.priced += other.priced


class Side:
    """What one set of rules (or the recorded calls) did with all the calls."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.total = Totals()
        self.results: Counter[str] = Counter()
        self.by_carrier: Dict[str, Totals] = {}
        self.by_destination: Dict[str, Totals] = {}
        self.by_day: Dict[str, Totals] = {}

    def add(self, routed: Routed, lengths: Counter[int], day: str, destination: str) -> None:
        """Calls of one day and destination that the rules routed alike, by billed seconds."""
        totals = Totals()
        totals.add(routed, lengths)
        self.total.merge(totals)
        self.results[routed.result] += totals.calls
        for table, key in ((self.by_carrier, routed.carrier), (self.by_destination, destination),
                           (self.by_day, day)):
            if key:
                table.setdefault(key, Totals()).merge(totals)


class Report:
    """A replay's findings: both sides, the calls that change, those the new rules would not route.

    Calls are gathered by what both sides did with them and their day, counted by billed seconds
    (``add``), and priced once per group and distinct length (``finish``).
    """

    def __init__(self, source: str, after: str, before: Optional[str]) -> None:
        self.source = source
        self.after = Side(after)
        self.before = Side(before) if before is not None else None
        self.calls = 0
        self.changed = 0
        self.changes: Counter[Tuple[str, str, str, str, str]] = Counter()  # (destination, route/carrier before, after)
        self.unrouted = 0          # calls the new rules would not route
        self.unrouted_answered = 0  # ... of them answered calls
        self.first: Optional[float] = None  # the earliest and latest call
        self.last: Optional[float] = None
        self.seconds = 0.0          # replaying took
        # (id(after), id(before), day) -> [after, before, calls by billed seconds]: the replayers hand out one
        # Routed per decision, so ids group calls decided alike; the group holds them, so ids stay unique
        self._groups: Dict[Tuple[int, int, str], Tuple[Routed, Optional[Routed], Counter[int]]] = {}

    def add(self, cdr: Cdr, after: Routed, before: Optional[Routed], day: str) -> None:
        self.calls += 1
        start = cdr.start
        if self.first is None or start < self.first:
            self.first = start
        if self.last is None or start > self.last:
            self.last = start
        key = (id(after), id(before), day)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = (after, before, Counter())
        group[2][cdr.billsec] += 1

    def gathered(self) -> Part:
        """What ``add`` gathered, to hand to another process's Report (``absorb``)."""
        return Part(self.calls, self.first, self.last,
                    [(after, before, day, lengths) for (_, _, day), (after, before, lengths) in self._groups.items()])

    def absorb(self, part: Part) -> None:
        """Take in another Report's gathered calls (a part of the same CDRs, replayed elsewhere)."""
        self.calls += part.calls
        for instant in (part.first, part.last):
            if instant is not None:
                self.first = instant if self.first is None else min(self.first, instant)
                self.last = instant if self.last is None else max(self.last, instant)
        by_value = {(after, before, day): lengths for after, before, day, lengths in self.gathered().groups}
        for after, before, day, lengths in part.groups:
            by_value.setdefault((after, before, day), Counter()).update(lengths)
        self._groups = {(id(after), id(before), day): (after, before, lengths)
                        for (after, before, day), lengths in by_value.items()}

    def finish(self) -> None:
        """Price and count the calls gathered by ``add``."""
        for (_, _, day), (after, before, lengths) in self._groups.items():
            calls = sum(lengths.values())
            destination = after.destination or (before.destination if before is not None else "") or "-"
            self.after.add(after, lengths, day, destination)
            if after.result != ROUTED:
                self.unrouted += calls
                self.unrouted_answered += calls - lengths.get(0, 0)
            if before is not None:
                if self.before is None:
                    self.before = Side("what the calls recorded")
                self.before.add(before, lengths, day, destination)
                if (before.route, before.carrier) != (after.route, after.carrier):
                    self.changed += calls
                    self.changes[(destination, before.route or before.result, before.carrier,
                                  after.route or after.result, after.carrier)] += calls
        self._groups.clear()


class Part(NamedTuple):
    """The calls one Report gathered: how many, the earliest and latest, and (after, before, day, calls by
    billed seconds) per group."""
    calls: int
    first: Optional[float]
    last: Optional[float]
    groups: List[Tuple[Routed, Optional[Routed], str, Counter[int]]]


def recorded(cdr: Cdr) -> Optional[Routed]:
    """What the call itself recorded (fsroute_result, fsroute_route, fsroute_lcr_carrier), if it did."""
    variables = cdr.variables
    route = variables.get("fsroute_route")
    result = variables.get("fsroute_result")
    if route is None and result is None:
        return None
    outcome = ROUTED if result in (None, "bridged", "failed") else result
    return Routed(outcome or ROUTED, route or "", variables.get("fsroute_lcr_carrier", ""))


def replay(cdrs: Iterable[Cdr], new: Replayer, against: Optional[Replayer], source: str,
           tz: Optional[datetime.tzinfo] = None, finish: bool = True) -> Report:
    """Route every call of ``cdrs`` with ``new`` (and ``against``, else compare with what it recorded);
    ``tz`` names the days (default UTC); ``finish`` False: gathered, not priced yet (a part of the CDRs)."""
    report = Report(source, new.path, against.path if against is not None else None)
    days: Dict[int, str] = {}
    zone = tz or datetime.timezone.utc
    began = time.perf_counter()
    seen: Dict[Routed, Routed] = {}  # what the calls recorded, one Routed per distinct record (see Report)
    for cdr in cdrs:
        after = new.route(cdr)
        if against is not None:
            before: Optional[Routed] = against.route(cdr)
        else:
            before = recorded(cdr)
            if before is not None:
                before = seen.setdefault(before, before)
        hour = int(cdr.start // 3600)
        day = days.get(hour)
        if day is None:
            day = days[hour] = datetime.datetime.fromtimestamp(hour * 3600, zone).strftime("%Y-%m-%d")
        report.add(cdr, after, before, day)
    if finish:
        report.finish()
    report.seconds = time.perf_counter() - began
    return report


def _money(micro: int) -> str:
    return money_text(micro)


def text(report: Report) -> List[str]:
    """The text summary: the lines the HTML report's figures must agree with."""
    after, before = report.after, report.before
    lines = ["replayed %d calls (%d answered, %d billed seconds) from %s%s" % (
        report.calls, after.total.answered, after.total.seconds, report.source, _period(report))]
    lines.append("rules: %s%s" % (after.label, " against %s" % before.label if before is not None else
                                  " (nothing to compare with: give --against, or CDRs with fsroute_route)"))
    if before is not None:
        lines.append("route or first carrier changes: %d calls" % report.changed)
    results = ", ".join("%s %d" % item for item in sorted(after.results.items()) if item[0] != ROUTED)
    lines.append("new rules would not route: %d calls%s, %d of them answered" % (
        report.unrouted, " (%s)" % results if results else "", report.unrouted_answered))
    for name, pick in (("cost", lambda t: t.cost), ("revenue", lambda t: t.revenue), ("margin", lambda t: t.margin)):
        now = pick(after.total)
        if before is not None:
            was = pick(before.total)
            lines.append("%s: before %s, after %s (%s%s)" % (name, _money(was), _money(now), "+" if now >= was else "",
                                                             _money(now - was)))
        else:
            lines.append("%s: %s" % (name, _money(now)))
    lines.append("by carrier (calls, cost, margin%s):" % (": before -> after" if before is not None else ""))
    for carrier in sorted(set(after.by_carrier) | set(before.by_carrier if before else ())):
        lines.append("  " + _row(carrier, after.by_carrier.get(carrier), before.by_carrier.get(carrier)
                                 if before else None, before is not None))
    lines.append("by destination, dearest %d (calls, cost, margin%s):" % (
        TOP, ": before -> after" if before is not None else ""))
    dearest = sorted(after.by_destination.items(), key=lambda item: (-item[1].cost, item[0]))[:TOP]
    for destination, totals in dearest:
        lines.append("  " + _row(destination, totals, before.by_destination.get(destination) if before else None,
                                 before is not None))
    if report.changes:
        lines.append("changes, most calls first (calls: destination: before route/carrier -> after):")
        for (destination, was_route, was_carrier, route, carrier), count in sorted(
                report.changes.items(), key=lambda item: (-item[1], item[0]))[:TOP]:
            lines.append("  %d: %s: %s -> %s" % (count, destination, target_text(was_route, was_carrier),
                                                  target_text(route, carrier)))
    return lines


def target_text(route: str, carrier: str) -> str:
    """'route/carrier', or the route (or result) alone when no carrier."""
    return "%s/%s" % (route, carrier) if carrier else route


def _row(name: str, after: Optional[Totals], before: Optional[Totals], compared: bool) -> str:
    now = after or Totals()
    if not compared:
        return "%s: %d calls, cost %s, margin %s" % (name, now.calls, _money(now.cost), _money(now.margin))
    was = before or Totals()
    return "%s: %d -> %d calls, cost %s -> %s, margin %s -> %s" % (
        name, was.calls, now.calls, _money(was.cost), _money(now.cost), _money(was.margin), _money(now.margin))


def _period(report: Report) -> str:
    if report.first is None or report.last is None:
        return ""
    return ", %s .. %s" % tuple(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                                for t in (report.first, report.last))
