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
from typing import Callable, Dict, FrozenSet, Mapping, Optional, Tuple

from fsroute.core import decks
from fsroute.core.model import Carrier, RuleSet
from fsroute.core.selection import Selector
from .accounts import TableState, read_table
from .breakers import Breakers
from .clock import SYSTEM_CLOCK, SystemClock
from .deckcache import LoadedDeck
from .limits import any_limits, counted_resources, usage_key
from .poller import Poller
from .record import CallRecord, Observer


class Generation:
    """One complete version of a rules file, with its decks; read by any number of call threads.

    ``observed``: whether its calls reach the process's metrics and events
    (False for a tool's private generation, e.g. a simulation).
    """

    def __init__(self, rules: RuleSet, decks_by_path: Mapping[str, LoadedDeck], poller: Poller,
                 previous: Optional[Generation] = None, clock: SystemClock = SYSTEM_CLOCK,
                 observed: bool = True, account_table: TableState = ({}, ())) -> None:
        self.rules = rules
        self.clock = clock
        self.observed = observed
        self.poller = poller
        self._down = poller.down
        self.loaded_at = clock.time()
        self.decks: Dict[str, LoadedDeck] = dict(decks_by_path)
        self._deck_by_path: Dict[str, decks.Deck] = {path: d.deck for path, d in decks_by_path.items()}
        self.selector: Selector = Selector(previous.selector if previous else None, rules.groups.values())
        self.breakers: Breakers = Breakers(rules, previous.breakers if previous else None, clock=clock.monotonic)
        # what the router asks besides is_up (core.router.GatewayHealth)
        self.any_breaker = self.breakers.any_breaker
        self.benched = self.breakers.benched
        self.last_resort = self.breakers.last_resort
        self._usage_keys = {name: usage_key(rules, name) for name in counted_resources(rules)}
        self.limited = any_limits(rules)  # False: every attempt is a plain bridge
        self._profiles = {name: rules.profile_of(name) for name in rules.gateway_names()}
        self._default_profile = rules.defaults.profile
        self.observers: Optional[Tuple[Observer, ...]] = None  # who is told of its calls (runtime.observers)
        self.tally = Tally()  # its calls by result and route, for ``ctl status``
        self.account_table = account_table  # (the accounts table's rows by account, its file's signature)

    def is_up(self, gateway: str) -> bool:
        """Whether ``gateway`` may be tried: the last trusted gwlist reading of its profile does not
        report it DOWN (unknown: up)."""
        down = self._down(self._profiles.get(gateway, self._default_profile))
        return down is None or gateway not in down

    def calls(self, gateway: str) -> int:
        """Active calls through ``gateway`` in the poller's last count (0 when not counted or unknown)."""
        key = self._usage_keys.get(gateway)
        return self.poller.count(key) if key is not None else 0

    def started(self, gateway: str) -> None:
        """An attempt on ``gateway`` is about to be dialled (least_calls counts it at once)."""
        if self._usage_keys:
            key = self._usage_keys.get(gateway)
            if key is not None:
                self.poller.started(key)

    def deck_of(self, carrier: Carrier) -> Optional[decks.Deck]:
        """The carrier's rate deck in this generation (None only when it failed at the very first load)."""
        return self._deck_by_path.get(carrier.deck)

    def watched(self) -> Tuple[FrozenSet[str], FrozenSet[str]]:
        """(the sofia profiles whose gwlist it reads, the limit_usage counts least_calls reads)."""
        rules = self.rules
        profiles = frozenset(rules.profile_of(name) for name in rules.gateway_names()) | {rules.defaults.profile}
        return profiles, frozenset(self._usage_keys.values())

    def counts(self) -> Tuple[Dict[str, int], Dict[str, int]]:
        """(per-result, per-route) copies of its call counters."""
        return self.tally.counts()


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


def standalone(rules: RuleSet, decks_by_path: Mapping[str, decks.Deck], clock: SystemClock = SYSTEM_CLOCK
               ) -> Generation:
    """A tool's own generation (a simulation): decks it read itself, a poller of its own that reads the
    switch (whichever ``freeswitch`` module is installed) when asked and starts no thread, and calls
    that stay out of the process's metrics and events."""
    poller = Poller(clock=clock, start=_no_thread, trust_for=float("inf"))  # read once, for the whole run
    poller.announce = False
    wrapped = {path: LoadedDeck(path, deck, (), "", clock.time()) for path, deck in decks_by_path.items()}
    generation = Generation(rules, wrapped, poller, clock=clock, observed=False, account_table=read_table(rules.accounts))
    profiles, counted = generation.watched()
    poller.watch("standalone", profiles, counted, rules.defaults.status_ttl, rules.defaults.status_timeout)
    return generation


def _no_thread(name: str, target: Callable[[], None]) -> None:
    """A standalone poller reads only when asked."""
