"""`fsroute check`'s warnings about routes that an earlier route leaves no call, or only some calls."""

import datetime
import itertools
import re

from hypothesis import given, settings, strategies as st

from fsroute.core import loader
from fsroute.core.inclusion import ANY, PRINTABLE, automaton, example
from fsroute.core.router import find_route
from fsroute.tools.lint import warnings

HEAD = """\
version: 1
defaults: {tz: UTC}
acls:
  peers: {default: deny, nodes: [{allow: 172.16.0.0/16}]}
calendars:
  weekdays: {wday: mon-fri}
routes:
"""


def check(*routes):
    return warnings(loader.parse(HEAD + "".join("  - %s\n" % r for r in routes), "r.yaml"))


def test_a_specific_route_after_a_broader_one_never_takes_a_call():
    assert check("{name: nanp, match: {destination_number: '^1([2-9]\\d{2}[2-9]\\d{6})$'}, gateway: gw1}",
                 "{name: tollfree, match: {destination_number: '^1800[2-9]\\d{6}$'}, gateway: gw2}",
                 "{name: uk, match: {destination_number: '^0044(\\d+)$'}, gateway: gw2}") == [
        "r.yaml:9: warning: route 'tollfree' never takes a call: route 'nanp' (line 8) comes first and takes "
        "every call it matches"]


def test_the_premium_block_after_nanp_is_shadowed_in_part():
    # 1900 then 0 or 1 is no NANP number: those calls still reach the block, the others go to the carrier.
    assert check("{name: nanp, match: {destination_number: '^1([2-9]\\d{2}[2-9]\\d{6})$'}, gateway: gw1}",
                 "{name: premium, match: {destination_number: '^1900\\d{7}$'}, hangup: CALL_REJECTED}") == [
        "r.yaml:9: warning: route 'premium' is partly shadowed: route 'nanp' (line 8) comes first and takes "
        "some of the numbers it matches (e.g. 19002000000)"]


def test_a_route_that_takes_every_call_is_named_before_one_that_takes_some():
    assert check("{name: a, match: {destination_number: '^1[0-5]'}, gateway: gw1}",
                 "{name: ones, match: {destination_number: '^1'}, gateway: gw1}",
                 "{name: b, match: {destination_number: '^1\\d$'}, gateway: gw2}") == [
        "r.yaml:10: warning: route 'b' never takes a call: route 'ones' (line 9) comes first and takes "
        "every call it matches"]

def test_an_earlier_route_that_lets_calls_through_does_not_shadow():
    later = "{name: b, match: {destination_number: '^1800'}, gateway: gw2}"
    for earlier in ("acl: peers", "match: {destination_number: '^1', caller_id_number: '^4'}", "when: weekdays",
                    "unless: weekdays", "time: {hour: 8-17}"):
        first = "{name: a, %s, gateway: gw1}" % (earlier if earlier.startswith("match") else
                                                   "match: {destination_number: '^1'}, " + earlier)
        assert check(first, later) == [], earlier
    # ... unless the later route has the same test, or a narrower one
    assert len(check("{name: a, match: {destination_number: '^1'}, acl: peers, when: weekdays, gateway: gw1}",
                     "{name: b, match: {destination_number: '^1800'}, acl: peers, when: weekdays, gateway: gw2}"))
    assert len(check("{name: a, match: {destination_number: '^1', caller_id_number: '^4'}, gateway: gw1}",
                     "{name: b, match: {destination_number: '^1800', caller_id_number: '^44$'}, gateway: gw2}"))


def test_a_table_route_passes_the_numbers_without_a_row_on_and_shadows_nothing():
    # it was taken for a catch-all (no regex), and for the shadow of a later route with its regex:
    # `fsroute check --strict` failed a DID table followed by its fallback
    text = HEAD.replace("routes:\n", "tables:\n  dids: {file: dids.csv, key: exact, columns: {key: did}}\nroutes:\n")
    for table_route in ("{name: did, table: dids}",
                        "{name: did, match: {destination_number: '^1(\\d+)$'}, number: '$1', table: dids}"):
        rules = loader.parse(text + "  - %s\n  - {name: us, match: {destination_number: '^1(\\d+)$'}, "
                             "gateway: gw1}\n" % table_route, "r.yaml")
        assert warnings(rules) == [], table_route


def test_whatever_the_earlier_routes_action_it_takes_the_call():
    for action in ("continue: true", "hangup: CALL_REJECTED", "transfer: '1000'", "gateway: gw1"):
        found = check("{name: a, match: {destination_number: '^1'}, %s}" % action,
                      "{name: b, match: {destination_number: '^1800'}, gateway: gw2}")
        assert [w.split(": ", 2)[2][:35] for w in found] == ["route 'b' never takes a call: route"], action


def test_a_catch_all_is_reported_once_not_for_every_route_after_it():
    found = check("{name: all, gateway: gw1}", "{name: b, match: {destination_number: '^1'}, gateway: gw2}",
                  "{name: c, match: {destination_number: '^2'}, gateway: gw2}")
    assert found == ["r.yaml:8: warning: route 'all' takes every number (no acl, no other condition), so the "
                     "2 routes after it are never reached"]


def test_patterns_it_cannot_read_give_no_warning():
    assert check("{name: a, match: {destination_number: '^(?=1)\\d+'}, gateway: gw1}",
                 "{name: b, match: {destination_number: '^1800'}, gateway: gw2}") == []


# -- the automata against re.search ----------------------------------------------------------

PATTERNS = ["^1", "^1\\d{2}$", "^1[2-9]\\d$", "^(1|2)", "^12?9", "^\\d+$", "^[0-2]+$", "9$", "^1(2|9)\\d?$",
            ".*", "^(\\d{3})$", "^1[01]*", "^2\\d*9$", "^(?:19|2)x?$", "[^0-9]", "^\\D", "1|9x", "^x{1,2}$",
            "^1[^2]9", "^\\w+$", "^1\\.", "^(12)+$", "^$", "^9\\d{0,2}$", "^1\\d+?$"]
NUMBERS = ["".join(chars) for n in range(5) for chars in itertools.product("0129x", repeat=n)] + ["1.2", "1\n"]


def test_each_automaton_matches_what_re_search_matches():
    for pattern in PATTERNS:
        machine = automaton(pattern, ANY)
        assert machine is not None, pattern
        for number in NUMBERS:
            states = machine.closure([0])
            for char in number:
                states = machine.step(states, char)
            assert (not machine.accepting.isdisjoint(states)) == bool(re.search(pattern, number, re.ASCII)), \
                (pattern, number)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATTERNS), st.sampled_from(PATTERNS))
def test_an_example_is_a_string_that_tells_the_two_apart(first, second):
    one, two = automaton(first, PRINTABLE), automaton(second, PRINTABLE)
    for in_second in (True, False):
        found = example(one, two, PRINTABLE, in_second)
        brute = [n for n in NUMBERS if "\n" not in n and re.search(first, n, re.ASCII)
                 and bool(re.search(second, n, re.ASCII)) == in_second]
        if found is None:
            assert brute == []
        else:
            assert re.search(first, found, re.ASCII) and bool(re.search(second, found, re.ASCII)) == in_second
            assert len(found) <= min((len(n) for n in brute), default=len(found))  # a shortest one


# -- warnings against a brute force over calls ---------------------------------------------------

MONDAY = datetime.datetime(2026, 12, 7, 10, tzinfo=datetime.timezone.utc).timestamp()
SUNDAY = MONDAY - 86400
CALLERS = ["", "1", "44", "19"]
SOURCES = ["172.16.1.1", "10.0.0.1"]
MATCHES = [None] + ["'%s'" % p.replace("\\", "\\\\") for p in PATTERNS if p != "^$"]
route_parts = st.fixed_dictionaries({
    "dest": st.sampled_from(MATCHES),
    "caller": st.sampled_from([None, "'^1'", "'^4'", "'^44$'", "'.*'"]),
    "acl": st.booleans(),
    "when": st.sampled_from([None, "when: weekdays", "unless: weekdays"]),
})


def rules_of(parts):
    lines = []
    for number, part in enumerate(parts):
        match = {}
        if part["dest"]:
            match["destination_number"] = part["dest"]
        if part["caller"]:
            match["caller_id_number"] = part["caller"]
        extra = ["match: {%s}" % ", ".join('%s: "%s"' % (k, v[1:-1]) for k, v in match.items())] if match else []
        extra += ["acl: peers"] if part["acl"] else []
        extra += [part["when"]] if part["when"] else []
        lines.append("{name: r%d, %s}" % (number, ", ".join(extra + ["gateway: gw1"])))
    return loader.parse(HEAD + "".join("  - %s\n" % line for line in lines), "r.yaml")


@settings(max_examples=150, deadline=None)
@given(st.lists(route_parts, min_size=2, max_size=5))
def test_a_route_said_to_be_shadowed_takes_no_call_a_brute_force_gives_it(parts):
    rules = rules_of(parts)
    for text in warnings(rules):
        found = re.match(r"r\.yaml:\d+: warning: route '(r\d+)' (never takes a call|is partly shadowed)", text)
        if found is None:
            assert "takes every number" in text
            continue
        name, partly = found.group(1), found.group(2) == "is partly shadowed"
        number = re.search(r"\(e\.g\. (.*)\)$", text).group(1) if partly else None
        for dest, caller, source, now in itertools.product([number] if partly else NUMBERS, CALLERS, SOURCES,
                                                           (MONDAY, SUNDAY)):
            if "\n" in dest:
                continue  # never routed (router refuses control characters)
            values = {"caller_id_number": caller}
            route, _, _ = find_route(rules, values.get, dest, source, rules.moments.at(now))
            assert route is None or route.name != name, (text, dest, caller, source, now)
