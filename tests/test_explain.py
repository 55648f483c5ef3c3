"""Why a call was denied or found no route: fsroute.core.explain, and ctl test printing it."""

from hypothesis import given, settings, strategies as st

from fsroute import ctl
from fsroute.core import loader, router
from fsroute.core.explain import explain
from fsroute.core.model import Outcome
from fsroute.core.reasons import MAX_ROUTE_LINES
from fsroute.core.selection import Selector
from fsroute.core.timespec import parse_instant

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


def test_each_route_looked_at_says_which_condition_failed():
    assert why(RULES, destination_number="4471234", caller_id_number="2000", network_addr="10.1.9.9") == [
        "1 route not looked at (the index: 4471234 does not start with its literal prefix): 'premium block' (line 10)",
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
        "destination 1\\n is refused before any route: it holds control or non-ASCII characters"]
    assert why(RULES, destination_number="1" * 129) == [
        "destination %s...(129 chars) is refused before any route: longer than 128 characters" % ("1" * 80)]


def test_a_caller_id_with_control_characters_is_named():
    lines = why(RULES, destination_number="90012", caller_id_name="Bob\r\nX-Evil: 1")
    assert lines[-2:] == ["route 'premium block' (line 10): every condition holds; it takes the call",
                          "caller_id_name Bob\\r\\nX-Evil: 1 holds control characters: not bridged, the carrier's "
                          "INVITE would carry them"]


def test_ingress_acl_comes_first():
    text = RULES.replace("routes:", "ingress_acl: peers\nroutes:")
    assert why(text, destination_number="44", network_addr="10.1.0.1") == [
        "ingress acl 'peers': source 10.1.0.1 matches node 2 (deny 10.1.0.0/16, line 7), the most specific: denies",
        "every call from this source is denied before any route is looked at",
    ]


def test_routes_the_index_leaves_out_are_one_line():
    routes = "".join("  - {name: r%d, match: {destination_number: '^%d$'}, gateway: gw1}\n" % (i, i)
                     for i in range(100))
    assert why("version: 1\nroutes:\n" + routes, destination_number="x") == [
        "100 routes not looked at (the index: x does not start with their literal prefix): 'r0' (line 3), "
        "'r1' (line 4), 'r2' (line 5) and 97 more", "no route takes the call"]
    assert why("version: 1\nroutes:\n" + routes, destination_number="77") == [
        "76 routes not looked at (the index: 77 does not start with their literal prefix): 'r0' (line 3), "
        "'r1' (line 4), 'r2' (line 5) and 73 more",
        "route 'r7' (line 10): destination_number 77 does not match '^7$'",
        "route 'r77' (line 80): every condition holds; it takes the call"]


def test_a_big_table_is_cut_short():
    # '|': no literal prefix, so the router looks at every route
    routes = "".join("  - {name: r%d, match: {destination_number: '^(%d|z)$'}, gateway: gw1}\n" % (i, i)
                     for i in range(100))
    lines = why("version: 1\nroutes:\n" + routes, destination_number="x")
    assert lines[0] == "route 'r0' (line 3): destination_number x does not match '^(0|z)$'"
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
    assert answer.endswith("why:\n  1 route not looked at (the index: 4471234 does not start with its literal "
                           "prefix): 'premium block' (line 10)\n"
                           "  route 'uk mobile' (line 13): caller_id_number 2000 does not match '^1'\n"
                           "  route 'peers only' (line 16): its conditions hold but acl 'peers': source 10.1.9.9 "
                           "matches node 2 (deny 10.1.0.0/16, line 7), the most specific: denies (the call is "
                           "denied unless a later route takes it)\n  no route takes the call\n")
    assert "why:" in ctl.command("test 123")
    assert "why:" not in ctl.command("test 44 10.1.2.3")


def test_ctl_test_takes_other_channel_variables(write_rules, fake_freeswitch, monkeypatch):
    # an imported route names its context (and a route may test any variable): ctl test could not set them
    monkeypatch.setenv("FSROUTE_RULES", write_rules(
        "version: 1\nroutes:\n  - name: public/out\n    match: {context: '^public$', destination_number: '^(\\d+)$'}\n"
        "    gateway: gw1\n"))
    assert "outcome: no_route" in ctl.command("test 1234")
    answer = ctl.command("test 1234 127.0.0.1 context=public")
    assert answer.startswith("destination: 1234  source: 127.0.0.1  caller: -  context=public\noutcome: route\n")
    assert "route: public/out\n" in answer
    assert ctl.command("test 1234 bad-name=x") == ctl.USAGE


def test_ctl_status_shows_the_version(write_rules, fake_freeswitch):
    import fsroute
    assert "\nversion: fsroute %s\n" % fsroute.__version__ in ctl.command("status " + write_rules(RULES))


PATTERNS = ["'^9(\\d+)$'", "'^44'", "'^(\\d+)$'", "'^4(4|5)[0-9]{2}'", "'^(?:00|\\+)44'", "'1$'"]
CONDITIONS = ["", ", caller_id_number: '^1'", ", sip_req_user: '^x'"]
TIMES = ["", ", when: office", ", unless: holidays", ", time: {hour: 0-11}"]
CALENDARS = ("defaults: {tz: Europe/Berlin}\ncalendars:\n  office: {wday: mon-fri, hour: 9-17}\n"
             "  holidays: {dates: ['2026-12-25']}\n")
# a holiday in office hours, a weekday evening, a Saturday morning
INSTANTS = [parse_instant(t) for t in ("2026-12-25T10:00:00Z", "2026-12-01T20:00:00Z", "2026-12-05T08:00:00Z")]


@settings(max_examples=150, deadline=None)
@given(routes=st.lists(st.tuples(st.sampled_from(PATTERNS + [None]), st.sampled_from(CONDITIONS),
                                 st.booleans(), st.sampled_from(TIMES)), min_size=1, max_size=8),
       destination=st.sampled_from(["", "91001", "4471", "4512", "0044", "+44123", "1", "x"]),
       source=st.sampled_from(["10.0.0.1", "10.1.2.3", "10.1.9.9", "192.0.2.1", "junk", None]),
       caller=st.sampled_from([None, "1000", "2000"]),
       user=st.sampled_from([None, "x", "x" * (router.MAX_VALUE_LEN + 1)]),
       now=st.sampled_from(INSTANTS))
def test_what_explain_says_is_what_the_router_decided(routes, destination, source, caller, user, now):
    body = []
    for i, (pattern, condition, with_acl, timing) in enumerate(routes):
        match = "{destination_number: %s%s}" % (pattern, condition) if pattern else "{%s}" % condition[2:]
        body.append("  - {name: r%d, match: %s, %sgateway: gw1%s}\n"
                    % (i, match, "acl: peers, " if with_acl else "", timing))
    rules = loader.parse(RULES.split("routes:")[0] + CALENDARS + "routes:\n" + "".join(body), "r.yaml")
    variables = {"destination_number": destination, "network_addr": source, "caller_id_number": caller,
                 "sip_req_user": user}
    decided = router.decide(rules, variables.get, lambda gateway: True, Selector(), now)
    explained = router.decide(rules, variables.get, lambda gateway: True, Selector(), now, explain=True)
    assert explained._replace(reasons=()) == decided  # asking why changes nothing else
    lines = explain(rules, variables.get, now)
    assert lines == list(explained.reasons)
    refusals = [line for line in lines if ": its conditions hold but acl " in line]
    if decided.route is None or decided.outcome is Outcome.DENIED:
        assert lines[-1] == "no route takes the call"
        if decided.outcome is Outcome.DENIED:  # the first route whose acl refused: the router's order of checks
            assert refusals[0].startswith("route '%s' (line %d): " % (decided.route.name, decided.route.line))
        else:
            assert refusals == []
    else:
        route = decided.route
        assert lines[-1] == "route '%s' (line %d): every condition holds; it takes the call" % (route.name, route.line)


GROUP_RULES = """\
version: 1
gateways:
  gw3: {profile: internal}
groups:
  g: {strategy: priority, gateways: [gw1, gw2, gw3]}
routes:
  - {name: out, match: {destination_number: '^5'}, group: g}
"""


class Benched:
    """A GatewayHealth whose breaker benches gw2."""
    any_breaker = True

    def benched(self, name):
        return name == "gw2"

    def last_resort(self, name):
        return False

    def calls(self, name):
        return 0


def test_all_down_says_which_gateways_were_down_and_which_benched():
    rules = loader.parse(GROUP_RULES, "r.yaml")
    decision = router.decide(rules, {"destination_number": "555"}.get, lambda gateway: gateway == "gw2", Selector(),
                             health=Benched(), explain=True)
    assert decision.outcome is Outcome.ALL_DOWN
    assert decision.reasons == (
        "route 'out' (line 7): every condition holds; it takes the call",
        "no gateway to try: gw1 down (profile external), gw2 benched by its breaker, gw3 down (profile internal)")


def test_ctl_test_and_simulate_say_which_gateways_were_down(write_rules, fake_freeswitch, monkeypatch):
    from fsroute.tools.simulate import simulate

    path = write_rules(GROUP_RULES)
    fake_freeswitch.set_gateways("external", up=[], down=["gw1", "gw2"])
    fake_freeswitch.set_gateways("internal", up=[], down=["gw3"])
    monkeypatch.setenv("FSROUTE_RULES", path)
    assert ctl.command("test 555").endswith(
        "why:\n  route 'out' (line 7): every condition holds; it takes the call\n"
        "  no gateway to try: gw1 down (profile external), gw2 down (profile external), gw3 down (profile internal)\n")
    report = simulate(path, "555", down=["gw1", "gw3"], explain=True)
    assert [a["gateway"] for a in report["attempts"]] == ["gw2"]
    assert report["explanation"] == ["route 'out' (line 7): every condition holds; it takes the call"]
    report = simulate(path, "555", down=["gw1", "gw2", "gw3"], explain=True)
    assert report["result"] == "all_down"
    assert report["explanation"][-1] == ("no gateway to try: gw1 down (profile external), gw2 down (profile external), "
                                         "gw3 down (profile internal)")


def test_a_mistyped_path_given_to_ctl_does_not_join_the_files_in_force(call, write_rules, fake_freeswitch):
    # it stayed among the files ctl acts on without a path: every reload and check answered -ERR for
    # it, ctl test could use it, and fsroute_rules_reload_error{path=...} 1 could not be cleared
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    good = write_rules(RULES, name="fsroute.yaml")
    call(good, "44")
    assert "cannot read the rules file" in ctl.command("status %s" % good[:-1])
    assert [line.split(" sha=")[0] for line in ctl.command("reload").splitlines()] == ["+OK reloaded %s" % good]
    assert 'fsroute_rules_reload_error{path="%s"}' % good[:-1] not in ctl.command("metrics")
    broken = write_rules("version: 1\nroutes: [", name="broken.yaml")
    call(broken, "44")  # a file calls name stays listed, broken or not
    assert ("-ERR %s" % broken) in ctl.command("check")
