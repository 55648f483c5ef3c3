"""What a loaded rules file is: immutable records (RuleSet, Route, Group...) and the problem type.

Pure data: the grammar builds these, compiler.py adds what calls read them
through (the index, the time verdicts), the router and runtime read them.
This module imports neither.
"""

from __future__ import annotations

import re
from enum import Enum
from types import MappingProxyType
from typing import (TYPE_CHECKING, Callable, Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Protocol,
                    Sequence, Set, Tuple)

from .causes import CAUSES, FALLBACK_CAUSE
from .templates import Lookup, Parts, expand, groups_of, over_number

if TYPE_CHECKING:
    from .acl import Acl
    from .calendars import Moments
    from .timespec import TimeSpec
    from .patterns import Regex
    from .quality import QualityRule, QualitySettings


STRATEGIES = ("weighted_round_robin", "weighted_random", "hash_caller",
              "hash_destination", "priority", "least_calls")
LIMIT_BACKENDS = ("hash", "hiredis")
DEFAULT_FAILOVER_ON = ("GATEWAY_DOWN", "INVALID_GATEWAY", "NORMAL_TEMPORARY_FAILURE",
                       "NETWORK_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER",
                       "RECOVERY_ON_TIMER_EXPIRE", "SERVICE_UNAVAILABLE",
                       "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "PROGRESS_TIMEOUT")

# What may stand in a dial string's number: anything else is dial-string syntax.
NUMBER_RE = re.compile(r"[0-9A-Za-z+*#._-]{1,64}\Z")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
# Below this a gwlist reading would be re-read by nearly every call.
MIN_STATUS_TTL = 0.5


class Problem(NamedTuple):
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line == 0:  # about the whole file (it cannot be read): as compilers and editors say it
            return "%s: error: %s" % (self.file, self.message)
        return "%s:%d:%d: %s" % (self.file, self.line, self.col, self.message)


class RulesError(Exception):
    """The rules file is unusable; ``problems`` lists every Problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Action(NamedTuple):
    """What to do with an outcome: hang up with ``cause``, or let the dialplan continue (cause None)."""
    cause: Optional[str]


class BreakerSettings(NamedTuple):
    """When a gateway is benched: ``failures`` failover causes within ``window`` s bench it for ``cooldown`` s,
    doubled after each failed probe up to ``max_cooldown``; ``last_resort`` tries benched ones when nothing
    else is left."""
    failures: int = 5
    window: float = 30.0
    cooldown: float = 30.0
    max_cooldown: float = 300.0
    last_resort: bool = False


class LimitSettings(NamedTuple):
    """Which FreeSWITCH ``limit`` backend counts calls, and its realm (for hiredis: the hiredis.conf profile)."""
    backend: str = "hash"
    realm: str = "fsroute"


class Capacity(NamedTuple):
    """A gateway's or group's limits: concurrent calls, and new calls per ``interval`` seconds."""
    max_calls: Optional[int] = None
    max_cps: Optional[Tuple[int, int]] = None  # (calls, interval seconds)


class Accounts(NamedTuple):
    """The ``accounts:`` section. ``variable`` / ``acl``: the key (neither: the source address)."""
    variable: Optional[str] = None
    acl: Optional[str] = None
    unknown: str = "unknown"
    limits: Capacity = Capacity()
    overrides: Mapping[str, Capacity] = MappingProxyType({})
    table: Optional[str] = None   # absolute path of the CSV table of accounts, if any
    sell_deck: Optional[str] = None  # every account's sell deck (after a route's own sell default)
    sell_decks: Mapping[str, str] = MappingProxyType({})  # account -> the sell deck its inline row names


FRAUD_MEASURES = ("calls", "concurrent", "same_number", "minutes", "spend")


class Threshold(NamedTuple):
    """A fraud rule's levels for one measure (minutes counted in seconds, spend in micro-units)."""
    measure: str                  # one of FRAUD_MEASURES
    warn: Optional[float] = None
    block: Optional[float] = None


class FraudRule(NamedTuple):
    """One rule of ``fraud:``: which calls it watches, per what, over which window, and its levels."""
    name: str
    line: int
    routes: FrozenSet[str] = frozenset()   # empty: calls of any route
    prefixes: Tuple[str, ...] = ()         # of the number dialled; empty: any number
    per_destination: bool = False          # count per account and number dialled, not per account
    window: float = 3600.0
    thresholds: Tuple[Threshold, ...] = ()
    block_for: float = 3600.0
    on_block: Action = Action("OUTGOING_CALL_BARRED")  # SIP 403
    rate: Optional[int] = None             # micro-units per minute the rule prices at (else the lcr rate)
    increments: Tuple[int, int] = (1, 1)
    connect_fee: int = 0
    when: Tuple[TimeSpec, ...] = ()
    unless: Tuple[TimeSpec, ...] = ()
    when_any: Tuple[TimeSpec, ...] = ()
    table: Optional[str] = None            # a number table of ``tables:``: a number with a row in it is watched


class Outcome(str, Enum):
    """How a call ended, as ``fsroute_result`` and the log line say it."""
    BRIDGED = "bridged"
    NO_ROUTE = "no_route"
    DENIED = "denied"
    ALL_DOWN = "all_down"
    INVALID_NUMBER = "invalid_number"
    ALL_BUSY = "all_busy"
    NO_CARRIER = "no_carrier"
    FAILED = "failed"
    ERROR = "error"
    BLOCKED = "blocked"           # the route's action is hangup: CAUSE
    TRANSFERRED = "transferred"   # the route's action is transfer: 'EXT [DIALPLAN [CONTEXT]]'
    CONTINUED = "continued"       # the route's action is continue: the dialplan goes on
    NO_MARGIN = "no_margin"       # an lcr route's carriers all break its min_margin
    OVER_LIMIT = "over_limit"     # the call's account is at its max_calls or max_cps (accounts:)
    FRAUD_BLOCKED = "fraud_blocked"  # a fraud rule blocked the call's account (fraud:)

    def __str__(self) -> str:
        return self.value


class Defaults(NamedTuple):
    profile: str = "external"
    status_ttl: float = 2.0         # at least MIN_STATUS_TTL
    status_timeout: float = 0.5
    reload_check: float = 1.0
    max_attempts: int = 3
    failover_on: FrozenSet[str] = frozenset(DEFAULT_FAILOVER_ON)
    on_no_route: Action = Action("NO_ROUTE_DESTINATION")
    on_denied: Action = Action("CALL_REJECTED")
    on_all_down: Action = Action("NORMAL_TEMPORARY_FAILURE")
    on_invalid_number: Action = Action("INVALID_NUMBER_FORMAT")
    on_no_carrier: Action = Action("NO_ROUTE_DESTINATION")
    on_error: Action = Action("NORMAL_TEMPORARY_FAILURE")
    strict_gateways: bool = False   # every gateway a route or group names must be under gateways:
    on_all_busy: Action = Action("NORMAL_CIRCUIT_CONGESTION")
    breaker: Optional[BreakerSettings] = None  # None: no breaker unless a gateway asks for one
    limits: LimitSettings = LimitSettings()
    metrics_listen: Optional[Tuple[str, int]] = None  # (loopback host, port) of the HTTP metrics endpoint
    events: bool = True  # fire the fsroute::route event per call
    tz: Optional[str] = None  # IANA zone of time conditions without their own tz; None: the switch's
    quality: Optional[QualitySettings] = None  # None: quality is not measured (core.quality)
    on_over_limit: Action = Action("NORMAL_CIRCUIT_CONGESTION")  # an account over max_calls / max_cps: 503


CONTINUE = Action(None)


def action_for(outcome: Outcome, defaults: Defaults, bridge_cause: Optional[str] = None,
               route: Optional[Route] = None, fraud_rule: Optional[FraudRule] = None) -> Action:
    """The one place an outcome becomes an Action: the configured on_* for refusals and errors
    (for no_carrier, the route's own lcr on_no_carrier when it sets one), the cause the call named
    (``bridge_cause``: the last bridge's, or the rule's that blocked it), nothing after a bridged,
    transferred or continued call."""
    if outcome is Outcome.NO_CARRIER and route is not None and route.lcr is not None \
            and route.lcr.on_no_carrier is not None:
        return route.lcr.on_no_carrier
    if outcome is Outcome.NO_MARGIN:  # the route's on_no_margin, else what it does with no carrier
        margin = route.lcr.margin if route is not None and route.lcr is not None else None
        if margin is not None and margin.on_no_margin is not None:
            return margin.on_no_margin
        return action_for(Outcome.NO_CARRIER, defaults, route=route)
    if outcome is Outcome.FRAUD_BLOCKED:  # the blocking rule's on_block
        return (fraud_rule or FraudRule("", 0)).on_block
    if outcome in (Outcome.FAILED, Outcome.BLOCKED):
        known = bridge_cause in CAUSES and bridge_cause != "SUCCESS"
        return Action(bridge_cause if known else FALLBACK_CAUSE)
    if outcome in (Outcome.BRIDGED, Outcome.TRANSFERRED, Outcome.CONTINUED):
        return CONTINUE
    return _CONFIGURED[outcome](defaults)


_CONFIGURED: Dict[Outcome, Callable[[Defaults], Action]] = {
    Outcome.NO_ROUTE: lambda d: d.on_no_route,
    Outcome.DENIED: lambda d: d.on_denied,
    Outcome.ALL_DOWN: lambda d: d.on_all_down,
    Outcome.INVALID_NUMBER: lambda d: d.on_invalid_number,
    Outcome.ALL_BUSY: lambda d: d.on_all_busy,
    Outcome.NO_CARRIER: lambda d: d.on_no_carrier,
    Outcome.ERROR: lambda d: d.on_error,
    Outcome.OVER_LIMIT: lambda d: d.on_over_limit,
}


class Member(NamedTuple):
    name: str
    weight: int


class Group(NamedTuple):
    name: str
    strategy: str
    members: Tuple[Member, ...]
    capacity: Capacity = Capacity()
    failover_on: Optional[FrozenSet[str]] = None  # None: the route's (core.failover)
    quality: Optional[QualityRule] = None  # None: defaults.quality's thresholds


class GatewaySettings(NamedTuple):
    """What the rules say about one gateway beyond its profile (``breaker``: its own or the defaults')."""
    breaker: Optional[BreakerSettings] = None
    capacity: Capacity = Capacity()
    failover_on: Optional[FrozenSet[str]] = None  # None: its carrier's, group's, route's (core.failover)


class Carrier(NamedTuple):
    """A carrier of least-cost routing: its rate deck, where its calls go, how it wants the number."""
    name: str
    deck: str                       # absolute path of the rate deck file
    gateway: Optional[str]
    group: Optional[str]
    number_format: Parts            # a template over the looked-up number ($0) and the call's ${var}
    currency: str
    failover_on: Optional[FrozenSet[str]] = None  # None: its group's, the route's (core.failover)

    def dial_number(self, number: str, lookup: Lookup = lambda name: None) -> str:
        """``number`` in the carrier's format, its ${var} read through ``lookup`` (checked by the caller)."""
        return over_number(self.number_format, number, lookup)


class Margin(NamedTuple):
    """An lcr route's sell side: the channel variable naming the sell deck (else ``sell_default``), and the
    least margin a carrier's expected call must leave (micro-units, and/or percent of the sell price)."""
    sell_variable: str = "fsroute_sell_deck"
    sell_default: Optional[str] = None
    min_amount: Optional[int] = None
    min_percent: Optional[float] = None
    on_no_margin: Optional[Action] = None  # None: as for no_carrier

    @property
    def guarded(self) -> bool:
        """Whether carriers that would break a minimum margin are dropped."""
        return self.min_amount is not None or self.min_percent is not None


class Lcr(NamedTuple):
    """A route's least-cost routing: carriers in order of preference (the tie-break on equal costs)."""
    carriers: Tuple[Carrier, ...]
    max_rate: Optional[int]         # micro-units per minute; never route a call above it
    on_no_carrier: Optional[Action]  # None: defaults.on_no_carrier
    expected_seconds: Optional[int] = None  # the call length carriers are priced at (None: lcr.expected_seconds)
    margin: Optional[Margin] = None


class SellDeck(NamedTuple):
    """A customer rate deck under ``sell_decks:``: what calls are sold at."""
    name: str
    deck: str                       # absolute path of the rate deck file


class HasDeck(Protocol):
    """A carrier or a sell deck: whatever names a rate deck file by its path."""

    @property
    def name(self) -> str: ...

    @property
    def deck(self) -> str: ...


# A number template: str literals, int group numbers ($N) of the destination regex, ${var}.
Template = Parts


def _no_variables(name: str) -> Optional[str]:
    return None


def fill(template: Template, match: Optional[re.Match[str]], lookup: Lookup = _no_variables) -> str:
    """``template`` with its $N replaced by the destination regex's groups (unmatched: "") and
    its ${var} by ``lookup(var)``."""
    # $N appear only with a destination regex (the grammar), so ``match`` is there for them
    return expand(template, groups_of(match), lookup)


class CallerId(NamedTuple):
    """Caller-ID rewrite: when ``match`` finds caller_id_number, ``number``/``name`` (templates over its
    $N) go into origination_caller_id_number/name; otherwise keep it (``refuse`` None) or refuse the call."""
    match: Regex
    number: Optional[Parts]
    name: Optional[Parts]
    refuse: Optional[str]


class Dialling(NamedTuple):
    """What a route or a gateway adds to each attempt through it: leg variables in the dial string,
    channel variables set (and exported to the outbound leg) before the bridge, a caller-ID rewrite."""
    leg: Tuple[Tuple[str, Parts], ...] = ()
    set: Tuple[Tuple[str, Parts], ...] = ()
    export: Tuple[Tuple[str, Parts], ...] = ()
    caller_id: Optional[CallerId] = None


NO_DIALLING = Dialling()


class GatewaySpec(NamedTuple):
    """A gateway declared under ``gateways:``: its profile, number format ($0: the route's number after
    ``strip`` leading characters) and what it adds to each attempt."""
    profile: Optional[str] = None
    number: Optional[Parts] = None
    strip: int = 0
    dialling: Dialling = NO_DIALLING
    line: int = 0


class Transfer(NamedTuple):
    """``transfer: 'EXTENSION [DIALPLAN [CONTEXT]]'``: the extension may use the route's $N."""
    extension: Template
    dialplan: Optional[str]
    context: Optional[str]

    def data(self, extension: str) -> str:
        """The transfer application's argument for the filled-in ``extension``."""
        return " ".join(part for part in (extension, self.dialplan, self.context) if part)


class RouteTiming(NamedTuple):
    """A route's time conditions; most routes of a large table have none, so they share one optional field."""
    when: Tuple[TimeSpec, ...] = ()
    unless: Tuple[TimeSpec, ...] = ()
    when_any: Tuple[TimeSpec, ...] = ()


class RoutePolicy(NamedTuple):
    """The failover and quality settings a route has of its own: few routes have any, so they share
    one optional field rather than costing every route of a 100,000-route table four."""
    failover_on: Optional[FrozenSet[str]] = None
    max_attempts: Optional[int] = None
    max_seconds: Optional[float] = None
    quality: Optional[QualityRule] = None


class Route(NamedTuple):
    """One route; ``dest`` is the compiled destination_number regex (None if not matched on).

    Its action is exactly one of: bridge through ``gateway`` or ``group``, ``hangup`` with a
    cause, ``transfer``, or ``continues`` (leave the call to the next dialplan action).
    """
    name: str
    line: int
    dest: Optional[Regex]
    conditions: Tuple[Tuple[str, Regex], ...]  # other variables
    number: Optional[Template]
    acl: Optional[str]
    gateway: Optional[str]
    group: Optional[str]
    hangup: Optional[str] = None
    transfer: Optional[Transfer] = None
    continues: bool = False
    dialling: Dialling = NO_DIALLING
    gateway_var: Optional[str] = None   # gateway: '${var}': the gateway is the call's variable
    timing: Optional[RouteTiming] = None  # its time conditions (None: it holds at any instant)
    lcr: Optional[Lcr] = None
    policy: Optional[RoutePolicy] = None  # its own failover and quality settings (None: none of them)
    table: Optional[str] = None  # look the number up in this table; its row says what to do (none: next route)

    @property
    def when(self) -> Tuple[TimeSpec, ...]:
        """All must hold at the call's instant (calendars.Moment)."""
        return self.timing.when if self.timing is not None else ()

    @property
    def unless(self) -> Tuple[TimeSpec, ...]:
        """None may hold."""
        return self.timing.unless if self.timing is not None else ()

    @property
    def when_any(self) -> Tuple[TimeSpec, ...]:
        """At least one must hold."""
        return self.timing.when_any if self.timing is not None else ()

    @property
    def failover_on(self) -> Optional[FrozenSet[str]]:
        """Its own failover_on (None: defaults'; core.failover: nearer lists win)."""
        return self.policy.failover_on if self.policy is not None else None

    @property
    def max_attempts(self) -> Optional[int]:
        """Its own max_attempts (None: defaults')."""
        return self.policy.max_attempts if self.policy is not None else None

    @property
    def max_seconds(self) -> Optional[float]:
        """No attempt starts once the call has waited this long (None: no limit)."""
        return self.policy.max_seconds if self.policy is not None else None

    @property
    def quality(self) -> Optional[QualityRule]:
        """Its own quality thresholds (None: its group's, else defaults.quality's)."""
        return self.policy.quality if self.policy is not None else None

    def rewrite(self, match: Optional[re.Match[str]], destination: str, lookup: Lookup = _no_variables) -> str:
        """The number to dial for ``destination`` given the destination regex's match."""
        if self.number is None:
            return destination
        return fill(self.number, match, lookup)


class Layout(NamedTuple):
    """How a table file is read: key kind and the columns the rules use (names as the header says them)."""
    kind: str                        # "exact" or "prefix"
    key: str                         # the number column
    values: Tuple[str, ...] = ()     # the columns kept per row, in this order
    effective_from: Optional[str] = None
    effective_to: Optional[str] = None
    header: bool = True              # False: a plain list, one key a line (mod_blacklist's files)


class TableSpec(NamedTuple):
    """A table the rules name: its file and layout, and what the layout's value columns mean (in
    ``layout.values``: the target column if ``target``, the number column if ``number``, then one
    column per channel variable in ``variables``)."""
    name: str
    path: str                      # absolute
    layout: Layout
    target: bool                   # a target column (else every row's target is ``action``)
    number: bool                   # a number column
    variables: Tuple[str, ...]     # channel variable names
    action: Optional[str] = None   # the target of every row (a blocklist: 'hangup:CALL_REJECTED')
    target_kind: str = "gateway"   # how a target cell that is a plain NAME reads
    line: int = 0                  # of the table in the rules file

    @property
    def routes(self) -> bool:
        """Whether its rows say where a call goes (else they only give numbers, for lookup:)."""
        return self.target or self.action is not None


class NumberLookup(NamedTuple):
    """``lookup:``, number portability: before routing and rating, the destination's row in ``table`` gives
    the routing number (the LRN, the row's number column), which routes and rates the call; ``dial``: the
    number the gateway gets, the ``dialled`` one (as mod_lcr) or the ``routing`` one. A call that comes
    with ``variable`` set (dipped upstream: mod_lcr's ``lrn``) is routed on that and not looked up."""
    table: str
    dial: str = "dialled"
    variable: str = "lrn"


class Candidates(Protocol):
    """The compiled route index (index.RouteIndex): the routes that may match a number, in file order."""

    def candidates(self, number: str) -> Sequence[Route]: ...


class RuleSet:
    """A loaded, validated rules file. Treat as read-only.

    The grammar fills the record; ``index`` and ``moments`` are what
    ``compiler.compile_rules`` adds before anyone routes a call with it.
    """

    index: Candidates  # the routes filed by destination prefix
    moments: Moments   # time conditions' verdicts, per second

    def __init__(self, path: str, sha256: str, defaults: Defaults, acls: Dict[str, Acl], ingress_acl: Optional[str],
                 gateway_profiles: Dict[str, str], groups: Dict[str, Group], routes: Iterable[Route],
                 gateway_specs: Optional[Dict[str, GatewaySpec]] = None, warnings: Iterable[Problem] = (),
                 carriers: Optional[Dict[str, Carrier]] = None,
                 gateway_settings: Optional[Mapping[str, GatewaySettings]] = None,
                 sell_decks: Optional[Dict[str, SellDeck]] = None,
                 tables: Optional[Mapping[str, TableSpec]] = None, lookup: Optional[NumberLookup] = None,
                 accounts: Optional[Accounts] = None, fraud: Iterable[FraudRule] = ()) -> None:
        self.path = path
        self.sha256 = sha256
        self.sha = sha256[:12]
        self.defaults = defaults
        self.acls: Mapping[str, Acl] = MappingProxyType(acls)
        self.ingress_acl = ingress_acl
        self.gateway_profiles: Mapping[str, str] = MappingProxyType(gateway_profiles)
        self.gateway_specs: Mapping[str, GatewaySpec] = MappingProxyType(gateway_specs or {})
        self.groups: Mapping[str, Group] = MappingProxyType(groups)
        self.routes: Sequence[Route] = tuple(routes)  # compile_rules may store a big set otherwise
        self.carriers: Mapping[str, Carrier] = MappingProxyType(carriers or {})
        self.gateway_settings: Mapping[str, GatewaySettings] = MappingProxyType(dict(gateway_settings or {}))
        self._default_settings = GatewaySettings(defaults.breaker)
        self.warnings = tuple(warnings)  # Problems that do not stop the file from loading
        self.tables: Mapping[str, TableSpec] = MappingProxyType(dict(tables or {}))
        self.lookup = lookup  # number portability before routing (None: none)
        self.timed = any(r.timing is not None for r in self.routes)  # whether a call's instant matters
        self.has_lcr = any(r.lcr is not None for r in self.routes)  # least-cost routes: rates read at an instant
        self._route_gateways = frozenset(r.gateway for r in self.routes if r.gateway)  # read once, not per scrape
        self.sell_decks: Mapping[str, SellDeck] = MappingProxyType(sell_decks or {})
        self.accounts = accounts  # None: no account limits, nothing counted per account
        self.fraud = tuple(fraud)  # the fraud rules, in file order

    def profile_of(self, gateway: str) -> str:
        """The sofia profile whose gwlist reports ``gateway``."""
        return self.gateway_profiles.get(gateway, self.defaults.profile)

    def settings_of(self, gateway: str) -> GatewaySettings:
        """The gateway's breaker (the defaults' one unless it has its own) and capacity."""
        return self.gateway_settings.get(gateway, self._default_settings)

    def deck_paths(self) -> List[str]:
        """The rate deck files the carriers and sell_decks name, each once, sorted."""
        return sorted({carrier.deck for carrier in self.carriers.values()}
                      | {sell.deck for sell in self.sell_decks.values()})

    def table_paths(self) -> List[str]:
        """The table files read with each generation (number tables, the accounts table), each once, sorted."""
        return sorted({spec.path for spec in self.tables.values()}
                      | ({self.accounts.table} if self.accounts is not None and self.accounts.table else set()))

    def gateway_names(self) -> Set[str]:
        """Every gateway the rules can dial."""
        names = set(self.gateway_profiles) | set(self.gateway_specs)
        names.update(self.gateway_settings)
        names.update(self._route_gateways)
        names.update(c.gateway for c in self.carriers.values() if c.gateway)
        for group in self.groups.values():
            names.update(m.name for m in group.members)
        return names
