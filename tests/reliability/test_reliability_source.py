"""2. Source addresses: decided as FreeSWITCH's ACLs decide, or denied; never an exception.

FreeSWITCH (switch_utils.c, measured through its ``acl`` API by
tests/integration/test_acl_differential.py): among the nodes whose CIDR holds
the address the one with the most prefix bits decides, the earlier one on
equal bits, the list's default when none holds it; ``::ffff:a.b.c.d`` (that
prefix, dotted quad) is matched as IPv4, any other IPv6 text as IPv6.
What is not one plain address (zone ids, lists, padding, leading zeros that
inet_pton refuses, junk) is denied, even by a list whose default is allow:
FreeSWITCH would read it as 0.0.0.0.
"""

import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsroute.core.acl import Acl, parse_network
from budget import examples
from reliability_helpers import assert_safe_bridges, bridges, error_lines, run_call, write_rules

RULES = """\
version: 1
defaults: {profile: external}
acls:
  trunk_peers:
    default: deny
    nodes:
      - allow: 172.16.221.0/24
      - deny: 172.16.221.99/32
      - allow: 2001:db8:1::/48
      - deny: 2001:db8:1::bad/128
      - allow: 198.51.100.0/24
ingress_acl: trunk_peers
routes:
  - name: out
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    gateway: gw1
"""

# (network_addr, allowed by trunk_peers)
ADDRESSES = [
    ("172.16.221.33", True),
    ("172.16.221.99", False),                 # the longer deny node wins
    ("172.16.222.1", False),                  # default
    ("198.51.100.7", True),
    ("::ffff:172.16.221.33", True),           # IPv4-mapped: matched as IPv4
    ("::FFFF:172.16.221.33", True),
    ("::ffff:ac10:dd21", False),              # hex form: FreeSWITCH reads 0.0.0.0; denied
    ("::ffff:172.16.221.99", False),
    ("::ffff:198.51.100.7", True),
    ("2001:db8:1::1", True),
    ("2001:DB8:1:0:0:0:0:1", True),
    ("2001:db8:1::bad", False),
    ("2001:db8:2::1", False),
    ("::172.16.221.33", False),               # IPv4-compatible is not IPv4-mapped
    ("64:ff9b::172.16.221.33", False),        # NAT64 is not IPv4 either
    # not one plain address: denied
    ("fe80::1%eth0", False),
    ("2001:db8:1::1%eth0", False),
    ("2001:db8:1::1%1", False),
    ("172.16.221.33%eth0", False),
    ("010.1.1.1", False),
    ("172.016.221.33", False),
    ("172.16.221.033", False),
    ("0172.16.221.33", False),
    ("1.2.3.4,5.6.7.8", False),
    ("172.16.221.33,172.16.221.34", False),
    ("172.16.221.33 172.16.221.34", False),
    ("172.16.221.33;172.16.221.34", False),
    (" 172.16.221.33", False),
    ("172.16.221.33 ", False),
    ("172.16.221.33\n", False),
    ("\t172.16.221.33", False),
    ("172.16.221.33\x00", False),
    ("172.16.221.33:5060", False),
    ("[2001:db8:1::1]", False),
    ("[2001:db8:1::1]:5060", False),
    ("172.16.221.33/32", False),
    ("172.16.221.0/24", False),
    ("172.16.221", False),
    ("172.16.221.33.1", False),
    ("172.16.221.256", False),
    ("2886786337", False),                    # 172.16.221.33 as one integer
    ("0xac10dd21", False),
    ("0xac.0x10.0xdd.0x21", False),
    ("\u0661\u0667\u0662.16.221.33", False),  # Arabic-Indic digits
    ("\uff11\uff17\uff12.16.221.33", False),  # fullwidth digits
    ("172\u300216\u3002221\u300233", False),  # ideographic full stops
    ("2001:db8:1::1::1", False),
    ("2001:db8:1:::1", False),
    ("::ffff:172.16.221.33%eth0", False),
    ("::ffff:999.16.221.33", False),
    ("localhost", False),
    ("example.com", False),
    ("sip:172.16.221.33", False),
    ("", False),
    (" ", False),
    ("\x00", False),
    ("1" * 1000, False),
    ("172.16.221.33" * 100000, False),
]


@pytest.fixture
def rules_path(tmp_path):
    return write_rules(tmp_path / "rules.yaml", RULES)


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    return fake_freeswitch


@pytest.mark.parametrize("address, allowed", ADDRESSES, ids=[repr(a[:40]) for a, _ in ADDRESSES])
def test_network_addr_through_the_handler(switch, rules_path, tried, address, allowed):
    session = run_call(switch, rules_path, {"destination_number": "1001", "network_addr": address})
    assert_safe_bridges(session, {"gw1"})
    assert error_lines(switch) == []
    if allowed:
        assert session.variables["fsroute_result"] == "bridged"
    else:
        assert session.variables["fsroute_result"] == "denied"
        assert session.hangup_cause == "CALL_REJECTED"
        assert bridges(session) == []
    tried["source"] += 1


@pytest.mark.parametrize("variables", [
    {},                                                      # no source at all
    {"network_addr": None},
    {"sip_network_ip": "172.16.221.99"},
    {"sip_network_ip": "fe80::1%eth0"},
    {"network_addr": "", "sip_network_ip": ""},
    # From/Contact headers are never the source
    {"sip_from_host": "172.16.221.33", "sip_contact_host": "172.16.221.33",
     "sip_received_ip": "172.16.221.33", "sip_via_host": "172.16.221.33"},
    {"network_addr": "203.0.113.9", "sip_from_host": "172.16.221.33",
     "sip_contact_host": "172.16.221.33"},
    {"network_addr": "203.0.113.9", "sip_network_ip": "172.16.221.33"},  # network_addr is decisive
])
def test_missing_or_untrusted_sources_are_denied(switch, rules_path, tried, variables):
    variables = {k: v for k, v in variables.items() if v is not None}
    variables["destination_number"] = "1001"
    session = run_call(switch, rules_path, variables)
    assert session.variables["fsroute_result"] == "denied"
    assert bridges(session) == []
    assert error_lines(switch) == []
    tried["source"] += 1


def test_sip_network_ip_is_the_fallback(switch, rules_path, tried):
    session = run_call(switch, rules_path, {"destination_number": "1001", "sip_network_ip": "172.16.221.33"})
    assert session.variables["fsroute_result"] == "bridged"
    tried["source"] += 1


@pytest.mark.parametrize("text", [None, "", "::ffff:1.2.3.4%eth0", "fe80::1%eth0", "010.1.1.1",
                                  "1.2.3.4,5.6.7.8", " 1.2.3.4", "1.2.3.4\n", "\x00", "1" * 100000])
def test_malformed_addresses_are_denied_even_by_an_allow_all_list(text, tried):
    acl = Acl("open", True, [(True, parse_network("0.0.0.0/0")), (True, parse_network("::/0"))])
    assert acl.allows(text) is False
    assert acl.allows(text) is False  # and again, from the verdict cache
    tried["source"] += 1


# -- the property: fsroute's Acl against a plain reading of FreeSWITCH's rule ------------------

def reference_address(text):
    """(IP version, address as an int) as FreeSWITCH reads the text, or None (denied).

    Not a copy of acl.parse_address: FreeSWITCH reads the address with the C
    library's inet_pton (switch_network_list_validate_ip), and so does this
    oracle -- IPv4 first, then IPv6; only the spelling ``::ffff:a.b.c.d`` (the
    prefix in any case, then what inet_pton reads as IPv4) is IPv4, as measured
    through the switch's ``acl`` API, every other IPv6 text is IPv6; whatever
    inet_pton refuses (zone ids, lists, spaces) is denied.
    """
    if not isinstance(text, str):
        return None
    if text[:7].lower() == "::ffff:":  # FreeSWITCH strips this exact prefix and reads the rest as IPv4
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text[7:]), "big")
        except (OSError, ValueError, UnicodeError):
            return None
    for family, version in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            raw = socket.inet_pton(family, text)
        except (OSError, ValueError, UnicodeError):
            continue
        return version, int.from_bytes(raw, "big")  # other IPv4-mapped spellings stay IPv6
    return None


def reference_network(text):
    return ipaddress.ip_network(text, strict=False)


def reference_allows(default_allow, nodes, text):
    """Most prefix bits wins, the earlier node on a tie, the default when no node holds it."""
    address = reference_address(text)
    if address is None:
        return False
    version, value = address
    width = 32 if version == 4 else 128
    holding = [(network.prefixlen, -position, allow)
               for position, (allow, network) in enumerate(nodes)
               if network.version == version
               and value >> (width - network.prefixlen) == int(network.network_address) >> (width - network.prefixlen)]
    if not holding:
        return default_allow
    return max(holding)[2]


def _accepted(cidr):
    """Rules files refuse what FreeSWITCH misreads (x/0 with address bits, 0.0.0.0/32): tested in test_acl.py."""
    try:
        parse_network(cidr)
    except ValueError:
        return False
    return True


def _v4_network():
    return st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(0, 32)).map(
        lambda t: "%s/%d" % (ipaddress.IPv4Address(t[0]), t[1])).filter(_accepted)


def _v6_text(value):
    """An IPv6 address as text; never in the ::ffff: spelling, which rules files refuse."""
    text = str(ipaddress.IPv6Address(value))
    return ipaddress.IPv6Address(value).exploded if text.lower().startswith("::ffff:") else text


def _v6_network():
    return st.tuples(st.integers(0, 2 ** 128 - 1), st.integers(0, 128)).map(
        lambda t: "%s/%d" % (_v6_text(t[0]), t[1])).filter(_accepted)


def _mapped_space_network():
    """Networks inside ::ffff:0:0/96 in long form: IPv6 nodes for FreeSWITCH (::ffff:... is refused)."""
    return st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(96, 128)).map(
        lambda t: "0:0:0:0:0:ffff:%s/%d" % (ipaddress.IPv4Address(t[0]), t[1]))


_NETWORK = st.one_of(_v4_network(), _v6_network(), _mapped_space_network())
_NODES = st.lists(st.tuples(st.booleans(), _NETWORK), max_size=12)


@st.composite
def _address_near(draw, nodes):
    """An address text: often inside (or at the edge of) one of the nodes, sometimes junk."""
    kind = draw(st.sampled_from(["inside", "inside", "inside", "v4", "v6", "mapped", "junk"]))
    if kind == "inside" and nodes:
        network = reference_network(draw(st.sampled_from(nodes))[1])
        offset = draw(st.sampled_from([0, network.num_addresses - 1, None]))
        if offset is None:
            offset = draw(st.integers(0, network.num_addresses - 1))
        address = network.network_address + offset
        if address.version == 4 and draw(st.booleans()):
            return "::ffff:%s" % address  # the same address, IPv4-mapped
        return str(address)
    if kind in ("v4", "inside"):
        return str(ipaddress.IPv4Address(draw(st.integers(0, 2 ** 32 - 1))))
    if kind == "v6":
        return str(ipaddress.IPv6Address(draw(st.integers(0, 2 ** 128 - 1))))
    if kind == "mapped":
        return "::ffff:%s" % ipaddress.IPv4Address(draw(st.integers(0, 2 ** 32 - 1)))
    return draw(st.one_of(
        st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=50),
        st.text(st.sampled_from(list("0123456789abcdef.:%/, []")), max_size=45),
        st.builds(lambda a, z: "%s%%%s" % (ipaddress.IPv6Address(a), z),
                  st.integers(0, 2 ** 128 - 1), st.sampled_from(["eth0", "1", "lo"])),
    ))


@settings(max_examples=examples(1500), deadline=None)
@given(default_allow=st.booleans(), nodes=_NODES, data=st.data())
def test_acl_matches_the_reference(default_allow, nodes, data, tried):
    acl = Acl("generated", default_allow, [(allow, parse_network(cidr)) for allow, cidr in nodes])
    reference_nodes = [(allow, reference_network(cidr)) for allow, cidr in nodes]
    for _ in range(4):
        text = data.draw(_address_near(nodes))
        expected = reference_allows(default_allow, reference_nodes, text)
        assert acl.allows(text) is expected, (text, default_allow, nodes)
        assert acl.allows(text) is expected  # cached verdict
        tried["source"] += 1
