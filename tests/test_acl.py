"""ACLs decide exactly as FreeSWITCH's switch_network_list_validate_ip does."""

import pytest

from fsroute.core.acl import Acl, parse_address, parse_network


def acl(default, *nodes):
    return Acl("t", default == "allow", [(verb == "allow", parse_network(cidr)) for verb, cidr in nodes])


TRUNK = acl("deny", ("allow", "172.16.221.0/24"), ("deny", "172.16.221.99/32"))


@pytest.mark.parametrize("address, allowed", [
    ("172.16.221.33", True),
    ("172.16.221.99", False),     # the /32 has more bits than the /24
    ("172.16.222.1", False),      # no node: the default
    ("::ffff:172.16.221.33", True),   # mapped IPv6 is matched as IPv4
    ("::ffff:172.16.221.99", False),
    ("2001:db8::1", False),
])
def test_most_prefix_bits_decides(address, allowed):
    assert TRUNK.allows(address) is allowed


def test_equal_bits_the_earlier_node_wins():
    # measured against the switch's `acl` API (tests/integration/test_acl_differential.py)
    assert acl("deny", ("allow", "10.0.0.0/8"), ("deny", "10.0.0.0/8")).allows("10.1.1.1") is True
    assert acl("deny", ("deny", "10.0.0.0/8"), ("allow", "10.0.0.0/8")).allows("10.1.1.1") is False
    assert acl("deny", ("deny", "2001:db8::/48"), ("allow", "2001:db8::/48")).allows("2001:db8::5") is False


def test_explain_names_the_node_that_decides_a_tie():
    # one rule (Acl.deciding_node) for the verdict and for fsroute's explanations
    from fsroute.core.reasons import acl_verdict

    tie = acl("deny", ("allow", "10.0.0.0/8"), ("deny", "10.0.0.0/8"))
    assert tie.deciding_node(parse_address("10.1.1.1")) == 0
    allowed, text = acl_verdict(tie, "10.1.1.1")
    assert allowed is tie.allows("10.1.1.1") is True
    assert "matches node 1 (allow 10.0.0.0/8)" in text, text


def test_only_the_dotted_mapped_form_is_ipv4():
    # FreeSWITCH strips a leading "::ffff:" (any case) and reads the rest as IPv4;
    # other spellings of a mapped address are IPv6 to it
    v4 = acl("deny", ("allow", "10.0.0.0/8"))
    assert v4.allows("::FFFF:10.1.2.3") is True
    assert v4.allows("0:0:0:0:0:ffff:10.1.2.3") is False
    assert v4.allows("::ffff:a01:203") is False  # FreeSWITCH reads 0.0.0.0: denied here
    long_form = acl("deny", ("allow", "0:0:0:0:0:ffff:a00:0/104"))
    assert long_form.allows("0::ffff:a01:203") is True and long_form.allows("10.1.2.3") is False


def test_a_wider_later_node_does_not_override_a_narrower_one():
    rules = acl("deny", ("allow", "10.1.0.0/16"), ("deny", "10.0.0.0/8"))
    assert rules.allows("10.1.2.3") is True
    assert rules.allows("10.2.0.1") is False


def test_default_allow_and_ipv6_nodes():
    rules = acl("allow", ("deny", "2001:db8::/32"), ("allow", "2001:db8:1::/48"))
    assert rules.allows("2001:db8::5") is False
    assert rules.allows("2001:db8:1::5") is True
    assert rules.allows("192.0.2.1") is True


@pytest.mark.parametrize("text", [None, "", " 172.16.221.33", "172.16.221.33 ", "172.16.221.033",
                                  "172.16.221.33,172.16.221.34", "fe80::1%eth0", "not-an-ip",
                                  "172.16.221", "172.16.221.256"])
def test_missing_or_malformed_source_is_denied_even_by_an_allow_all_list(text):
    assert parse_address(text) is None
    assert acl("allow", ("allow", "0.0.0.0/0")).allows(text) is False


def test_host_bits_are_masked_and_mapped_nodes_are_refused():
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    for text in ("::ffff:10.0.0.0/104", "::FFFF:10.0.0.0/8", "::ffff:a00:0/104"):
        with pytest.raises(ValueError, match="write IPv4-mapped networks as IPv4 CIDRs"):
            parse_network(text)
    assert str(parse_network("192.0.2.7")) == "192.0.2.7/32"
    with pytest.raises(ValueError):
        parse_network("10.0.0.0/33")


@pytest.mark.parametrize("text, says", [
    ("92.172.72.155/0", "reads a /0 with address bits set as the one host 92.172.72.155"),
    ("2001:db8::1/0", "reads a /0 with address bits set as the one host 2001:db8::1"),
    ("0.0.0.0/32", "matches every IPv4 address with 0.0.0.0/32"),
])
def test_cidrs_freeswitch_misreads_are_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_network(text)
    assert str(parse_network("0.0.0.0/0")) == "0.0.0.0/0" and str(parse_network("::/0")) == "::/0"


def test_verdicts_are_cached_per_address_and_stay_correct(monkeypatch):
    rules = acl("deny", ("allow", "172.16.221.0/24"))
    decided = []
    real = rules.allows_address

    def counting(address):
        decided.append(str(address))
        return real(address)

    monkeypatch.setattr(rules, "allows_address", counting)
    for _ in range(3):
        assert rules.allows("172.16.221.1") is True
        assert rules.allows("172.16.222.1") is False
    assert decided == ["172.16.221.1", "172.16.222.1"]  # each address decided once, then from the cache
    long_text = "1" * 65  # junk longer than any address is not kept: a flood of it cannot fill the cache
    assert rules.allows(long_text) is False and rules.allows(long_text) is False
    assert decided[2:] == ["None", "None"]
