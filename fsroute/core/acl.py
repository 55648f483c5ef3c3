"""Access lists with FreeSWITCH's semantics (switch_check_network_list_ip_token).

Among the nodes whose CIDR holds the address, the one with the most prefix
bits decides; on equal bits the EARLIER node in the file wins; with no
match the list's default applies. An address written ``::ffff:a.b.c.d`` is
matched as IPv4 (FreeSWITCH strips that exact prefix, in any case); every
other IPv6 text, even the hex or long form of a mapped address, is IPv6.
All of this was measured against the switch's own ``acl`` API
(tests/integration/test_acl_differential.py, docs/integration.md).

An address that does not parse is denied: FreeSWITCH would read it as
0.0.0.0 and might let it through. CIDRs written ``::ffff:...`` are refused
at load: FreeSWITCH reads ``::ffff:10.0.0.0/8`` as 10.0.0.0/8 and drops
``::ffff:10.0.0.0/104`` with an error, which is not what anyone means. So
are two more constructs it misreads: a /0 with address bits set (one host
to FreeSWITCH) and 0.0.0.0/32 (every IPv4 address, at 32 bits).
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Iterable, Optional, Tuple, Union

from cachetools import LRUCache

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_address(text: object) -> Optional[IPAddress]:
    """The source address as an ip_address, or None when it is not one plain address."""
    if not isinstance(text, str) or "%" in text or len(text) > 45:
        return None  # zone ids, lists and junk: inet_pton refuses them too
    try:
        if text[:7].lower() == MAPPED_PREFIX:  # what FreeSWITCH matches as IPv4
            return ipaddress.IPv4Address(text[7:])
        return ipaddress.ip_address(text)
    except ValueError:
        return None


MAPPED_PREFIX = "::ffff:"


def parse_network(text: object) -> IPNetwork:
    """A CIDR (or bare address) as an ip_network; host bits are masked off as FreeSWITCH does.

    Raises ValueError with a readable message.
    """
    if not isinstance(text, str) or "%" in text:
        raise ValueError("%r is not a CIDR" % (text,))
    if text.strip()[:7].lower() == MAPPED_PREFIX:
        raise ValueError("%r: write IPv4-mapped networks as IPv4 CIDRs (FreeSWITCH reads '::ffff:10.0.0.0/8' "
                         "as 10.0.0.0/8 and drops '::ffff:10.0.0.0/104'); '::ffff:a.b.c.d' sources are "
                         "matched against IPv4 nodes" % (text,))
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
        address = ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        raise ValueError("%r is not a CIDR (like 192.0.2.0/24 or 2001:db8::/32)" % (text,)) from None
    if network.prefixlen == 0 and int(address):
        raise ValueError("%r: FreeSWITCH reads a /0 with address bits set as the one host %s; write %s/0 "
                         "for every address or %s/%d for that host"
                         % (text, address, network.network_address, address, address.max_prefixlen))
    if network.version == 4 and network.prefixlen == 32 and not int(address):
        raise ValueError("%r: FreeSWITCH matches every IPv4 address with 0.0.0.0/32, ahead of every "
                         "other node; write 0.0.0.0/0 if you mean every address" % (text,))
    return network


class Acl:
    """One named list: a default and ordered (allow, network) nodes.

    Verdicts are cached per address text; the cache is guarded by a lock
    because every call thread shares it.
    """

    CACHE_SIZE = 8192

    def __init__(self, name: str, default_allow: bool, nodes: Iterable[Tuple[bool, IPNetwork]],
                 lines: Iterable[int] = ()) -> None:
        self.name = name
        self.default_allow = bool(default_allow)
        self.nodes = tuple(nodes)
        self.lines = tuple(lines)  # each node's line in the rules file, for explanations
        self._by_version = {
            v: [(int(n.network_address), int(n.netmask), n.prefixlen, i)
                for i, (allow, n) in enumerate(self.nodes) if n.version == v]
            for v in (4, 6)
        }
        self._cache: LRUCache[object, bool] = LRUCache(self.CACHE_SIZE)
        self._lock = threading.Lock()

    def allows(self, address_text: object) -> bool:
        """True when the list lets ``address_text`` through; unparsable text is denied."""
        with self._lock:
            verdict = self._cache.get(address_text)
        if verdict is None:
            verdict = self.allows_address(parse_address(address_text))
            if isinstance(address_text, str) and len(address_text) <= 64:
                with self._lock:
                    self._cache[address_text] = verdict
        return verdict

    def allows_address(self, address: Optional[IPAddress]) -> bool:
        """The verdict for an ip_address (or None, which is denied)."""
        if address is None:
            return False
        node = self.deciding_node(address)
        return self.default_allow if node is None else self.nodes[node][0]

    def deciding_node(self, address: IPAddress) -> Optional[int]:
        """The index in ``nodes`` of the node that decides for an ip_address, or None: the default decides."""
        value = int(address)
        best_bits = -1
        decider: Optional[int] = None
        for network, mask, bits, index in self._by_version[address.version]:
            if value & mask == network and bits > best_bits:  # equal bits: the earlier node stays
                best_bits = bits
                decider = index
        return decider
