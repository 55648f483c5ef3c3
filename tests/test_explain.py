"""Why a call was denied or found no route: fsroute.core.explain, and ctl test printing it."""

from hypothesis import given, settings, strategies as st

from fsroute import ctl
from fsroute.core import loader, router
from fsroute.core.explain import MAX_ROUTE_LINES, explain

RULES = """\
version: 1
acls:
  peers:
    default: deny
    nodes:
      - allow: 10.0.0.0/8
      - deny: 10.1.0.0/16
      - allow: 10.1.2.3/32
routes:
  - name: premium block
    match: {destination_number: '^900(\\d+)$'}
    gateway: gw1
  - name: uk mobile
    match: {destination_number: '^447', caller_id_number: '^1'}
    gateway: gw1
  - name: peers only
    acl: peers
    match: {destination_number: '^44'}
    gateway: gw2
"""


def why(text, **variables):
    return explain(loader.parse(text, "r.yaml"), variables.get)


def test_each_route_says_which_condition_failed():
    assert why(RULES, destination_number="4471234", caller_id_number="2000", network_addr="10.1.9.9") == [
        "route 'premium block' (line 10): destination_number 4471234 does not match '^900(\\d+)$'",
        "route 'uk mobile' (line 13): caller_id_number 2000 does not match '^1'",
        "route 'peers only' (line 16): its conditions hold but acl 'peers': source 10.1.9.9 matches node 2 "
        "(deny 10.1.0.0/16, line 7), the most specific: denies (the call is denied unless a later route takes it)",
        "no route takes the call",
    ]


def test_the_most_specific_node_and_the_default_are_named():
    lines = why(RULES, destination_number="44", network_addr="10.1.2.3")
    assert lines[-1] == "route 'peers only' (line 16): every condition holds; it takes the call"
    lines = why(RULES, destination_number="44", network_addr="192.0.2.1")
    assert lines[-2].endswith("acl 'peers': source 192.0.2.1 matches no node; the default denies "
                              "(the call is denied unless a later route takes it)")
    lines = why(RULES, destination_number="44", network_addr="10.1.2.3:5060")
    assert "source 10.1.2.3:5060 is not one IP address: denies" in lines[-2]


def test_an_unset_variable_and_a_refused_destination_are_named():
    assert why(RULES, destination_number="4471234")[1] == \
        "route 'uk mobile' (line 13): caller_id_number (unset) does not match '^1'"
    assert why(RULES, destination_number="1\n") == [
        "destination 1\\n is refused before any route: longer than 128 characters or holding control or non-ASCII characters"]


def test_ingress_acl_comes_first():
    text = RULES.replace("routes:", "ingress_acl: peers\nroutes:")
    assert why(text, destination_number="44", network_addr="10.1.0.1") == [
        "ingress acl 'peers': source 10.1.0.1 matches node 2 (deny 10.1.0.0/16, line 7), the most specific: denies",
        "every call from this source is denied before any route is looked at",
    ]


def test_a_big_table_is_cut_short():
    routes = "".join("  - {name: r%d, match: {destination_number: '^%d$'}, gateway: gw1}\n" % (i, i)
                     for i in range(100))
    lines = why("version: 1\nroutes:\n" + routes, destination_number="x")
    assert len(lines) == MAX_ROUTE_LINES + 2
    assert lines[-2:] == ["... %d more routes not shown" % (100 - MAX_ROUTE_LINES), "no route takes the call"]
    lines = why("version: 1\nroutes:\n" + routes, destination_number="77")
    assert len(lines) == MAX_ROUTE_LINES + 2
    assert lines[-2:] == ["... %d more routes not shown" % (77 - MAX_ROUTE_LINES),
                          "route 'r77' (line 80): every condition holds; it takes the call"]


def test_ctl_test_says_why_a_call_is_denied_or_unrouted(write_rules, fake_freeswitch, monkeypatch):
    monkeypatch.setenv("FSROUTE_RULES", write_rules(RULES))
    answer = ctl.command("test 4471234 10.1.9.9 2000")
    assert "outcome: denied" in answer
    assert answer.endswith("why:\n  route 'premium block' (line 10): destination_number 4471234 does not match "
                           "'^900(\\d+)$'\n  route 'uk mobile' (line 13): caller_id_number 2000 does not match '^1'\n"
                           "  route 'peers only' (line 16): its conditions hold but acl 'peers': source 10.1.9.9 "
                           "matches node 2 (deny 10.1.0.0/16, line 7), the most specific: denies (the call is "
                           "denied unless a later route takes it)\n  no route takes the call\n")
    assert "why:" in ctl.command("test 123")
    assert "why:" not in ctl.command("test 44 10.1.2.3")


def test_ctl_status_shows_the_version(write_rules, fake_freeswitch):
    import fsroute
    assert "\nversion: fsroute %s\n" % fsroute.__version__ in ctl.command("status " + write_rules(RULES))


PATTERNS = ["'^9(\\d+)$'", "'^44'", "'^(\\d+)$'", "'^4(4|5)[0-9]{2}'", "'^(?:00|\\+)44'", "'1$'"]
CONDITIONS = ["", ", caller_id_number: '^1'", ", sip_req_user: '^x'"]


@settings(max_examples=150, deadline=None)
@given(routes=st.lists(st.tuples(st.sampled_from(PATTERNS + [None]), st.sampled_from(CONDITIONS),
                                 st.booleans()), min_size=1, max_size=8),
       destination=st.sampled_from(["", "91001", "4471", "4512", "0044", "+44123", "1", "x"]),
       source=st.sampled_from(["10.0.0.1", "10.1.2.3", "10.1.9.9", "192.0.2.1", "junk", None]),
       caller=st.sampled_from([None, "1000", "2000"]))
def test_the_route_explain_says_takes_the_call_is_the_routers(routes, destination, source, caller):
    body = []
    for i, (pattern, condition, with_acl) in enumerate(routes):
        match = "{destination_number: %s%s}" % (pattern, condition) if pattern else "{%s}" % condition[2:]
        body.append("  - {name: r%d, match: %s, %sgateway: gw1}\n" % (i, match, "acl: peers, " if with_acl else ""))
    rules = loader.parse(RULES.split("routes:")[0] + "routes:\n" + "".join(body), "r.yaml")
    variables = {"destination_number": destination, "network_addr": source, "caller_id_number": caller}
    route = router.find_route(rules, variables.get, destination, source)[0]
    last = explain(rules, variables.get)[-1]
    if route is None:
        assert last == "no route takes the call"
    else:
        assert last == "route '%s' (line %d): every condition holds; it takes the call" % (route.name, route.line)
