"""What a loaded rules file is: immutable records (RuleSet, Route, Group...) and the problem type.

Pure data: the grammar builds these, the router and runtime read them.
"""

from __future__ import annotations

import re
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Iterable, Mapping, NamedTuple, Optional, Set, Tuple, Union

from .calendars import Moments
from .causes import CAUSES, FALLBACK_CAUSE
from .index import RouteIndex

if TYPE_CHECKING:
    from .acl import Acl
    from .timespec import TimeSpec
    from .patterns import Regex


STRATEGIES = ("weighted_round_robin", "weighted_random", "hash_caller",
              "hash_destination", "priority", "least_calls")
LIMIT_BACKENDS = ("hash", "hiredis")
DEFAULT_FAILOVER_ON = ("GATEWAY_DOWN", "INVALID_GATEWAY", "NORMAL_TEMPORARY_FAILURE",
                       "NETWORK_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER",
                       "RECOVERY_ON_TIMER_EXPIRE", "SERVICE_UNAVAILABLE")

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
    on_all_busy: Action = Action("NORMAL_CIRCUIT_CONGESTION")
    breaker: Optional[BreakerSettings] = None  # None: no breaker unless a gateway asks for one
    limits: LimitSettings = LimitSettings()
    metrics_listen: Optional[Tuple[str, int]] = None  # (loopback host, port) of the HTTP metrics endpoint
    events: bool = True  # fire the fsroute::route event per call
    tz: Optional[str] = None  # IANA zone of time conditions without their own tz; None: the switch's


CONTINUE = Action(None)


def action_for(outcome: Outcome, defaults: Defaults, bridge_cause: Optional[str] = None,
               route: Optional[Route] = None) -> Action:
    """The one place an outcome becomes an Action: the configured on_* for refusals and errors
    (for no_carrier, the route's own lcr on_no_carrier when it sets one), the last bridge cause for
    a failed bridge, nothing after a bridged call."""
    if outcome is Outcome.NO_CARRIER and route is not None and route.lcr is not None \
            and route.lcr.on_no_carrier is not None:
        return route.lcr.on_no_carrier
    if outcome is Outcome.FAILED:
        known = bridge_cause in CAUSES and bridge_cause != "SUCCESS"
        return Action(bridge_cause if known else FALLBACK_CAUSE)
    if outcome is Outcome.BRIDGED:
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
}


class Member(NamedTuple):
    name: str
    weight: int


class Group(NamedTuple):
    name: str
    strategy: str
    members: Tuple[Member, ...]
    capacity: Capacity = Capacity()


class GatewaySettings(NamedTuple):
    """What the rules say about one gateway beyond its profile (``breaker``: its own or the defaults')."""
    breaker: Optional[BreakerSettings] = None
    capacity: Capacity = Capacity()


class Carrier(NamedTuple):
    """A carrier of least-cost routing: its rate deck, where its calls go, how it wants the number."""
    name: str
    deck: str                       # absolute path of the rate deck file
    gateway: Optional[str]
    group: Optional[str]
    number_format: Tuple[str, str]  # what goes before and after the looked-up number
    currency: str

    def dial_number(self, number: str) -> str:
        return self.number_format[0] + number + self.number_format[1]


class Lcr(NamedTuple):
    """A route's least-cost routing: carriers in order of preference (the tie-break on equal rates)."""
    carriers: Tuple[Carrier, ...]
    max_rate: Optional[int]         # micro-units per minute; never route a call above it
    on_no_carrier: Optional[Action]  # None: defaults.on_no_carrier


class Route(NamedTuple):
    """One route; ``dest`` is the compiled destination_number regex (None if not matched on)."""
    name: str
    line: int
    dest: Optional[Regex]
    conditions: Tuple[Tuple[str, Regex], ...]  # other variables
    number: Optional[Tuple[Union[str, int], ...]]  # template parts: str literals and int group numbers
    acl: Optional[str]
    gateway: Optional[str]
    group: Optional[str]
    when: Tuple[TimeSpec, ...] = ()    # all must hold at the call's instant (calendars.Moment)
    unless: Tuple[TimeSpec, ...] = ()  # none may hold
    lcr: Optional[Lcr] = None

    def rewrite(self, match: Optional[re.Match[str]], destination: str) -> str:
        """The number to dial for ``destination`` given the destination regex's match."""
        if self.number is None:
            return destination
        # $N appear only with a destination regex (the grammar), so ``match`` is there for them
        return "".join(p if isinstance(p, str) else ((match.group(p) if match else None) or "")
                       for p in self.number)


class RuleSet:
    """A loaded, validated, compiled rules file. Treat as read-only."""

    def __init__(self, path: str, sha256: str, defaults: Defaults, acls: Dict[str, Acl], ingress_acl: Optional[str],
                 gateway_profiles: Dict[str, str], groups: Dict[str, Group], routes: Iterable[Route],
                 warnings: Iterable[Problem] = (), carriers: Optional[Dict[str, Carrier]] = None,
                 gateway_settings: Optional[Mapping[str, GatewaySettings]] = None) -> None:
        self.path = path
        self.sha256 = sha256
        self.sha = sha256[:12]
        self.defaults = defaults
        self.acls: Mapping[str, Acl] = MappingProxyType(acls)
        self.ingress_acl = ingress_acl
        self.gateway_profiles: Mapping[str, str] = MappingProxyType(gateway_profiles)
        self.groups: Mapping[str, Group] = MappingProxyType(groups)
        self.routes = tuple(routes)
        self.carriers: Mapping[str, Carrier] = MappingProxyType(carriers or {})
        self.index = RouteIndex(self.routes)
        self.gateway_settings: Mapping[str, GatewaySettings] = MappingProxyType(dict(gateway_settings or {}))
        self._default_settings = GatewaySettings(defaults.breaker)
        self.warnings = tuple(warnings)  # Problems that do not stop the file from loading
        self.moments = Moments()         # time conditions' verdicts, per second (calendars.py)
        self.timed = any(r.when or r.unless for r in self.routes)  # whether a call's instant matters
        self.has_lcr = any(r.lcr is not None for r in self.routes)  # least-cost routes: rates read at an instant

    def profile_of(self, gateway: str) -> str:
        """The sofia profile whose gwlist reports ``gateway``."""
        return self.gateway_profiles.get(gateway, self.defaults.profile)

    def settings_of(self, gateway: str) -> GatewaySettings:
        """The gateway's breaker (the defaults' one unless it has its own) and capacity."""
        return self.gateway_settings.get(gateway, self._default_settings)

    def gateway_names(self) -> Set[str]:
        """Every gateway the rules can dial."""
        names = set(self.gateway_profiles)
        names.update(self.gateway_settings)
        names.update(r.gateway for r in self.routes if r.gateway)
        names.update(c.gateway for c in self.carriers.values() if c.gateway)
        for group in self.groups.values():
            names.update(m.name for m in group.members)
        return names
