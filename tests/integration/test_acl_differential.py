"""fsroute.core.acl against the switch's own `acl <ip> <list>` over 12,000 generated cases.

What it found (fixed in fsroute.core.acl, see docs/integration.md): on equal
prefix bits the EARLIER node wins (not the later); only the literal
``::ffff:a.b.c.d`` spelling is matched as IPv4; a ``::ffff:...`` CIDR is
read as IPv4 with the same bit count (or dropped when that is over 32), so
fsroute refuses those CIDRs. /0 nodes match in this build, but a /0 with
address bits set matches only that host, and 0.0.0.0/32 matches every
IPv4 address: both refused too.

The lists go into acl.conf.xml (reloadxml + reloadacl); the questions go over
one event-socket connection. DESIGN fact 10 says what both should do; where
they differ, the switch is right.
"""

import ipaddress
import random

from fsroute.core.acl import Acl, parse_network

SEED = 20261201
LISTS = 200
ADDRESSES_PER_LIST = 60


def random_v4(rng):
    return ipaddress.IPv4Address(rng.getrandbits(32))


def random_v6(rng):
    return ipaddress.IPv6Address(rng.getrandbits(128))


def node_cidr(rng, anchor):
    """A CIDR around ``anchor``: v4, v6 or v4-mapped v6; /0, host routes, host bits left set."""
    kind = rng.random()
    if kind < 0.55:
        bits = rng.choice([0, 1, 8, 16, 23, 24, 25, 30, 31, 32, rng.randint(0, 32)])
        address = anchor if isinstance(anchor, ipaddress.IPv4Address) else random_v4(rng)
        if rng.random() < 0.7:  # usually the network address; sometimes with host bits set
            address = ipaddress.IPv4Network("%s/%d" % (address, bits), strict=False).network_address
        return "%s/%d" % (address, bits)
    if kind < 0.85:
        bits = rng.choice([0, 1, 32, 48, 64, 96, 127, 128, rng.randint(0, 128)])
        address = random_v6(rng) if rng.random() < 0.5 else ipaddress.IPv6Address("2001:db8::") + rng.getrandbits(64)
        return str(ipaddress.IPv6Network("%s/%d" % (address, bits), strict=False))
    v4 = anchor if isinstance(anchor, ipaddress.IPv4Address) else random_v4(rng)
    bits = rng.choice([96, 104, 112, 120, 128])
    network = ipaddress.IPv6Network("::ffff:%s/%d" % (v4, bits), strict=False)
    return "%s/%d" % (network.network_address.exploded, bits)  # IPv6 nodes to both (::ffff:... is refused)


def generate(rng):
    """{name: (default, [(verb, cidr)], [addresses])}."""
    lists = {}
    for n in range(LISTS):
        anchor = random_v4(rng)
        nodes = []
        for _ in range(rng.randint(1, 8)):
            cidr = node_cidr(rng, anchor)
            try:
                parse_network(cidr)
            except ValueError:  # x/0 with address bits, 0.0.0.0/32: refused, tested below
                continue
            nodes.append((rng.choice(["allow", "deny"]), cidr))
            if rng.random() < 0.25:  # the same CIDR again, maybe the other verdict: a tie, the earlier node wins
                nodes.append((rng.choice(["allow", "deny"]), cidr))
        if not nodes:
            nodes.append(("allow", "%s/24" % ipaddress.IPv4Network("%s/24" % anchor, strict=False).network_address))
        addresses = []
        for _ in range(ADDRESSES_PER_LIST):
            r = rng.random()
            verb, cidr = rng.choice(nodes)
            network = ipaddress.ip_network(cidr, strict=False)
            if r < 0.5:  # inside (or at the edge of) a node
                offset = rng.choice([0, network.num_addresses - 1, rng.randrange(network.num_addresses)])
                address = network.network_address + offset
            elif r < 0.6:  # just outside a node
                address = network.network_address - 1 if int(network.network_address) > 0 else network.broadcast_address
            elif r < 0.75:
                address = random_v4(rng) if rng.random() < 0.5 else anchor + rng.randint(-300, 300)
            else:
                address = random_v6(rng)
            text = str(address)
            if isinstance(address, ipaddress.IPv4Address) and rng.random() < 0.2:
                text = rng.choice(["::ffff:", "::FFFF:"]) + text  # the mapped form: IPv4 to both
            elif isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                text = address.exploded if rng.random() < 0.5 else str(address.ipv4_mapped)
            addresses.append(text)
        lists["fsr%d" % n] = (rng.choice(["allow", "deny"]), nodes, addresses)
    return lists


def test_cidrs_the_switch_misreads_are_refused(fs):
    fs.switch.write_acl({"m1": ("deny", [("allow", "::ffff:10.0.0.0/104")]),
                         "m2": ("deny", [("allow", "::ffff:10.0.0.0/8")]),
                         "m3": ("deny", [("allow", "92.172.72.155/0")]),
                         "m4": ("deny", [("allow", "0.0.0.0/32"), ("deny", "10.0.0.0/8")])})
    try:
        mark = fs.switch.log_mark()
        fs.switch.api("reloadxml")
        fs.switch.api("reloadacl")
        assert fs.switch.wait_log("Error Adding 10.0.0.0/104", mark=mark)  # the node is dropped
        assert fs.switch.api("acl 10.1.2.3 m1").strip() == "false"
        assert fs.switch.api("acl 10.1.2.3 m2").strip() == "true"  # ::ffff:10.0.0.0/8 is 10.0.0.0/8
        assert [fs.switch.api("acl %s m3" % ip).strip() for ip in ("92.172.72.155", "92.172.72.156")] == \
            ["true", "false"]  # a /0 with address bits: one host
        assert fs.switch.api("acl 10.1.2.3 m4").strip() == "true"  # 0.0.0.0/32: everything, at 32 bits
    finally:
        fs.switch.write_acl(None)
        fs.switch.api("reloadxml")
        fs.switch.api("reloadacl")
    import pytest
    for cidr in ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/8", "92.172.72.155/0", "0.0.0.0/32"):
        with pytest.raises(ValueError, match="FreeSWITCH"):
            parse_network(cidr)


def test_acl_matches_the_switch(fs):
    rng = random.Random(SEED)
    lists = generate(rng)
    fs.switch.write_acl({name: (default, nodes) for name, (default, nodes, _) in lists.items()})
    try:
        fs.switch.api("reloadxml")
        fs.switch.api("reloadacl")
        checked, differences = 0, []
        for name, (default, nodes, addresses) in lists.items():
            ours = Acl(name, default == "allow", [(verb == "allow", parse_network(c)) for verb, c in nodes])
            for address in addresses:
                theirs = fs.switch.api("acl %s %s" % (address, name)).strip()
                assert theirs in ("true", "false"), (address, name, theirs)
                checked += 1
                if ours.allows(address) != (theirs == "true"):
                    differences.append((name, default, nodes, address, theirs))
        assert checked >= 10000
        assert not differences, "%d of %d differ, e.g.:\n%s" % (
            len(differences), checked, "\n".join(map(str, differences[:15])))
    finally:
        fs.switch.write_acl(None)
        fs.switch.api("reloadxml")
        fs.switch.api("reloadacl")
