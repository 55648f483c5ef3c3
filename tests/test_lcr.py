"""Least-cost routing: rate decks, the prefix table, ranking, the `lcr` route, deck reload."""

import datetime
import io
import os
import random
import textwrap
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from fsroute.core import decks, lcr, loader, rowfile
from fsroute.core.model import RulesError
from fsroute.runtime import events, process

JAN = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
JUL = int(datetime.datetime(2026, 7, 1, tzinfo=datetime.timezone.utc).timestamp())


def deck(text, name="deck.csv"):
    return decks.parse(textwrap.dedent(text).lstrip("\n").splitlines(True), name)


def problems(text):
    with pytest.raises(RulesError) as info:
        deck(text, "d.csv")
    return [str(p) for p in info.value.problems]


def matched(table, number, now=JAN):
    row = table.find(number, now)
    return table.row(row).prefix if row >= 0 else None


# -- decks ---------------------------------------------------------------------

def test_longest_prefix_wins_and_falls_back_to_shorter_ones():
    table = deck("""
        prefix,rate
        1,0.01
        1212,0.02
        12125,0.03
        44,0.04
        447,0.05
    """)
    assert matched(table, "12125551234") == "12125"
    assert matched(table, "12124") == "1212"
    assert matched(table, "1213") == "1"
    assert matched(table, "4478") == "447"
    assert matched(table, "4412") == "44"
    assert matched(table, "4") is None
    assert matched(table, "5") is None
    assert matched(table, "1") == "1"


def test_a_tab_separated_deck_in_any_order_with_every_column():
    table = deck("description\tincrements\tconnect_fee\teffective_to\teffective_from\trate\tprefix\n"
                 "DE mobile\t60/60\t0.01\t\t2026-01-01\t0.0425\t4915\n"
                 "Germany\t1/1\t0\t\t\t0.012\t49\n")
    row = table.row(table.find("4915123", JAN))
    assert row == decks.Rate("4915", 42500, 10000, "60/60", JAN, decks.FOREVER, "DE mobile")
    assert table.row(table.find("4930", JAN)).description == "Germany"


def test_effective_dates_pick_the_rate_in_force_at_the_instant():
    table = deck("""
        prefix,rate,effective_from,effective_to
        4915,0.04,2026-07-01,
        49,0.02,,
        4916,0.07,2026-07-01T00:00:00+02:00,
        4915,0.05,,2026-07-01
    """)
    assert table.row(table.find("491512", JAN)).rate == 50000
    assert table.row(table.find("491512", JUL)).rate == 40000
    assert table.row(table.find("491512", JUL - 1)).rate == 50000
    # a prefix with no rate in force yet gives way to its shorter prefix
    assert matched(table, "491612", JUL - 7201) == "49"
    assert matched(table, "491612", JUL - 7200) == "4916"


def test_every_bad_row_is_reported_with_its_line():
    assert problems("""
        prefix,rate,effective_from,effective_to
        49,0.1,,
        49,0.2,,
        4a,0.1,,
        44,-0.5,,
        33,0.1,2026-01-01,2026-03-01
        33,0.1,2026-02-01,
        34,0.1,2026-03-01,2026-02-01
        35,0.1,soon,
        36
    """) == [
        "d.csv:3:1: duplicate prefix 49 (line 2)",
        "d.csv:4:1: prefix '4a' must be 1 to 15 digits 0-9",
        "d.csv:5:1: rate '-0.5' must be a decimal number from 0 up",
        "d.csv:7:1: prefix 33: effective dates overlap (line 6)",
        "d.csv:8:1: effective_from is not before effective_to",
        "d.csv:9:1: effective_from 'soon' is not an ISO date (2026-01-01 or 2026-01-01T08:00:00+01:00)",
        "d.csv:10:1: the row has 1 fields; the header names 4",
    ]


@pytest.mark.parametrize("optional", ["connect_fee", "increments", "description"])
def test_a_row_without_a_trailing_optional_cell_is_reported_with_its_line(optional):
    # the quick reader read the prefix and rate of such a row, then its missing cell: IndexError,
    # no file:line, the carrier's calls ended in error
    assert problems("prefix,rate,%s\n49,0.01,%s\n4915,0.03\n" % (optional, "60/60" if optional == "increments"
                                                                 else "0.02" if optional == "connect_fee" else "DE")) \
        == ["d.csv:3:1: the row has 2 fields; the header names 3"]


def test_empty_optional_cells_mean_none():
    table = deck("""
        prefix,rate,connect_fee,increments,effective_from,effective_to,description
        49,0.02,,,,,
        4915,0.04,0.01,60/60,,,DE mobile
    """)
    assert table.row(table.find("4930", JAN)) == decks.Rate("49", 20000, 0, "", decks.NEVER, decks.FOREVER, "")
    assert table.row(table.find("4915", JAN)) == decks.Rate("4915", 40000, 10000, "60/60", decks.NEVER,
                                                            decks.FOREVER, "DE mobile")


def test_a_problem_on_many_rows_is_one_line_with_a_count():
    rows = "".join("%d,0.1,x,\n" % (100 + i) for i in range(60)) + "7,-1,,\n" + "8,0.1,y,\n9,0.1,0.1,1/1\n"
    assert problems("prefix,rate,connect_fee,increments\n" + rows) == [
        "d.csv:2:1: connect_fee 'x' must be a decimal number from 0 up (and 60 more rows like it: lines 3, "
        "4, 5, 6, 7, ...)",
        "d.csv:62:1: rate '-1' must be a decimal number from 0 up",
    ]


def test_the_header_must_name_prefix_and_rate():
    assert problems("prefix,cost\n1,0.1\n") == [
        "d.csv:1:1: unknown column 'cost' (expected some of: prefix, rate, connect_fee, increments, "
        "effective_from, effective_to, description)"]
    assert problems("prefix\n1\n") == ["d.csv:1:1: the header row must name the columns; 'rate' is missing"]


def test_an_unsorted_deck_is_sorted_in_buckets():
    rows = ["%d,0.%03d" % (p, p % 1000) for p in (7, 71, 3, 712, 30, 9, 33, 710, 1, 7129, 99999, 999)]
    table = deck("prefix,rate\n" + "\n".join(rows) + "\n")
    assert [decks.key_digits(k) for k in table.keys] == sorted(decks.key_digits(k) for k in table.keys)
    assert matched(table, "71299") == "7129"
    assert matched(table, "7128") == "712"
    assert matched(table, "7119") == "71"
    assert matched(table, "339") == "33"
    assert matched(table, "999999") == "99999"
    assert matched(table, "99998") == "999"
    assert matched(table, "0") is None
    assert table.row(table.find("7109", JAN)).rate == 710000


@settings(max_examples=200, deadline=None)
@given(st.sets(st.text("0123", min_size=1, max_size=6), min_size=1, max_size=40),
       st.lists(st.text("0123", min_size=1, max_size=8), min_size=1, max_size=20))
def test_find_is_the_longest_prefix_by_brute_force(prefixes, numbers):
    table = deck("prefix,rate\n" + "".join("%s,1\n" % p for p in sorted(prefixes, key=hash)))
    for number in numbers:
        expected = max((p for p in prefixes if number.startswith(p)), key=len, default=None)
        assert matched(table, number) == expected



def test_a_prefix_sorted_deck_may_list_a_prefixs_newer_rate_first():
    # Sorted by prefix, but the price update comes before the rate it replaces: that is no duplicate.
    table = deck("""
        prefix,rate,effective_from,effective_to
        49,0.02,,
        4915,0.030,2026-07-01,
        4915,0.040,,2026-07-01
    """)
    assert table.row(table.find("491512", JAN)).rate == 40000
    assert table.row(table.find("491512", JUL)).rate == 30000


def _dated_rows(draw_cuts, prefixes):
    """Deck rows (prefix, rate, start, end) with, per prefix, rates over disjoint date ranges."""
    rows = []
    for prefix in prefixes:
        cuts = sorted(draw_cuts())
        bounds = [decks.NEVER] + cuts + [decks.FOREVER]
        for number, (start, end) in enumerate(zip(bounds, bounds[1:])):
            if start < end and number % 3 != 2:  # some ranges have no rate: a shorter prefix takes over
                rows.append((prefix, len(rows) + 1, start, end))
    return rows


@st.composite
def dated_decks(draw):
    prefixes = draw(st.sets(st.text("012", min_size=1, max_size=4), min_size=1, max_size=12))
    dates = st.sets(st.integers(0, 5).map(lambda day: JAN + day * 86400), max_size=3)
    rows = _dated_rows(lambda: draw(dates), sorted(prefixes))
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))  # any order at all
    else:  # sorted by prefix, each prefix's dates in any order
        rows = sorted(draw(st.permutations(rows)), key=lambda row: row[0])
    return rows


def _date_cell(seconds):
    if seconds in (decks.NEVER, decks.FOREVER):
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%d")


@settings(max_examples=300, deadline=None)
@given(dated_decks(), st.lists(st.text("012", min_size=1, max_size=5), min_size=1, max_size=10),
       st.lists(st.integers(-1, 6).map(lambda day: JAN + day * 86400 - 1), min_size=1, max_size=4))
def test_find_with_dated_rows_in_any_order_is_the_brute_force_lookup(rows, numbers, instants):
    table = deck("prefix,rate,effective_from,effective_to\n" + "".join(
        "%s,%d,%s,%s\n" % (prefix, rate, _date_cell(start), _date_cell(end)) for prefix, rate, start, end in rows))
    for number in numbers:
        for now in instants:
            in_force = [row for row in rows if number.startswith(row[0]) and row[2] <= now < row[3]]
            best = max(in_force, key=lambda row: len(row[0]), default=None)
            found = table.find(number, now)
            assert (table.row(found).rate // decks.MICRO if found >= 0 else None) == (best[1] if best else None)


def test_find_in_a_deck_big_enough_for_a_finer_index_is_the_longest_prefix():
    rng = random.Random(5)
    prefixes = {"".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9))) for _ in range(30000)}
    table = deck("prefix,rate\n" + "".join("%s,1\n" % p for p in prefixes))
    assert len(table.index.bounds) == 10 ** 3 + 1  # one index digit per tenfold rows, from 1 digit under 1,000 rows
    for _ in range(20000):
        number = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 15)))
        expected = next((number[:n] for n in range(len(number), 0, -1) if number[:n] in prefixes), None)
        assert matched(table, number) == expected

# -- ranking -------------------------------------------------------------------

RULES = """\
version: 1
defaults: {status_ttl: 60}
groups:
  b_trunks:
    strategy: priority
    gateways: [gwb1, gwb2]
carriers:
  carrier_a: {deck: a.csv, gateway: gwa, number_format: '+$0', currency: USD}
  carrier_b: {deck: b.csv, group: b_trunks, currency: USD}
  carrier_c: {deck: c.csv, gateway: gwc, number_format: '0011#$0', currency: USD}
routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr:
      carriers: [carrier_a, carrier_b, carrier_c]
      max_rate: 0.05
      on_no_carrier: {hangup: CALL_REJECTED}
"""
DECK_A = "prefix,rate\n49,0.020\n4915,0.060\n44,0.010\n"
DECK_B = "prefix,rate\n49,0.015\n4915,0.030\n44,0.010\n"
DECK_C = "prefix,rate\n4915,0.040\n491512,0.025\n"


@pytest.fixture
def lcr_rules(tmp_path, fake_freeswitch):
    """The rules above with their three decks; every gateway up."""
    fake_freeswitch.set_gateways("external", up=["gwa", "gwb1", "gwb2", "gwc"])
    for name, text in (("a.csv", DECK_A), ("b.csv", DECK_B), ("c.csv", DECK_C)):
        (tmp_path / name).write_text(text)
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return str(path)


def test_a_carriers_hash_caller_group_keeps_a_caller_on_its_gateway(write_rules, call, fake_freeswitch, tmp_path):
    # the least-cost path hashed the number for every strategy: hash_caller became hash_destination
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3", "gw4"])
    (tmp_path / "c.csv").write_text("prefix,rate\n49,0.01\n")
    path = write_rules("""\
version: 1
groups:
  trunks: {strategy: hash_caller, gateways: [gw1, gw2, gw3, gw4]}
carriers:
  c: {deck: c.csv, group: trunks}
routes:
  - {name: by group, match: {destination_number: '^9(\\d+)$'}, number: '$1', group: trunks}
  - {name: by lcr, match: {destination_number: '^(\\d+)$'}, number: '$1', lcr: {carriers: [c]}}
""")

    def first(dest, caller):
        return call(path, dest, caller_id_number=caller).bridges[0][0].split("/")[2]

    for caller in ("4930111222", "4940333444", "4989555666"):
        by_group = {first("9" + "49301%05d" % i, caller) for i in range(20)}
        by_lcr = {first("49301%05d" % i, caller) for i in range(20)}
        assert len(by_lcr) == 1 and by_lcr == by_group, caller


def test_carriers_are_ranked_by_rate_with_the_route_order_breaking_ties(lcr_rules):
    generation = process.store_for(lcr_rules).current()
    carriers = generation.rules.routes[0].lcr.carriers
    ranking = lcr.rank(carriers, generation.deck_of, "4915999", JAN)
    assert [(q.carrier.name, q.details().prefix, q.rate) for q in ranking.quotes] == [
        ("carrier_b", "4915", 30000), ("carrier_c", "4915", 40000), ("carrier_a", "4915", 60000)]
    tie = lcr.rank(carriers, generation.deck_of, "4420", JAN).quotes
    assert [q.carrier.name for q in tie] == ["carrier_a", "carrier_b"]
    assert [q.carrier.name for q in lcr.affordable(ranking.quotes, 40000)] == ["carrier_b", "carrier_c"]


def test_the_grammar_checks_carriers_and_lcr_routes(write_rules):
    path = write_rules("""\
        version: 1
        carriers:
          a: {deck: a.csv, gateway: gw1, currency: USD, number_format: '00{number}{number}'}
          b: {deck: b.csv, gateway: gw1, group: g, currency: EUR}
          c: {deck: c.csv, gateway: gw2, currency: EUR}
          d: {deck: d.csv, gateway: gw3, currency: USD}
        routes:
          - name: r
            lcr: {carriers: [c, d, e, c], max_rate: -1}
          - name: s
            gateway: gw1
            lcr: {carriers: [d]}
    """, "r.yaml")
    with pytest.raises(RulesError) as info:
        loader.load(path)
    assert [str(p).split("r.yaml:")[1] for p in info.value.problems] == [
        "3:64: carrier 'a' number_format '00{number}{number}' must hold '{number}' once, with only "
        "0-9 A-Z a-z + * # . _ - around it",
        "4:6: carrier 'b' must name exactly one of 'gateway' or 'group' (it names gateway and group)",
        "4:41: carrier 'b': no group named 'g'",
        "9:21: route 'r' lcr: the carriers' rates are in different currencies (EUR, USD); "
        "rates can only be compared in one",
        "9:28: route 'r' lcr: no carrier named 'e'",
        "9:31: route 'r' lcr: carrier 'c' is listed twice",
        "9:45: route 'r' lcr max_rate must be a rate per minute from 0 up, like 0.05",
        "10:5: route 's' must name exactly one of 'gateway', 'group' or 'lcr' (it names gateway and lcr)",
    ]


def test_a_number_format_is_a_template_over_the_looked_up_number(write_rules):
    path = write_rules("""\
        version: 1
        carriers:
          a: {deck: a.csv, gateway: gw1, number_format: '9${account}#+$0'}
          b: {deck: b.csv, gateway: gw1, number_format: '$0'}
          c: {deck: c.csv, gateway: gw1}
        routes:
          - {name: r, lcr: {carriers: [a, b, c]}}
    """)
    carriers = loader.load(path).carriers
    assert carriers["a"].dial_number("4930", {"account": "77"}.get) == "977#+4930"
    assert carriers["a"].dial_number("4930") == "9#+4930"  # an unset variable is empty, as in a route's number
    assert carriers["b"].dial_number("4930") == carriers["c"].dial_number("4930") == "4930"
    assert loader.load(path).warnings == ()


def test_a_number_format_has_only_0_and_refuses_the_rest_where_it_stands(write_rules):
    path = write_rules("""\
        version: 1
        carriers:
          a: {deck: a.csv, gateway: gw1, number_format: '00$1'}
          b: {deck: b.csv, gateway: gw1, number_format: '0044'}
          c: {deck: c.csv, gateway: gw1, number_format: '$01'}
          d: {deck: d.csv, gateway: gw1, number_format: '$0 ${x'}
          e: {deck: e.csv, gateway: gw1, number_format: '[x]$0'}
        routes:
          - {name: r, lcr: {carriers: [a, b, c, d, e]}}
    """, "r.yaml")
    with pytest.raises(RulesError) as info:
        loader.load(path)
    assert [str(p).split("r.yaml:")[1] for p in info.value.problems] == [
        "3:49: carrier 'a' number_format: uses $1, but it has only $0 (the looked-up number)",
        "4:49: carrier 'b' number_format '0044' must use $0, the looked-up number",
        "5:49: carrier 'c' number_format: uses $01, but it has only $0 (the looked-up number): a digit right "
        "after $0 reads as part of its number, as in FreeSWITCH",
        "6:49: carrier 'd' number_format '$0 ${x' may hold only 0-9 A-Z a-z + * # . _ -, $N captures and ${var}",
        "7:49: carrier 'e' number_format '[x]$0' may hold only 0-9 A-Z a-z + * # . _ -, $N captures and ${var}",
    ]


def test_the_old_number_format_routes_as_before_and_check_warns_about_it(write_rules, capsys, fake_freeswitch,
                                                                         call):
    from fsroute.tools.cli import main

    write_rules(DECK_C, "c.csv")
    old = write_rules(RULES.replace("'0011#$0'", "'0011#{number}'").replace("'+$0'", "'+{number}x'")
                      .replace("b.csv, group: b_trunks,", "b.csv, group: b_trunks, number_format: '{number}1',"),
                      "old.yaml")
    new = write_rules(RULES.replace("'+$0'", "'+$0x'"), "new.yaml")
    for name, text in (("a.csv", DECK_A), ("b.csv", DECK_B)):
        write_rules(text, name)
    old_carriers, new_carriers = loader.load(old).carriers, loader.load(new).carriers
    for number in ("4915", "1", "0"):
        assert old_carriers["carrier_a"].dial_number(number) == new_carriers["carrier_a"].dial_number(number) \
            == "+%sx" % number
        assert old_carriers["carrier_c"].dial_number(number) == new_carriers["carrier_c"].dial_number(number) \
            == "0011#%s" % number
        assert old_carriers["carrier_b"].dial_number(number) == number + "1"
    fake_freeswitch.set_gateways("external", up=["gwa", "gwb1", "gwb2", "gwc"])
    assert bridges(call(old, "00491512345")) == bridges(call(new, "00491512345")) \
        == ["sofia/gateway/gwc/0011#491512345"]
    assert main(["check", new]) == 0 and capsys.readouterr().err == ""
    assert main(["check", old]) == 0
    out, err = capsys.readouterr()
    # '{number}1' has no $0 form ($01 reads as capture 1): it is not warned about
    assert out.splitlines()[0].endswith(", 2 warnings") and err.splitlines() == [
        "%s:8:57: warning: carrier 'carrier_a' number_format '+{number}x': '{number}' is deprecated (format 1 "
        "still reads it); write '+$0x', the template syntax of routes and gateways" % old,
        "%s:10:57: warning: carrier 'carrier_c' number_format '0011#{number}': '{number}' is deprecated "
        "(format 1 still reads it); write '0011#$0', the template syntax of routes and gateways" % old]
    assert main(["check", "--strict", old]) == 1


def test_a_number_format_fills_in_the_calls_variable(call, lcr_rules, capsys):
    with open(lcr_rules) as handle:
        text = handle.read()
    with open(lcr_rules, "w") as handle:
        handle.write(text.replace("'0011#$0'", "'0011#$0#${account}'"))
    session = call(lcr_rules, "00491512345", account="42")
    assert bridges(session) == ["sofia/gateway/gwc/0011#491512345#42"]
    session = call(lcr_rules, "00491512345", account="42]sofia/gateway/evil/1")
    assert bridges(session) == [] and session.variables["fsroute_result"] == "invalid_number"
    from fsroute.tools.cli import main

    assert main(["lcr", lcr_rules, "00491512345"]) == 0  # no call to fill it in from: shown as written
    assert capsys.readouterr().out.splitlines()[3].endswith(" gwc/0011#491512345#${account}")


# -- calls -----------------------------------------------------------------------

def bridges(session):
    return [data for app, data in session.executed if app == "bridge"]


def test_a_call_goes_to_the_cheapest_carrier_in_its_number_format(call, lcr_rules, fake_freeswitch):
    session = call(lcr_rules, "00491512345")
    assert bridges(session) == ["sofia/gateway/gwc/0011#491512345"]
    assert {k: session.variables[k] for k in ("fsroute_result", "fsroute_lcr_carrier", "fsroute_lcr_prefix",
                                              "fsroute_lcr_rate", "fsroute_number")} == {
        "fsroute_result": "bridged", "fsroute_lcr_carrier": "carrier_c", "fsroute_lcr_prefix": "491512",
        "fsroute_lcr_rate": "0.025", "fsroute_number": "491512345"}
    line, = [m for m in fake_freeswitch.log_lines("info") if m.startswith("fsroute uuid=")]
    assert " tried=gwc:SUCCESS " in line and " lcr=carrier_c:491512:0.025 " in line


def test_failover_goes_to_the_next_cheapest_carrier(call, lcr_rules):
    session = call(lcr_rules, "00491599", bridge_outcomes={"gwb1": "NORMAL_TEMPORARY_FAILURE",
                                                             "gwb2": "SERVICE_UNAVAILABLE"})
    # carrier_b (0.03, a group of two), then carrier_c (0.04); carrier_a (0.06) is above max_rate
    assert bridges(session) == ["sofia/gateway/gwb1/491599", "sofia/gateway/gwb2/491599",
                                "sofia/gateway/gwc/0011#491599"]
    assert session.variables["fsroute_lcr_carrier"] == "carrier_c"
    assert session.variables["fsroute_lcr_rate"] == "0.04"


def test_a_down_carrier_gateway_is_left_out(call, lcr_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gwa", "gwb2"], down=["gwb1", "gwc"])
    assert bridges(call(lcr_rules, "00491512345")) == ["sofia/gateway/gwb2/491512345"]


def test_no_carrier_within_max_rate_takes_the_routes_action(call, lcr_rules):
    session = call(lcr_rules, "0033123")
    assert bridges(session) == []
    assert session.variables["fsroute_result"] == "no_carrier"
    assert session.hangup_cause == "CALL_REJECTED"
    with open(os.path.join(os.path.dirname(lcr_rules), "a.csv"), "a") as deck_file:
        deck_file.write("33,0.09\n")
    process.store_for(lcr_rules).reload()
    session = call(lcr_rules, "0033123")
    assert (session.variables["fsroute_result"], session.hangup_cause) == ("no_carrier", "CALL_REJECTED")


def test_an_automatic_reload_goes_live_only_with_its_decks_loaded(call, lcr_rules, fake_freeswitch, monkeypatch,
                                                                   clock):
    # Issue 19, defect 1: a file-change reload swapped the rules in and loaded a new deck lazily after;
    # calls in between got no_carrier. Now the generation is made current once its decks are read.
    store = process.store_for(lcr_rules, clock)
    assert call(lcr_rules, "00491512345").variables["fsroute_lcr_carrier"] == "carrier_c"
    directory = os.path.dirname(lcr_rules)
    with open(os.path.join(directory, "d.csv"), "w") as deck_file:  # a new month's deck for carrier_c
        deck_file.write("prefix,rate\n4915,0.001\n")
    age(os.path.join(directory, "d.csv"))
    reading, release = threading.Event(), threading.Event()
    real_load = decks.load

    def slow_load(path):
        if path.endswith("d.csv"):
            reading.set()
            release.wait(10)
        return real_load(path)

    monkeypatch.setattr(decks, "load", slow_load)
    with open(lcr_rules) as handle:
        text = handle.read()
    with open(lcr_rules + ".new", "w") as handle:
        handle.write(text.replace("c.csv", "d.csv"))
    os.replace(lcr_rules + ".new", lcr_rules)  # as a configuration manager does it
    age(lcr_rules)
    clock.advance(2)
    try:
        first = call(lcr_rules, "00491512345")  # sees the change: the new generation is built aside
        assert reading.wait(10)
        during = [call(lcr_rules, "00491512345") for _ in range(3)]
    finally:
        release.set()
    for session in [first] + during:  # the old generation, whole, while the new deck loads
        assert (session.variables["fsroute_result"], session.variables["fsroute_lcr_rate"]) == ("bridged", "0.025")
    wait_idle()
    after = call(lcr_rules, "00491512345")
    assert (after.variables["fsroute_lcr_carrier"], after.variables["fsroute_lcr_rate"]) == ("carrier_c", "0.001")
    assert set(store.generation.decks) == {os.path.join(directory, n) for n in ("a.csv", "b.csv", "d.csv")}


def test_a_deck_no_generation_uses_is_freed(call, lcr_rules, fake_freeswitch, clock):
    import gc
    import weakref
    store = process.store_for(lcr_rules, clock)
    call(lcr_rules, "00491512345")
    old = weakref.ref(store.generation.decks[os.path.join(os.path.dirname(lcr_rules), "c.csv")].content)
    with open(lcr_rules) as handle:
        text = handle.read()
    with open(lcr_rules, "w") as handle:
        handle.write(text.replace("c.csv", "a.csv"))
    store.reload()
    events.flush()  # the last call's record (and with it the old rules) is through its observers
    process._process.after_round()  # what the poller's thread does after each round
    gc.collect()
    assert old() is None


# -- reload ----------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def age(path, seconds=10):
    then = os.stat(path).st_mtime - seconds
    os.utime(path, (then, then))


def wait_idle():
    for thread in threading.enumerate():
        if thread.name == "fsroute-reload":
            thread.join(10)


def test_a_changed_deck_is_swapped_in_and_a_broken_one_keeps_the_last_good(call, lcr_rules, fake_freeswitch,
                                                                            clock):
    store = process.store_for(lcr_rules, clock)
    path = os.path.join(os.path.dirname(lcr_rules), "c.csv")

    def rate():
        return call(lcr_rules, "00491512345").variables["fsroute_lcr_rate"]

    assert rate() == "0.025"
    first = store.generation
    with open(path, "w") as deck_file:
        deck_file.write("prefix,rate\n491512,0.02\n")
    clock.advance(2)
    assert rate() == "0.025"  # written just now: it may still be being written
    wait_idle()
    assert store.generation is first
    age(path)
    clock.advance(2)
    rate()
    wait_idle()
    assert rate() == "0.02" and store.generation is not first
    second = store.generation

    with open(path, "w") as deck_file:
        deck_file.write("prefix,rate\n49,0.03\n49,0.04\nx,1\n")
    age(path)
    for _ in range(3):
        clock.advance(2)
        assert rate() == "0.02"
        wait_idle()
    assert store.generation is second
    errors = [m for m in fake_freeswitch.log_lines("err") if "c.csv" in m]
    assert errors == ["fsroute: %s:3:1: duplicate prefix 49 (line 2) (and 1 more: fsroute check lists them) "
                      "(keeping sha=%s)" % (path, second.rules.sha)]
    assert str(store.last_error.problems[1]) == "%s:4:1: prefix 'x' must be 1 to 15 digits 0-9" % path


# -- tools -----------------------------------------------------------------------

def test_fsroute_lcr_prints_the_ranking(lcr_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["lcr", lcr_rules, "00491599", "--at", "2026-01-01"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "number 00491599 -> route 'international' looks up 491599 at 2026-01-01T00:00:00Z ('2026-01-01' has no "
        "UTC offset: read in UTC, the rules set no defaults.tz); max_rate 0.05",
        "each carrier priced as a 180 s call (the default): connect_fee + rate x billed seconds / 60, the seconds "
        "billed in the row's increments (initial/next; none: 1/1)",
        "#   carrier          prefix          rate       incr    fee      cost       cur  effective_from        "
        "effective_to          dial",
        "1   carrier_b        4915            0.03       1/1     0        0.09       USD  -                     "
        "-                     group b_trunks/491599",
        "2   carrier_c        4915            0.04       1/1     0        0.12       USD  -                     "
        "-                     gwc/0011#491599",
        "3   carrier_a        4915            0.06       1/1     0        0.18       USD  -                     "
        "-                     gwa/+491599  (above max_rate: not used)",
    ]
    assert main(["lcr", lcr_rules, "0033"]) == 0
    assert capsys.readouterr().out.splitlines()[3:] == [
        "-   carrier_a        no prefix of 33 in force",
        "-   carrier_b        no prefix of 33 in force",
        "-   carrier_c        no prefix of 33 in force"]


def test_fsroute_check_reports_every_bad_deck_row(lcr_rules, capsys):
    from fsroute.tools.cli import main

    directory = os.path.dirname(lcr_rules)
    assert main(["check", lcr_rules]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "OK: %s/%s.csv: 3 rows" % (directory, name) for name in "ab"] + ["OK: %s/c.csv: 2 rows" % directory]
    with open(os.path.join(directory, "b.csv"), "a") as deck_file:
        deck_file.write("4915,0.02\n49x,1\n")
    assert main(["check", lcr_rules]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["%s/b.csv:5:1: duplicate prefix 4915 (line 3)" % directory,
                                "%s/b.csv:6:1: prefix '49x' must be 1 to 15 digits 0-9" % directory]


def test_ctl_test_shows_carrier_prefix_and_rate(lcr_rules, fake_freeswitch):
    from fsroute import ctl

    ctl.preload(lcr_rules)
    text = ctl.test(lcr_rules, "00491599")
    assert text.splitlines()[1:] == [
        "outcome: route",
        "route: international",
        "number: 491599",
        "gateways: gwb1 gwb2 gwc",
        "  sofia/gateway/gwb1/491599  carrier=carrier_b prefix=4915 rate=0.03",
        "  sofia/gateway/gwb2/491599  carrier=carrier_b prefix=4915 rate=0.03",
        "  sofia/gateway/gwc/0011#491599  carrier=carrier_c prefix=4915 rate=0.04",
    ]


def test_quoted_fields_blank_lines_and_crlf_line_ends():
    table = decks.parse(['prefix;rate;description\r\n', '82;0.05;"Korea; Republic of"\r\n', '\r\n',
                         '1;0.01;US\r\n', '\n'], "d.csv")
    assert len(table) == 2
    assert table.row(table.find("8212", JAN)) == decks.Rate("82", 50000, 0, "", decks.NEVER, decks.FOREVER,
                                                            "Korea; Republic of")
    assert table.row(table.find("1", JAN)).description == "US"


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("header, row", [("rate,effective_from,prefix,effective_to", "0.1,,%d,2026-07-01"),
                                         ("prefix,rate,effective_from", "%d,0.1,2026-07-01"),
                                         ("rate,prefix", "0.1,%d")])
def test_well_formed_rows_take_the_fast_path_whichever_column_is_last(monkeypatch, line_end, header, row):
    # Only a date's first row takes the slow path (which learns the date). A date, or the prefix, in
    # the last column kept the line end on it and missed the fast path on every row.
    slow = []
    parse_row = decks._Builder.parse_row
    monkeypatch.setattr(decks._Builder, "parse_row", lambda self, fields, *rest: slow.append(fields) or parse_row(
        self, fields, *rest))
    table = decks.parse([header + line_end] + [row % prefix + line_end for prefix in range(40, 50)], "d.csv")
    assert len(table) == 10 and table.row(table.find("491", JUL)).rate == 100000
    assert len(slow) <= 1


@settings(max_examples=300)
@given(st.text(alphabet="ab,\r\n\u00e9\u20ac\U0001f600", max_size=60), st.integers(1, 9))
def test_read_lines_gives_the_lines_a_text_file_gives(text, size):
    data = text.encode("utf-8")
    expected = list(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""))
    assert list(decks.read_lines(io.BytesIO(data), size)) == expected


def test_a_deck_is_read_a_mebibyte_at_a_time(tmp_path, monkeypatch):
    # Small reads each hand the GIL over and take it straight back, which starves the call threads.
    path = tmp_path / "big.csv"
    path.write_text("prefix,rate\n" + "".join("%d,0.01\n" % (100000 + i) for i in range(300000)))
    reads = []

    class Counting(io.FileIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    monkeypatch.setattr(rowfile, "open", lambda name, mode, buffering: Counting(name, "rb"), raising=False)
    assert len(decks.load(str(path))) == 300000
    assert len(reads) == -(-path.stat().st_size // decks.READ_BYTES) + 1  # the blocks, then the empty read


# -- import from mod_lcr -----------------------------------------------------------

MOD_LCR_DUMP = """\
CREATE TABLE carriers (id INTEGER PRIMARY KEY AUTOINCREMENT, carrier_name VARCHAR(255), enabled BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE carrier_gateway (id INTEGER PRIMARY KEY AUTOINCREMENT, carrier_id INTEGER, prefix VARCHAR(255) NOT NULL,
  suffix VARCHAR(255) NOT NULL, codec VARCHAR(255) NOT NULL DEFAULT '', enabled BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE lcr (id INTEGER PRIMARY KEY AUTOINCREMENT, digits VARCHAR(15), rate NUMERIC(11,5),
  intrastate_rate NUMERIC(11,5), intralata_rate NUMERIC(11,5), carrier_id INTEGER NOT NULL,
  lead_strip INTEGER NOT NULL DEFAULT 0, trail_strip INTEGER NOT NULL DEFAULT 0, prefix VARCHAR(16) NOT NULL DEFAULT '',
  suffix VARCHAR(16) NOT NULL DEFAULT '', lcr_profile INTEGER NOT NULL DEFAULT 0,
  date_start DATETIME NOT NULL DEFAULT '1970-01-01', date_end DATETIME NOT NULL DEFAULT '2030-12-31',
  quality NUMERIC(10,6) NOT NULL DEFAULT 0, reliability NUMERIC(10,6) NOT NULL DEFAULT 0,
  cid VARCHAR(32) NOT NULL DEFAULT '', enabled BOOLEAN NOT NULL DEFAULT 1, lrn BOOLEAN NOT NULL DEFAULT 0);
INSERT INTO carriers (id, carrier_name) VALUES (1, 'carrier_a'), (2, 'carrier_b'), (3, 'carrier c');
INSERT INTO carrier_gateway (carrier_id, prefix, suffix, codec) VALUES
  (1, 'loopback/gwa_', '/default', ''),
  (2, 'sofia/gateway/gwb/', '', 'PCMU'),
  (3, 'sofia/gateway/gwc/00', '', ''),
  (3, 'sofia/gateway/gwd/00', '', '');
INSERT INTO lcr (digits, rate, carrier_id, quality, reliability) VALUES
  ('1555', 0.01000, 1, 90, 95),
  ('1555', 0.02000, 2, 99, 99),
  ('15551', 0.03000, 3, 80, 80),
  ('1', 0.10000, 2, 50, 50);
INSERT INTO lcr (digits, rate, carrier_id, date_start, date_end, enabled) VALUES
  ('44', 0.5, 2, '2026-01-01 00:00:00', '2026-07-01', 1),
  ('45', 0.5, 2, '1970-01-01', '2030-12-31', 0);
"""


@pytest.mark.parametrize("as_database", [False, True])
def test_import_lcr_writes_decks_and_rules_that_route(tmp_path, capsys, as_database):
    import sqlite3

    from fsroute.tools.cli import main

    source = tmp_path / ("lcr.db" if as_database else "lcr.sql")
    if as_database:
        db = sqlite3.connect(str(source))
        db.executescript(MOD_LCR_DUMP)
        db.commit()
        db.close()
    else:
        source.write_text(MOD_LCR_DUMP)
    decks_dir = tmp_path / "decks"
    assert main(["import", "--lcr", str(source), "--decks", str(decks_dir)]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "carrier carrier_a: dial string 'loopback/gwa_'...'/default' is not sofia/gateway/<gw>/: not imported",
        "carrier carrier_a has no usable gateway: not imported",
        "carrier carrier_b: codec 'PCMU' of gateway gwb is not carried over (set it on the gateway or with "
        "absolute_codec_string)",
        "carrier carrier_b: 1 rows with disabled",
    ]
    assert "number_format: '00$0'}" in out  # the template syntax of routes and gateways
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(out)
    assert main(["check", "--strict", str(rules_path)]) == 0 and capsys.readouterr().err == ""
    assert (decks_dir / "carrier_b.csv").read_text() == (
        "prefix,rate,effective_from,effective_to\n"
        "1,0.1,1970-01-01,2030-12-31\n1555,0.02,1970-01-01,2030-12-31\n44,0.5,2026-01-01T00:00:00,2026-07-01\n")
    assert main(["lcr", str(rules_path), "15551234", "--at", "2026-03-01"]) == 0
    ranking = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] + [line.split()[-1]] for line in ranking[3:]] == [
        ["carrier_b", "1555", "gwb/15551234"], ["carrier_c", "15551", "carrier_c_gateways/0015551234"]]
    assert "group carrier_c_gateways" in ranking[4]


def test_import_lcr_keeps_digits_after_the_number_in_the_old_form(tmp_path, capsys):
    from fsroute.tools.cli import main

    source = tmp_path / "lcr.sql"
    source.write_text(MOD_LCR_DUMP.replace("(2, 'sofia/gateway/gwb/', '', 'PCMU')",
                                           "(2, 'sofia/gateway/gwb/', '9', '')"))
    assert main(["import", "--lcr", str(source), "--decks", str(tmp_path / "decks")]) == 0
    out = capsys.readouterr().out
    assert "number_format: '{number}9'}" in out  # '$09' would read as capture 9
    assert loader.parse(out, str(tmp_path / "rules.yaml")).carriers["carrier_b"].dial_number("1555") == "15559"


def test_simulate_and_ctl_status_know_the_decks(lcr_rules, capsys, fake_freeswitch):
    from fsroute import ctl
    from fsroute.tools.cli import main

    assert main(["simulate", lcr_rules, "--dest", "00491599", "--fail", "gwb1=NORMAL_TEMPORARY_FAILURE"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "1   sofia/gateway/gwb1/491599                NORMAL_TEMPORARY_FAILURE",
        "2   sofia/gateway/gwb2/491599                SUCCESS"]
    ctl.preload(lcr_rules)
    with open(os.path.join(os.path.dirname(lcr_rules), "c.csv"), "a") as deck_file:
        deck_file.write("1,x\n")
    assert ctl.command("reload " + lcr_rules).startswith("-ERR ")
    status = ctl.status(lcr_rules).splitlines()
    directory = os.path.dirname(lcr_rules)
    start = status.index("decks:")
    assert [line.split(", loaded")[0] for line in status[start + 1:start + 4]] == [
        "  %s/a.csv: 3 rows" % directory, "  %s/b.csv: 3 rows" % directory, "  %s/c.csv: 2 rows" % directory]
    assert "last_error: %s/c.csv:4:1: rate 'x' must be a decimal number from 0 up" % directory in status


def test_a_carrier_format_that_makes_the_number_too_long_is_refused(call, lcr_rules):
    session = call(lcr_rules, "00491512" + "1" * 54)  # 62 digits; carrier_c adds 5 characters
    assert bridges(session) == []
    assert session.variables["fsroute_result"] == "invalid_number"


def test_the_example_in_docs_lcr_md_loads():
    from rulesdata import ROOT

    text = (ROOT / "docs" / "lcr.md").read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = loader.parse(example, str(ROOT / "docs" / "rules.yaml"))
    spec = rules.routes[0].lcr
    assert [c.name for c in spec.carriers] == ["carrier_a", "carrier_b", "carrier_c"]
    assert spec.max_rate == 50000 and spec.on_no_carrier.cause == "NO_ROUTE_DESTINATION"
    assert rules.carriers["carrier_c"].dial_number("4915") == "0011#4915"
    assert rules.carriers["carrier_a"].deck == str(ROOT / "docs" / "decks" / "carrier_a.csv")


def test_a_simulation_reads_the_decks_once_and_leaves_the_process_decks_alone(lcr_rules, monkeypatch):
    from fsroute.tools.simulate import Simulation

    reads = []
    real_load = decks.load
    monkeypatch.setattr(decks, "load", lambda path: reads.append(path) or real_load(path))
    simulation = Simulation(lcr_rules)
    runs = [simulation.run("00491512345")["attempts"][0]["dialstring"] for _ in range(3)]
    assert runs == ["sofia/gateway/gwc/0011#491512345"] * 3
    assert len(reads) == 3  # each deck once, for every run
    assert process.loaded_stores() == []


def test_a_valid_lcr_file_is_read_in_one_pass(lcr_rules, monkeypatch):
    from fsroute.core import yamltree

    passes = []
    real_parse = yamltree.parse
    monkeypatch.setattr(yamltree, "parse", lambda text, fold=None: passes.append(fold) or real_parse(text, fold))
    rules = loader.load(lcr_rules)
    assert len(passes) == 1 and passes[0] is not None  # routes built as read, carriers put in afterwards
    spec = rules.routes[0].lcr
    assert [c.name for c in spec.carriers] == ["carrier_a", "carrier_b", "carrier_c"]
    assert all(c is rules.carriers[c.name] for c in spec.carriers)


def test_a_misspelt_carrier_is_reported_with_a_suggestion(write_rules):
    path = write_rules("""
        version: 1
        carriers:
          carrier_a: {deck: a.csv, gateway: gw1}
          carrier_b: {deck: b.csv, gateway: gw1, gateway_: x}
        routes:
          - name: r
            lcr: {carriers: [carrier_a, carier_b]}
    """, "r.yaml")
    with pytest.raises(RulesError) as info:
        loader.load(path)
    assert [str(p).split("r.yaml:")[1] for p in info.value.problems] == [
        "5:42: carrier 'carrier_b': unknown key 'gateway_' (did you mean 'gateway'?)",
        "8:33: route 'r' lcr: no carrier named 'carier_b' (did you mean 'carrier_b'?)",
    ]


def test_import_lcr_reports_an_unusable_file_on_one_line(tmp_path, capsys):
    from fsroute.tools.cli import main

    dump = tmp_path / "lcr.sql"
    dump.write_text("this is not SQL;\n")
    assert main(["import", "--lcr", str(dump), "--decks", str(tmp_path / "decks")]) == 1
    assert capsys.readouterr().err.startswith("%s:0: not an SQLite database" % dump)
    assert main(["import", "--lcr", str(tmp_path / "missing.db"), "--decks", str(tmp_path / "decks")]) == 1
    assert capsys.readouterr().err == "%s:0: cannot read the file: No such file or directory\n" % (tmp_path / "missing.db")


# -- with observability and time-of-day routing (merged from main) -----------------------------

def test_the_route_event_carries_each_attempts_carrier_prefix_and_rate(call, lcr_rules, fake_freeswitch):
    from fsroute.runtime.events import ROUTE
    call(lcr_rules, "00491599", bridge_outcomes={"gwb1": "NORMAL_TEMPORARY_FAILURE"})
    [event] = fake_freeswitch.fired(ROUTE)
    expected = {"fsroute-result": "bridged", "fsroute-attempts": "2",
                "fsroute-attempt-1-gateway": "gwb1", "fsroute-attempt-1-lcr-carrier": "carrier_b",
                "fsroute-attempt-1-lcr-prefix": "4915", "fsroute-attempt-1-lcr-rate": "0.03",
                "fsroute-attempt-2-gateway": "gwb2", "fsroute-attempt-2-lcr-carrier": "carrier_b",
                "fsroute-attempt-2-lcr-prefix": "4915", "fsroute-attempt-2-lcr-rate": "0.03"}
    assert {k: event.get(k) for k in expected} == expected


def test_a_skipped_gateway_leaves_the_lcr_headers_in_step_with_the_attempts(call, lcr_rules, fake_freeswitch,
                                                                            monkeypatch):
    from fsroute.runtime.events import ROUTE
    from fsroute.runtime.generation import Generation as Loaded
    real = Loaded.is_up
    asked = []

    def is_up(self, gateway):  # gwb2 goes DOWN once the first attempt has been made
        asked.append(gateway)
        return gateway != "gwb2" or asked.count("gwb2") < 2
    monkeypatch.setattr(Loaded, "is_up", is_up)
    session = call(lcr_rules, "00491599", bridge_outcomes={"gwb1": "NORMAL_TEMPORARY_FAILURE"})
    monkeypatch.setattr(Loaded, "is_up", real)
    assert bridges(session) == ["sofia/gateway/gwb1/491599", "sofia/gateway/gwc/0011#491599"]
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-attempt-2-gateway"], event["fsroute-attempt-2-lcr-carrier"],
            event["fsroute-attempt-2-lcr-rate"]) == ("gwc", "carrier_c", "0.04")


def test_no_carrier_reaches_the_event_and_the_metrics(call, lcr_rules, fake_freeswitch):
    from prometheus_client.parser import text_string_to_metric_families
    from fsroute import ctl
    from fsroute.runtime.events import ROUTE
    call(lcr_rules, "0033123")
    [event] = fake_freeswitch.fired(ROUTE)
    assert (event["fsroute-result"], event["fsroute-route"], event["fsroute-hangup-cause"],
            event["fsroute-attempts"]) == ("no_carrier", "international", "CALL_REJECTED", "0")
    assert "fsroute-attempt-1-lcr-carrier" not in event
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(ctl.command("metrics")) for s in family.samples}
    assert samples[("fsroute_calls_total", (("result", "no_carrier"), ("route", "international")))] == 1


def test_the_call_reads_the_clock_once_and_rates_at_fsroute_now_when_set(call, lcr_rules, fake_freeswitch,
                                                                        monkeypatch):
    from fsroute.runtime import clock
    reads = []

    def wall():
        reads.append(1)
        return JAN
    monkeypatch.setattr(clock.SystemClock, "time", staticmethod(wall))
    call(lcr_rules, "00491512345")  # loads the rules (their load reads the clock too)
    reads.clear()
    call(lcr_rules, "00491512345")
    assert len(reads) == 1  # the call's instant, once
    reads.clear()
    session = call(lcr_rules, "00491512345", fsroute_now="2026-01-01T00:00:00Z")
    assert not reads and session.variables["fsroute_lcr_carrier"] == "carrier_c"
    session = call(lcr_rules, "00491512345", fsroute_now="yesterday")
    assert session.variables["fsroute_result"] == "error"


def test_a_timed_lcr_route_rates_at_the_calls_instant(call, tmp_path, lcr_rules, fake_freeswitch):
    (tmp_path / "a.csv").write_text("prefix,rate,effective_from,effective_to\n"
                                    "49,0.010,2026-01-01,2026-06-01\n49,0.050,2026-06-01,2027-01-01\n")
    rules = open(lcr_rules).read().replace("    lcr:\n", "    time: {hour: 0-23, tz: UTC}\n    lcr:\n")
    path = tmp_path / "timed.yaml"
    path.write_text(rules)
    assert loader.load(str(path)).timed
    winter = call(str(path), "00491599", fsroute_now="2026-01-15T12:00:00Z")
    summer = call(str(path), "00491599", fsroute_now="2026-07-15T12:00:00Z")
    assert (winter.variables["fsroute_lcr_carrier"], winter.variables["fsroute_lcr_rate"]) == ("carrier_a", "0.01")
    assert (summer.variables["fsroute_lcr_carrier"], summer.variables["fsroute_lcr_rate"]) == ("carrier_b", "0.03")


def test_decide_needs_the_instant_for_an_lcr_route(lcr_rules):
    from fsroute.core import router
    from fsroute.core.selection import Selector
    rules = loader.load(lcr_rules)
    assert rules.has_lcr and not rules.timed
    facts = {"destination_number": "00491512345"}.get
    with pytest.raises(ValueError, match="least-cost"):
        router.decide(rules, facts, lambda gateway: True, Selector(None, rules.groups.values()))
    decision = router.decide(rules, facts, lambda gateway: True, Selector(None, rules.groups.values()),
                             now=JAN, deck_of=lambda carrier: None)
    assert decision.outcome == "no_carrier"


def test_a_traced_lcr_call_shows_the_carriers_and_the_instant(call, lcr_rules, fake_freeswitch):
    call(lcr_rules, "00491512345", fsroute_trace="true", fsroute_now="2026-01-01T00:00:00Z")
    lines = [m for m in fake_freeswitch.log_lines("notice") if "fsroute trace" in m]
    assert any("least-cost route 'international' at 2026-01-01T00:00:00Z: order gwc (carrier carrier_c, "
               "prefix 491512, rate 0.025)" in m for m in lines), lines
    assert any("decision route" in m for m in lines) and any("attempt 1: sofia/gateway/gwc/0011#491512345" in m
                                                             for m in lines)


def test_simulate_and_ctl_test_rate_at_the_instant_given(tmp_path, lcr_rules, fake_freeswitch):
    from fsroute import ctl
    from fsroute.tools.simulate import simulate
    (tmp_path / "a.csv").write_text("prefix,rate,effective_from,effective_to\n"
                                    "49,0.010,2026-01-01,2026-06-01\n49,0.050,2026-06-01,2027-01-01\n")
    winter = simulate(lcr_rules, "00491599", at="2026-01-15T12:00:00Z")
    summer = simulate(lcr_rules, "00491599", at="2026-07-15T12:00:00Z")
    assert winter["attempts"][0]["dialstring"] == "sofia/gateway/gwa/+491599"
    assert summer["attempts"][0]["dialstring"] == "sofia/gateway/gwb1/491599"
    text = ctl.test(lcr_rules, "00491599", at="2026-01-15T12:00:00Z")
    assert "sofia/gateway/gwa/+491599  carrier=carrier_a prefix=49 rate=0.01" in text


def test_explain_says_how_an_lcr_route_ranks_its_carriers(lcr_rules, fake_freeswitch):
    from fsroute import ctl
    from fsroute.tools.simulate import simulate

    report = simulate(lcr_rules, "00491512345", explain=True, at="2026-03-01T00:00:00Z")
    assert report["explanation"][-2:] == [
        "its carriers for 491512345, cheapest 180 s call first: carrier_c (prefix 491512: 0.025/min x 180 s billed "
        "(1/1) = 0.075), carrier_b (prefix 4915: 0.03/min x 180 s billed (1/1) = 0.09)",
        "above max_rate 0.05: carrier_a (0.06)"]
    ctl.preload(lcr_rules)
    answer = ctl.test(lcr_rules, "0033123", "127.0.0.1", at="2026-03-01T00:00:00Z").splitlines()
    assert answer[1] == "outcome: no_carrier (no carrier serves it)"
    assert answer[-2:] == ["  its carriers for 33123, cheapest 180 s call first: none",
                           "  no prefix of 33123 in force: carrier_a, carrier_b, carrier_c"]


def test_ctl_test_says_why_from_the_walk_that_decided(lcr_rules, monkeypatch):
    # the decks finish loading in the background while ctl test runs: what it says is what decided (decks not
    # loaded), not what a second walk over the rules would find a moment later
    from types import SimpleNamespace

    from fsroute import ctl
    from fsroute.runtime.generation import standalone

    asked = set()

    def loading(carrier):
        if carrier.name in asked:
            return decks.load(carrier.deck)
        asked.add(carrier.name)
        return None

    loaded = standalone(loader.load(lcr_rules), {})
    loaded.deck_of = loading
    monkeypatch.setattr(ctl, "store_for", lambda path: SimpleNamespace(current=lambda: loaded))
    answer = ctl.test(lcr_rules, "00491512345", at="2026-03-01T00:00:00Z").splitlines()
    assert answer[1] == "outcome: no_carrier (no carrier serves it (decks not loaded: carrier_a,carrier_b,carrier_c))"
    assert answer[-4:] == ["  route 'international' (line 12): every condition holds; it takes the call",
                           "  priced as a 180 s call: the default",
                           "  its carriers for 491512345, cheapest 180 s call first: none",
                           "  deck not loaded: carrier_a, carrier_b, carrier_c"]


def test_a_traced_lcr_call_says_how_it_ranked_the_carriers(call, lcr_rules, fake_freeswitch):
    session = call(lcr_rules, "00491512345", fsroute_trace="true", fsroute_now="2026-01-01T00:00:00Z")
    prefix = "fsroute trace uuid=%s " % session.uuid
    lines = [m[len(prefix):] for m in fake_freeswitch.log_lines("notice") if m.startswith(prefix)]
    assert lines[1:5] == [
        "route 'international' (line 12): every condition holds; it takes the call",
        "priced as a 180 s call: the default",
        "its carriers for 491512345, cheapest 180 s call first: carrier_c (prefix 491512: 0.025/min x 180 s billed "
        "(1/1) = 0.075), carrier_b (prefix 4915: 0.03/min x 180 s billed (1/1) = 0.09)",
        "above max_rate 0.05: carrier_a (0.06)"]
    assert lines[5].startswith("deck versions used: carrier_c loaded ")


def test_explain_says_which_deck_version_ranked_the_carriers(lcr_rules, fake_freeswitch):
    from fsroute.core.explain import explain

    rules = loader.parse(RULES.replace("{status_ttl: 60}", "{status_ttl: 60, tz: Asia/Tokyo}"), lcr_rules)
    by_path = {c.deck: decks.load(c.deck) for c in rules.carriers.values()}
    for day, deck in enumerate(sorted(by_path.values(), key=lambda d: d.filename)):
        deck.loaded_at = JAN + day * 86400  # a.csv, b.csv, c.csv loaded on the 1st, 2nd and 3rd
    lines = explain(rules, {"destination_number": "00491512345"}.get, JUL, deck_of=lambda c: by_path[c.deck])
    assert lines[-1] == (
        "deck versions used: carrier_c loaded 2026-01-03 09:00:00 Asia/Tokyo (2026-01-03T00:00:00Z), "
        "carrier_b loaded 2026-01-02 09:00:00 Asia/Tokyo (2026-01-02T00:00:00Z), "
        "carrier_a loaded 2026-01-01 09:00:00 Asia/Tokyo (2026-01-01T00:00:00Z)")
    generation = process.store_for(lcr_rules).current()  # the switch's decks: loaded_at is when they were read
    loaded = generation.decks[rules.carriers["carrier_a"].deck]
    assert loaded.content.loaded_at == loaded.loaded_at is not None


def test_explain_says_which_gateways_of_the_carriers_were_down(lcr_rules, fake_freeswitch):
    from fsroute.tools.simulate import simulate

    report = simulate(lcr_rules, "00491512345", down=["gwa", "gwb1", "gwb2", "gwc"], explain=True,
                      at="2026-03-01T00:00:00Z")
    assert report["result"] == "all_down"
    assert report["explanation"][-1] == ("no gateway to try: gwc down (profile external), gwb1 down (profile "
                                         "external), gwb2 down (profile external)")


def test_fsroute_lcr_reaches_time_conditioned_routes_at_the_given_instant(lcr_rules, capsys):
    # A route with time conditions ahead of the lcr route, and a time-conditioned lcr route: both are
    # judged at --at, not a crash ("the call's instant (now=) is needed").
    from fsroute.tools.cli import main

    with open(lcr_rules) as f:
        text = f.read()
    text = text.replace("""routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
""", """routes:
  - name: closed on new year
    match: {destination_number: '^00(\\d+)$'}
    time: {mon: 1, mday: 1, tz: UTC}
    gateway: gwa
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    time: {year: 2026, tz: UTC}
""")
    assert "closed on new year" in text
    with open(lcr_rules, "w") as f:
        f.write(text)
    assert main(["lcr", lcr_rules, "00491599", "--at", "2026-01-02T00:00:00Z"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "number 00491599 -> route 'international' looks up 491599 at 2026-01-02T00:00:00Z; max_rate 0.05")
    assert main(["lcr", lcr_rules, "00491599", "--at", "2026-01-01T12:00:00Z"]) != 0
    assert capsys.readouterr().out == "00491599: route 'closed on new year' is not a least-cost route\n"
    assert main(["lcr", lcr_rules, "00491599", "--at", "2027-01-02T00:00:00Z"]) != 0
    assert capsys.readouterr().out == "00491599: no route matches\n"


def test_a_deck_broken_at_the_first_load_is_taken_up_once_its_file_is_fixed(call, lcr_rules, fake_freeswitch,
                                                                              clock):
    path = os.path.join(os.path.dirname(lcr_rules), "c.csv")
    with open(path, "w") as deck_file:
        deck_file.write("prefix,rate\nx,1\n")
    store = process.store_for(lcr_rules, clock)
    assert call(lcr_rules, "00491512345").variables["fsroute_lcr_carrier"] == "carrier_b"  # c left out
    with open(path, "w") as deck_file:
        deck_file.write(DECK_C)
    age(path)
    clock.advance(2)
    call(lcr_rules, "00491512345")  # sees the fixed file: a new generation is built
    wait_idle()
    assert call(lcr_rules, "00491512345").variables["fsroute_lcr_carrier"] == "carrier_c"
    assert path in store.generation.decks


def test_a_new_deck_file_still_being_written_waits_for_an_automatic_reload(call, lcr_rules, fake_freeswitch, clock):
    directory = os.path.dirname(lcr_rules)
    store = process.store_for(lcr_rules, clock)
    call(lcr_rules, "00491512345")
    first = store.generation
    with open(os.path.join(directory, "d.csv"), "w") as deck_file:  # written just now: maybe half copied
        deck_file.write("prefix,rate\n4915,0.001\n")
    with open(lcr_rules) as handle:
        text = handle.read()
    with open(lcr_rules, "w") as handle:
        handle.write(text.replace("c.csv", "d.csv"))
    age(lcr_rules)
    clock.advance(2)
    call(lcr_rules, "00491512345")
    wait_idle()
    assert store.generation is first
    age(os.path.join(directory, "d.csv"))
    clock.advance(2)
    call(lcr_rules, "00491512345")
    wait_idle()
    assert call(lcr_rules, "00491512345").variables["fsroute_lcr_rate"] == "0.001"
