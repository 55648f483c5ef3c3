"""Gateway ordering: the first pick by strategy, then the failover candidates.

Every strategy sees only the gateways that are up. The first gateway is the
strategy's pick; the others follow as failover candidates (by weight, then
file order, except where the strategy defines a full order itself).
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from .model import Group, Member

# Callers and numbers are hashed on at most this many characters: a caller id
# of a megabyte must not cost a megabyte of hashing per gateway.
MAX_KEY_LEN = 128


class RoundRobin:
    """Smooth weighted round robin for one group (nginx's algorithm).

    Over any run of calls in which the set of up gateways does not change,
    each gateway of weight w gets exactly w picks per cycle of sum(weights),
    evenly interleaved (1:2 gives b, a, b, b, a, b...). When that set changes
    the cycle restarts, so the ratio holds exactly again from there.
    """

    def __init__(self, members: Iterable[Member]) -> None:
        self._members = tuple(members)
        self._current = {m.name: 0 for m in self._members}
        self._up: Optional[Tuple[str, ...]] = None
        self._lock = threading.Lock()
        # every member up, the usual case, worked out once: their names, total weight, failover order
        self._all = tuple(m.name for m in self._members)
        self._total = sum(m.weight for m in self._members)
        self._by_weight = by_weight(self._members)

    def copy(self) -> RoundRobin:
        twin = RoundRobin(self._members)
        with self._lock:
            twin._current = dict(self._current)
            twin._up = self._up
        return twin

    def pick(self, up_members: Sequence[Member]) -> Member:
        """The next member of ``up_members`` (the group's members that are up, in file order)."""
        if len(up_members) == len(self._all):  # as many as the group has: all of them
            up, total = self._all, self._total
        else:
            names: List[str] = []
            total = 0
            for member in up_members:  # a plain loop: this runs on every call
                names.append(member.name)
                total += member.weight
            up = tuple(names)
        with self._lock:
            current = self._current
            if up != self._up:
                self._up = up
                for name in current:
                    current[name] = 0
            best, most = None, 0
            for member in up_members:
                name = member.name
                value = current[name] = current[name] + member.weight
                if best is None or value > most:
                    best, most = member, value
            assert best is not None, "pick() needs at least one member that is up"
            current[best.name] -= total
        return best

    def order(self, up_members: Sequence[Member]) -> List[str]:
        """The names of ``up_members``: the pick first, then the others by weight (ties: file order)."""
        first = self.pick(up_members).name
        rest = self._by_weight if len(up_members) == len(self._all) else by_weight(up_members)
        return [first] + [m.name for m in rest if m.name != first]


def by_weight(members: Sequence[Member]) -> List[Member]:
    """Heaviest first; equal weights in file order (the failover order of the weighted strategies)."""
    return sorted(members, key=_minus_weight)


def _minus_weight(member: Member) -> int:
    return -member.weight


class Selector:
    """Orders a group's up gateways; holds the round-robin state that outlives one call.

    The state is keyed by the group's name, members and weights, and made for
    every round-robin group up front: a reload that leaves a group unchanged
    shares the very same cycle, even with calls still in flight on the old rules.
    """

    def __init__(self, previous: Optional[Selector] = None, groups: Iterable[Group] = (),
                 rng: Optional[random.Random] = None) -> None:
        self._round_robins: Dict[Tuple[str, Tuple[Member, ...]], RoundRobin] = {}
        self._lock = threading.Lock()
        self._random = rng or random.Random()
        carried = previous._round_robins if previous is not None else {}
        for group in groups:
            if group.strategy == "weighted_round_robin":
                key = (group.name, group.members)
                self._round_robins[key] = carried.get(key) or RoundRobin(group.members)

    def copy(self) -> Selector:
        """A Selector that starts where this one is but moves on its own (for dry runs)."""
        twin = Selector()
        with self._lock:
            twin._round_robins = {k: v.copy() for k, v in self._round_robins.items()}
        return twin

    def _round_robin(self, group: Group) -> RoundRobin:
        key = (group.name, group.members)
        state = self._round_robins.get(key)
        if state is None:
            with self._lock:
                state = self._round_robins.setdefault(key, RoundRobin(group.members))
        return state

    def order(self, group: Group, up_members: Sequence[Member], key: Optional[str], limit: int,
              calls: Optional[Callable[[str], int]] = None) -> List[str]:
        """Up to ``limit`` gateway names: the pick first, then failover candidates.

        ``up_members`` are the group's members that are up, in file order;
        ``key`` is the caller or destination for the hash strategies;
        ``calls(name)`` the gateway's active calls for least_calls (None: all 0).
        """
        if not up_members:
            return []
        strategy = group.strategy
        if strategy == "weighted_round_robin":
            return self._round_robin(group).order(up_members)[:limit]
        if strategy == "weighted_random":
            ordered = weighted_shuffle(up_members, self._random.random)
        elif strategy in ("hash_caller", "hash_destination"):
            ordered = rendezvous(up_members, key or "")
        elif strategy == "least_calls":
            ordered = least_calls(up_members, calls or (lambda name: 0))
        else:  # priority
            ordered = list(up_members)
        return [m.name for m in ordered[:limit]]


def weighted_shuffle(members: Sequence[Member], random01: Callable[[], float]) -> List[Member]:
    """Members in a random order where each is first with probability weight / total.

    Efraimidis-Spirakis: sort by u ** (1 / w), u uniform in (0, 1].
    """
    keyed = [((1.0 - random01()) ** (1.0 / m.weight), i, m) for i, m in enumerate(members)]
    keyed.sort(key=lambda t: (-t[0], t[1]))
    return [m for _, _, m in keyed]


def least_calls(members: Sequence[Member], calls: Callable[[str], int]) -> List[Member]:
    """Members by active calls per unit of weight, fewest first; ties: heavier first, then file order."""
    keyed = [(calls(m.name) / m.weight, -m.weight, i, m) for i, m in enumerate(members)]
    keyed.sort(key=lambda t: t[:3])
    return [t[3] for t in keyed]


def _unit_hash(keyed: hashlib.blake2b, name: str) -> float:
    """A uniform value strictly inside (0, 1) for a gateway name, from the key's hash state ``keyed``."""
    h = keyed.copy()
    h.update(name.encode("utf-8"))
    # 52 bits + 0.5 keeps the value strictly inside (0, 1): log() never sees 0 or 1.
    return ((int.from_bytes(h.digest(), "big") >> 12) + 0.5) / 2.0 ** 52


def rendezvous(members: Sequence[Member], key: str) -> List[Member]:
    """Weighted rendezvous (highest random weight) order for ``key``.

    Score -w / ln(h): a key stays on its gateway while that gateway is up,
    and when one goes down only the keys it held move, spread by weight.
    """
    keyed = hashlib.blake2b(("%s\x00" % key[:MAX_KEY_LEN]).encode("utf-8", "surrogatepass"), digest_size=8)
    scored = [(m.weight / math.log(_unit_hash(keyed, m.name)), i, m) for i, m in enumerate(members)]
    scored.sort()  # scores are negative: the best first; ties by file order
    return [m for _, _, m in scored]
