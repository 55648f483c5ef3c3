"""A generation: everything one version of a rules file means, built aside and made current at once.

The rule set (with its compiled index and calendars), every rate deck it
names, the round-robin cycles and the breakers of its gateways. A
generation is built and checked off the call path (runtime.store) and only
made current when it is complete; a call takes the current one and uses it
for everything it decides. State that must outlive a reload is carried
over from the generation before by name, as OpenSIPS drouting copies each
gateway's status bits: an unchanged group keeps its cycle, an unchanged
breaker its state. What the switch reports about gateways (UP/DOWN, active
calls) belongs to the process's poller, which this generation asks it to
read (``watched``).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple

from fsroute.core import decks
from fsroute.core.model import HasDeck, Route, RuleSet
from fsroute.core.routetable import labels
from fsroute.core.accounts import account_sell_deck
from fsroute.core.quality import Acd, Judge
from fsroute.core.selection import Selector
from .accounts import NO_TABLE, TableState, read_table
from .admin import GatewayAdmin
from .breakers import Breakers
from .quality import QualityTracker
from .clock import SYSTEM_CLOCK, SystemClock
from fsroute.core.tablerows import BoundTable
from .filecache import LoadedFile
from .limits import any_limits, counted_resources, usage_key
from .poller import Poller
from .record import CallRecord, Observer


class Generation:
    """One complete version of a rules file, with its decks; read by any number of call threads.

    ``observed``: whether its calls reach the process's metrics and events
    (False for a tool's private generation, e.g. a simulation).
    """

    def __init__(self, rules: RuleSet, decks_by_path: Mapping[str, LoadedFile], poller: Poller,
                 previous: Optional[Generation] = None, clock: SystemClock = SYSTEM_CLOCK,
                 observed: bool = True, tables: Optional[Mapping[str, BoundTable]] = None,
                 table_files: Optional[Mapping[str, LoadedFile]] = None, account_table: TableState = NO_TABLE
                 ) -> None:
        self.rules = rules
        self.clock = clock
        self.observed = observed
        self.poller = poller
        self._is_down = poller.is_down
        self.loaded_at = clock.time()
        self.decks: Dict[str, LoadedFile] = dict(decks_by_path)
        self._deck_by_path: Dict[str, decks.Deck] = {path: d.content for path, d in decks_by_path.items()}
        self.tables: Dict[str, BoundTable] = dict(tables or {})  # by name; one that failed at the first load is missing
        self.table_of = self.tables.get  # what the router asks (core.tablerows.TableOf)
        # the files' versions as read, by path: held here, they stay in the process's cache while in force
        self.table_files: Dict[str, LoadedFile] = dict(table_files or {})
        self.selector: Selector = Selector(previous.selector if previous else None, rules.groups.values())
        self.breakers: Breakers = Breakers(rules, previous.breakers if previous else None, clock=clock.monotonic)
        # what the router asks besides is_up (core.router.GatewayHealth)
        self.any_breaker = self.breakers.any_breaker
        self.benched = self.breakers.benched
        self.last_resort = self.breakers.last_resort
        self._usage_keys = {name: usage_key(rules, name) for name in counted_resources(rules)}
        self.limited = any_limits(rules)  # False: every attempt is a plain bridge
        self.counts_calls = bool(self._usage_keys)  # False: no least_calls group, no attempt to count
        # whether a call needs its instant: time conditions read it, least-cost routes and tables rate at it
        self.needs_instant = bool(rules.timed or rules.has_lcr or rules.tables)
        # the route event names the call's source address, which the router reads only for its ACLs
        self.reads_source = bool(observed and rules.defaults.events and not rules.acls)
        self._profiles = {name: rules.profile_of(name) for name in rules.gateway_names()}
        self._default_profile = rules.defaults.profile
        self.observers: Optional[Tuple[Observer, ...]] = None  # who is told of its calls (runtime.observers)
        self.tally = Tally()  # its calls by result and route, for ``ctl status``
        # the gateways' measured quality (runtime.quality), kept from the generation before when it measured the same
        settings = rules.defaults.quality
        kept = previous.quality if previous is not None else None
        self.quality: Optional[QualityTracker] = None if settings is None else (
            kept if kept is not None and kept.carries(settings) else QualityTracker(settings, clock.monotonic))
        self.judges_quality = self.quality is not None  # the router's question: ask quality_judge at all?
        if self.quality is not None and settings is not None:
            self.quality.settings = settings  # its classes, thresholds and probe period may have changed
            self.quality.keep_routes({name for name, _ in labels(rules.routes)})
        # gateways the operator took out of service (drain/disable): one object for all generations of the file
        self.admin: GatewayAdmin = previous.admin if previous is not None else (
            GatewayAdmin.beside(rules.path, clock.time) if observed else GatewayAdmin(None, clock.time))
        self.account_table = account_table  # (the accounts table's rows by account, its file's signature)

    def is_up(self, gateway: str) -> bool:
        """Whether ``gateway`` may be tried: the last trusted gwlist reading of its profile does not
        report it DOWN (unknown: up), and the operator has not taken it out of service (runtime.admin)."""
        if gateway in self.admin.closed:
            return False
        return not self._is_down(self._profiles.get(gateway, self._default_profile), gateway)

    def quality_judge(self, route: Optional[Route], number: Optional[str], preview: bool = False
                      ) -> Optional[Judge]:
        """The router's question (core.router): each gateway's quality verdict for this call, None when the
        rules set no quality thresholds for ``route``; ``preview``: the verdicts it will give, claiming nothing."""
        tracker = self.quality
        return tracker.judge_for(self.rules, route, number, table_of=self.table_of, now=self.clock.time(),
                                 preview=preview) if tracker is not None and route is not None else None

    def quality_preview(self, route: Optional[Route], number: Optional[str]) -> Optional[Judge]:
        """The router's question before a group's pick (quality_judge's preview)."""
        return self.quality_judge(route, number, preview=True)

    def measured_acd(self, route: Route, number: str, gateways: Tuple[str, ...]) -> Optional[Acd]:
        """The router's question for an lcr route without expected_seconds (core.lcr.call_length): the
        destination's measured ACD over ``gateways``' windows, None when the rules measure no quality."""
        tracker = self.quality
        return tracker.acd_for(self.rules, route, number, gateways, table_of=self.table_of,
                               now=self.clock.time()) if tracker is not None else None

    def account_sell_deck(self, get: Callable[[str], Optional[str]]) -> Optional[Tuple[str, Optional[str]]]:
        """The router's question for a call that names no sell deck (core.margin.sell_deck_name): (the call's
        account, the sell deck its own row names, inline or in the accounts table), None without accounts."""
        accounts = self.rules.accounts
        if accounts is None:
            return None
        return account_sell_deck(accounts, self.account_table.sell_decks, get, self.rules.acls)

    def dry_run(self) -> DryRun:
        """This generation as a dry run (``ctl test``) asks it: the same answers, but quality verdicts
        claim no probe call and announce nothing."""
        return DryRun(self)

    def calls(self, gateway: str) -> int:
        """Active calls through ``gateway`` in the poller's last count (0 when not counted or unknown)."""
        key = self._usage_keys.get(gateway)
        return self.poller.count(key) if key is not None else 0

    def started(self, gateway: str) -> None:
        """An attempt on ``gateway`` is about to be dialled (least_calls counts it at once)."""
        key = self._usage_keys.get(gateway) if self._usage_keys else None
        if key is not None:
            self.poller.started(key)

    def refused(self, gateway: str) -> None:
        """The attempt ``started`` announced was refused by its limit: least_calls uncounts it."""
        key = self._usage_keys.get(gateway) if self._usage_keys else None
        if key is not None:
            self.poller.refused(key)

    def deck_of(self, carrier: HasDeck) -> Optional[decks.Deck]:
        """The carrier's (or sell deck's) rate deck in this generation (None only when it failed at the very
        first load)."""
        return self._deck_by_path.get(carrier.deck)

    def files(self) -> List[LoadedFile]:
        """The decks and tables it holds, as read."""
        return list(self.decks.values()) + list(self.table_files.values())

    def watched(self) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        """(the sofia profiles whose gwlist it reads, the limit_usage counts least_calls reads)."""
        rules = self.rules
        profiles = frozenset(rules.profile_of(name) for name in rules.gateway_names()) | {rules.defaults.profile}
        return profiles, frozenset(self._usage_keys.values())

    def counts(self) -> Tuple[Dict[str, int], Dict[str, int]]:
        """(per-result, per-route) copies of its call counters."""
        return self.tally.counts()


class DryRun:
    """A generation's answers to the router (core.router.GatewayHealth) for a call that is not placed."""

    def __init__(self, generation: Generation) -> None:
        self._generation = generation
        self.any_breaker = generation.any_breaker
        self.benched = generation.benched
        self.last_resort = generation.last_resort
        self.calls = generation.calls
        self.measured_acd = generation.measured_acd  # reads the windows, changes nothing
        self.account_sell_deck = generation.account_sell_deck
        self.judges_quality = generation.judges_quality
        self.quality_preview = self.quality_judge  # a dry run's verdicts claim nothing already

    def quality_judge(self, route: Optional[Route], number: Optional[str]) -> Optional[Judge]:
        tracker = self._generation.quality
        if tracker is None or route is None:
            return None
        generation = self._generation
        return tracker.judge_for(generation.rules, route, number, dry=True, table_of=generation.table_of,
                                 now=generation.clock.time())


class Tally:
    """Calls by result and by route. Its own object, so that the observer list a generation holds
    refers to this and not back to the generation (no cycle: a replaced generation is freed at once)."""

    def __init__(self) -> None:
        self.results: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def observe(self, record: CallRecord) -> None:
        """An observer: count the call."""
        with self._lock:
            self.results[record.result] += 1
            if record.route:
                self.routes[record.route] += 1

    def counts(self) -> Tuple[Dict[str, int], Dict[str, int]]:
        """(per-result, per-route) copies of the counters."""
        with self._lock:
            return dict(self.results), dict(self.routes)


def standalone(rules: RuleSet, decks_by_path: Mapping[str, decks.Deck], clock: SystemClock = SYSTEM_CLOCK,
               tables: Optional[Mapping[str, BoundTable]] = None) -> Generation:
    """A tool's own generation (a simulation): decks it read itself, a poller of its own that reads the
    switch (whichever ``freeswitch`` module is installed) when asked and starts no thread, and calls
    that stay out of the process's metrics and events."""
    poller = Poller(clock=clock, start=_no_thread, trust_for=float("inf"))  # read once, for the whole run
    poller.announce = False
    wrapped = {path: LoadedFile(path, deck, (), "", clock.time()) for path, deck in decks_by_path.items()}
    generation = Generation(rules, wrapped, poller, clock=clock, observed=False, tables=tables,
                            account_table=read_table(rules.accounts, rules.sell_decks))
    profiles, counted = generation.watched()
    poller.watch("standalone", profiles, counted, rules.defaults.status_ttl, rules.defaults.status_timeout)
    return generation


def _no_thread(name: str, target: Callable[[], None]) -> None:
    """A standalone poller reads only when asked."""
