"""What a loaded rules file is: immutable records (RuleSet, Route, Group...) and the problem type.

Pure data: the grammar builds these, the router and runtime read them.
"""

import re
from types import MappingProxyType
from typing import NamedTuple, Optional, Tuple

from .index import RouteIndex


STRATEGIES = ("weighted_round_robin", "weighted_random", "hash_caller",
              "hash_destination", "priority")
DEFAULT_FAILOVER_ON = ("GATEWAY_DOWN", "INVALID_GATEWAY", "NORMAL_TEMPORARY_FAILURE",
                       "NETWORK_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER",
                       "RECOVERY_ON_TIMER_EXPIRE", "SERVICE_UNAVAILABLE")

# What may stand in a dial string's number: anything else is dial-string syntax.
NUMBER_RE = re.compile(r"[0-9A-Za-z+*#._-]{1,64}\Z")
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


class Problem(NamedTuple):
    file: str
    line: int
    col: int
    message: str

    def __str__(self):
        return "%s:%d:%d: %s" % (self.file, self.line, self.col, self.message)


class RulesError(Exception):
    """The rules file is unusable; ``problems`` lists every Problem found."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Action(NamedTuple):
    """What to do with an outcome: hang up with ``cause``, or let the dialplan continue (cause None)."""
    cause: Optional[str]


class Defaults(NamedTuple):
    profile: str = "external"
    status_ttl: float = 2.0
    status_timeout: float = 0.5
    reload_check: float = 1.0
    max_attempts: int = 3
    failover_on: frozenset = frozenset(DEFAULT_FAILOVER_ON)
    on_no_route: Action = Action("NO_ROUTE_DESTINATION")
    on_denied: Action = Action("CALL_REJECTED")
    on_all_down: Action = Action("NORMAL_TEMPORARY_FAILURE")
    on_invalid_number: Action = Action("INVALID_NUMBER_FORMAT")
    on_no_carrier: Action = Action("NO_ROUTE_DESTINATION")
    on_error: Action = Action("NORMAL_TEMPORARY_FAILURE")


class Member(NamedTuple):
    name: str
    weight: int


class Group(NamedTuple):
    name: str
    strategy: str
    members: Tuple[Member, ...]


class Carrier(NamedTuple):
    """A carrier of least-cost routing: its rate deck, where its calls go, how it wants the number."""
    name: str
    deck: str                       # absolute path of the rate deck file
    gateway: Optional[str]
    group: Optional[str]
    number_format: Tuple[str, str]  # what goes before and after the looked-up number
    currency: str

    def dial_number(self, number):
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
    dest: Optional["re.Pattern"]
    conditions: Tuple[Tuple[str, "re.Pattern"], ...]  # other variables
    number: Optional[tuple]  # template parts: str literals and int group numbers
    acl: Optional[str]
    gateway: Optional[str]
    group: Optional[str]
    lcr: Optional[Lcr] = None

    def rewrite(self, match, destination):
        """The number to dial for ``destination`` given the destination regex's match."""
        if self.number is None:
            return destination
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in self.number)


class RuleSet:
    """A loaded, validated, compiled rules file. Treat as read-only."""

    def __init__(self, path, sha256, defaults, acls, ingress_acl, gateway_profiles, groups, routes,
                 carriers=None):
        self.path = path
        self.sha256 = sha256
        self.sha = sha256[:12]
        self.defaults = defaults
        self.acls = MappingProxyType(acls)
        self.ingress_acl = ingress_acl
        self.gateway_profiles = MappingProxyType(gateway_profiles)
        self.groups = MappingProxyType(groups)
        self.routes = tuple(routes)
        self.carriers = MappingProxyType(carriers or {})
        self.index = RouteIndex(self.routes)

    def profile_of(self, gateway):
        """The sofia profile whose gwlist reports ``gateway``."""
        return self.gateway_profiles.get(gateway, self.defaults.profile)

    def gateway_names(self):
        """Every gateway the rules can dial."""
        names = set(self.gateway_profiles)
        names.update(r.gateway for r in self.routes if r.gateway)
        names.update(c.gateway for c in self.carriers.values() if c.gateway)
        for group in self.groups.values():
            names.update(m.name for m in group.members)
        return names
