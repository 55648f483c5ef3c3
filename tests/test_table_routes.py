"""Routes through number tables: a row routes the call (gateway, group, lcr, an action, its number and
variables), no row passes it to the next route; tables load and reload with the rules' generation."""

import os
import threading
from pathlib import Path

import pytest

from fsroute.core import tables
from fsroute.core.loader import parse
from fsroute.core.model import RulesError
from fsroute.runtime import process
from test_lcr import age, wait_idle

RULES = """\
version: 1
groups:
  east: {gateways: [gwe1, gwe2]}
carriers:
  cheap: {deck: cheap.csv, gateway: gwc}
tables:
  dids:
    file: dids.csv
    key: exact
    columns: {key: did, target: trunk, number: rewrite}
    variables: {fsroute_customer: customer}
  blocked:
    file: blocked.txt
    key: prefix
    action: hangup:CALL_REJECTED
routes:
  - name: blocklist
    table: blocked
  - name: did
    match: {destination_number: '^\\+?1?(\\d{10})$'}
    number: '1$1'
    table: dids
  - name: out
    match: {destination_number: '^(\\d+)$'}
    gateway: gwdefault
"""
DIDS = """\
did,trunk,rewrite,customer
15551230001,gw1,,acme
15551230002,group:east,9$0,globex
15551230003,lcr:cheap,,
15551230004,hangup:USER_BUSY,,initech
15551230005,transfer:1000 XML default,,
15551230006,continue,,
"""
BLOCKED = "number\n1900\n15551239\n"


@pytest.fixture
def table_rules(tmp_path, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gwe1", "gwe2", "gwc", "gwdefault"])
    (tmp_path / "dids.csv").write_text(DIDS)
    (tmp_path / "blocked.txt").write_text(BLOCKED)
    (tmp_path / "cheap.csv").write_text("prefix,rate\n1,0.01\n")
    (tmp_path / "rules.yaml").write_text(RULES)
    return str(tmp_path / "rules.yaml")


def test_a_did_row_routes_to_its_gateway_and_sets_its_variables(call, table_rules):
    session = call(table_rules, "+15551230001")
    assert session.executed[-1] == ("bridge", "sofia/gateway/gw1/15551230001")
    assert session.variables["fsroute_route"] == "did"
    assert session.variables["fsroute_customer"] == "acme"


def test_a_row_rewrites_the_number_over_the_looked_up_one_and_routes_to_a_group(call, table_rules):
    session = call(table_rules, "5551230002")
    assert session.executed[-1][1] in ("sofia/gateway/gwe1/915551230002", "sofia/gateway/gwe2/915551230002")
    assert session.variables["fsroute_customer"] == "globex"


def test_a_row_can_route_through_least_cost_carriers(call, table_rules):
    session = call(table_rules, "15551230003")
    assert session.executed[-1] == ("bridge", "sofia/gateway/gwc/15551230003")
    assert session.variables["fsroute_lcr_carrier"] == "cheap"


def test_a_row_can_hang_up_transfer_or_continue(call, table_rules):
    busy = call(table_rules, "15551230004")
    assert busy.hangup_cause == "USER_BUSY" and busy.variables["fsroute_result"] == "blocked"
    assert call(table_rules, "15551230005").executed == [("transfer", "1000 XML default")]
    assert call(table_rules, "15551230006").variables["fsroute_result"] == "continued"


def test_no_row_passes_the_call_to_the_next_route(call, table_rules):
    session = call(table_rules, "15551230999")
    assert session.executed[-1] == ("bridge", "sofia/gateway/gwdefault/15551230999")
    assert session.variables["fsroute_route"] == "out"


def test_a_blocklist_table_hangs_up_its_prefixes_before_routing(call, table_rules):
    for number in ("19005550100", "15551239000"):
        session = call(table_rules, number)
        assert session.hangup_cause == "CALL_REJECTED" and session.executed == []
        assert session.variables["fsroute_route"] == "blocklist"


def test_explain_says_which_row_took_the_call_and_which_table_had_none(table_rules):
    from fsroute.tools.simulate import Simulation

    text = "\n".join(Simulation(table_rules).run("15551230002", explain=True)["explanation"])
    assert "route 'blocklist' (line 17): table 'blocked' (prefix) has no row for 15551230002 (the next route " \
        "is looked at)" in text
    assert "table 'dids' (exact, 6 rows) row 15551230002 for 15551230002: group east, number 9$0, " \
        "fsroute_customer=globex" in text


def test_the_rules_say_what_is_wrong_with_a_table_where_it_stands():
    bad = RULES.replace("key: prefix", "key: longest").replace("table: dids", "table: didz") \
        .replace("action: hangup:CALL_REJECTED", "action: hangup:NOT_A_CAUSE")
    with pytest.raises(RulesError) as caught:
        parse(bad, "/r/r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "/r/r.yaml:14:10: table 'blocked' key must be exact or prefix (longest match), not 'longest'",
        "/r/r.yaml:15:13: table 'blocked' action: 'NOT_A_CAUSE' is not a FreeSWITCH hangup cause",
        "/r/r.yaml:22:12: route 'did': no table named 'didz' (did you mean 'dids'?)",
    ]


def test_a_row_naming_what_the_rules_lack_is_a_problem_at_its_line(tmp_path, capsys):
    from fsroute.tools.cli import main

    (tmp_path / "dids.csv").write_text(DIDS + "15551230007,group:west,,\n15551230008,lcr:dear,,\n")
    (tmp_path / "blocked.txt").write_text(BLOCKED)
    (tmp_path / "cheap.csv").write_text("prefix,rate\n1,0.01\n")
    (tmp_path / "rules.yaml").write_text(RULES)
    assert main(["check", str(tmp_path / "rules.yaml")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "%s:8:1: table 'dids': no group named 'west'" % (tmp_path / "dids.csv"),
        "%s:9:1: table 'dids': lcr: no carrier named 'dear'" % (tmp_path / "dids.csv"),
    ]


def test_check_counts_each_tables_rows(table_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["check", table_rules]) == 0
    out = capsys.readouterr().out
    assert "OK: %s: table 'dids', 6 rows" % os.path.join(os.path.dirname(table_rules), "dids.csv") in out
    assert "table 'blocked', 2 rows" in out


def test_fsroute_table_lookup_prints_the_row(table_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["table", "lookup", table_rules, "blocked", "19005550100"]) == 0
    assert capsys.readouterr().out == "19005550100: table 'blocked' (prefix, 2 rows): prefix 1900\n" \
        "  hangup CALL_REJECTED\n"
    assert main(["table", "lookup", table_rules, "dids", "15551230000"]) == 1
    assert capsys.readouterr().out == "15551230000: table 'dids' (exact, 6 rows) has no row\n"
    plain = table_rules.replace("rules.yaml", "plain.yaml")
    with open(plain, "w") as handle:  # a list without an action (for fraud rules): the row, no empty line
        handle.write("version: 1\ntables:\n  premium: {file: premium.list, key: prefix, header: false}\nroutes: []\n")
    with open(plain.replace("plain.yaml", "premium.list"), "w") as handle:
        handle.write("1900\n4490\n")
    assert main(["table", "lookup", plain, "premium", "19005550100"]) == 0
    assert capsys.readouterr().out == "19005550100: table 'premium' (prefix, 2 rows): prefix 1900\n"


def test_simulate_routes_through_tables(table_rules, capsys):
    from fsroute.tools.cli import main

    assert main(["simulate", table_rules, "--dest", "15551230001", "--json"]) == 0
    assert '"sofia/gateway/gw1/15551230001"' in capsys.readouterr().out


# -- generations -----------------------------------------------------------------

def test_a_changed_table_reloads_and_a_broken_one_keeps_the_last_good(call, table_rules, fake_freeswitch, clock):
    store = process.store_for(table_rules, clock)
    path = os.path.join(os.path.dirname(table_rules), "dids.csv")
    assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gw1/15551230001"
    first = store.generation
    with open(path, "w") as handle:
        handle.write("did,trunk,rewrite,customer\n15551230001,gwe1,,acme\n")
    age(path)
    clock.advance(2)
    call(table_rules, "15551230001")
    wait_idle()
    assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gwe1/15551230001"
    second = store.generation
    assert second is not first and len(second.tables["dids"].table) == 1

    with open(path, "w") as handle:
        handle.write("did,trunk,rewrite,customer\n15551230001,gw1,,acme\n15551230001,gw2,,acme\n")
    age(path)
    for _ in range(2):
        clock.advance(2)
        assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gwe1/15551230001"
        wait_idle()
    assert store.generation is second
    errors = [m for m in fake_freeswitch.log_lines("err") if "dids.csv" in m]
    assert errors == ["fsroute: %s:3:1: duplicate number 15551230001 (line 2) (keeping sha=%s)"
                      % (path, second.rules.sha)]


def test_a_generation_goes_live_only_with_its_tables_loaded(call, table_rules, fake_freeswitch, clock, monkeypatch):
    store = process.store_for(table_rules, clock)
    call(table_rules, "15551230001")
    directory = os.path.dirname(table_rules)
    with open(os.path.join(directory, "dids2.csv"), "w") as handle:
        handle.write("did,trunk,rewrite,customer\n15551230001,gwe2,,acme\n")
    age(os.path.join(directory, "dids2.csv"))
    reading, release = threading.Event(), threading.Event()
    real_load = tables.load

    def slow_load(path, layout):
        if path.endswith("dids2.csv"):
            reading.set()
            release.wait(10)
        return real_load(path, layout)

    monkeypatch.setattr(tables, "load", slow_load)
    path = Path(table_rules)
    path.write_text(path.read_text().replace("dids.csv", "dids2.csv"))
    age(table_rules)
    clock.advance(2)
    try:
        call(table_rules, "15551230001")
        assert reading.wait(10)
        during = call(table_rules, "15551230001")
    finally:
        release.set()
    assert during.executed[-1][1] == "sofia/gateway/gw1/15551230001"  # the old generation, whole
    wait_idle()
    assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gwe2/15551230001"


def test_a_table_broken_at_the_first_load_passes_calls_on_until_it_is_fixed(call, table_rules, fake_freeswitch,
                                                                          clock):
    process.store_for(table_rules, clock)
    path = os.path.join(os.path.dirname(table_rules), "dids.csv")
    with open(path, "w") as handle:
        handle.write("did,trunk,rewrite,customer\n1555123000x,gw1,,\n")
    age(path)
    assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gwdefault/15551230001"
    assert any("dids.csv:2:1: did '1555123000x' must be 1 to 15 digits" in m for m in fake_freeswitch.log_lines("err"))
    with open(path, "w") as handle:
        handle.write(DIDS)
    age(path, 5)
    clock.advance(2)
    call(table_rules, "15551230001")
    wait_idle()
    assert call(table_rules, "15551230001").executed[-1][1] == "sofia/gateway/gw1/15551230001"


# -- blocklists from mod_blacklist -------------------------------------------------

BLACKLIST_CONF = """\
<configuration name="mod_blacklist.conf">
  <lists>
    <list name="fraud" filename="fraud.list"/>
    <list name="nofile"/>
  </lists>
</configuration>
"""


def test_mod_blacklist_lists_import_as_tables_read_from_the_same_files(tmp_path, call, fake_freeswitch, capsys):
    from fsroute.tools.cli import main
    from fsroute.tools.tabletool import load_tables

    fake_freeswitch.set_gateways("external", up=["gw1"])
    (tmp_path / "fraud.list").write_text("15551230001\n+15551230002\nanonymous\n")
    (tmp_path / "mod_blacklist.conf.xml").write_text(BLACKLIST_CONF)
    assert main(["import", "--blacklist", str(tmp_path / "mod_blacklist.conf.xml")]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "%s:4: a list without a name or filename: not imported (mod_blacklist skips it too)"
        % (tmp_path / "mod_blacklist.conf.xml"),
        "%s:3: list 'fraud': entry 'anonymous' is not a number: the table refuses to load until it is removed "
        "(block it with a route matching caller_id_number instead)" % (tmp_path / "fraud.list")]
    rules = tmp_path / "rules.yaml"
    rules.write_text(out + "  - name: out\n    gateway: gw1\n")
    with pytest.raises(RulesError) as caught:
        load_tables(parse(rules.read_text(), str(rules)))
    assert str(caught.value.problems[0]) == "%s:3:1: number 'anonymous' must be 1 to 15 digits 0-9" \
        % (tmp_path / "fraud.list")
    (tmp_path / "fraud.list").write_text("15551230001\n+15551230002\n")
    for caller, cause in (("15551230002", "CALL_REJECTED"), ("+15551230001", "CALL_REJECTED"), ("1555", None)):
        session = call(str(rules), "5000", caller_id_number=caller)
        assert session.hangup_cause == cause
    assert session.executed == [("bridge", "sofia/gateway/gw1/5000")]


# -- number portability ------------------------------------------------------------

LNP_RULES = """\
version: 1
carriers:
  east: {deck: east.csv, gateway: gweast}
  west: {deck: west.csv, gateway: gwwest}
tables:
  lnp:
    file: lnp.csv
    key: exact
    columns: {key: dn, number: lrn}
lookup: {table: lnp%s}
routes:
  - name: nanp
    match: {destination_number: '^1(\\d{10})$'}
    lcr: {carriers: [east, west]}
"""
LNP = "dn,lrn\n15551230001,14445550000\n"


@pytest.fixture
def lnp_rules(tmp_path, fake_freeswitch):
    def write(extra=""):
        fake_freeswitch.set_gateways("external", up=["gweast", "gwwest"])
        (tmp_path / "lnp.csv").write_text(LNP)
        (tmp_path / "east.csv").write_text("prefix,rate\n1555,0.001\n1444,0.009\n")
        (tmp_path / "west.csv").write_text("prefix,rate\n1555,0.005\n1444,0.002\n")
        (tmp_path / "rules.yaml").write_text(LNP_RULES % extra)
        return str(tmp_path / "rules.yaml")
    return write


def test_a_ported_number_is_rated_on_its_lrn_and_dialled_as_dialled(call, lnp_rules):
    rules = lnp_rules()
    ported = call(rules, "15551230001")
    assert ported.executed[0] == ("bridge", "sofia/gateway/gwwest/15551230001")  # west is cheaper for 1444
    assert ported.variables["fsroute_lrn"] == "14445550000"
    assert ported.variables["fsroute_lcr_prefix"] == "1444"
    kept = call(rules, "15551230002")  # not ported: routed as dialled
    assert kept.executed[0] == ("bridge", "sofia/gateway/gweast/15551230002")
    assert "fsroute_lrn" not in kept.variables


def test_a_call_dipped_upstream_routes_on_its_lrn_variable(call, lnp_rules):
    session = call(lnp_rules(), "15551230002", lrn="14445559999")
    assert session.executed[0] == ("bridge", "sofia/gateway/gwwest/15551230002")
    assert session.variables["fsroute_lrn"] == "14445559999"


def test_the_dialled_number_goes_through_the_routes_own_rewrite(call, lnp_rules, tmp_path):
    rules = lnp_rules()
    text = (tmp_path / "rules.yaml").read_text().replace("match: {destination_number: '^1(\\d{10})$'}",
                                                           "match: {destination_number: '^1(\\d{10})$'}\n"
                                                           "    number: '011$1'")
    (tmp_path / "rules.yaml").write_text(text)
    (tmp_path / "east.csv").write_text("prefix,rate\n0115,0.001\n")
    (tmp_path / "west.csv").write_text("prefix,rate\n0114,0.002\n")
    session = call(rules, "15551230001")
    assert session.executed[0] == ("bridge", "sofia/gateway/gwwest/0115551230001")
    assert session.variables["fsroute_lcr_prefix"] == "0114"  # rated on 011 + the LRN's digits


def test_lookup_can_dial_the_routing_number(call, lnp_rules):
    session = call(lnp_rules(", dial: routing"), "15551230001")
    assert session.executed[0] == ("bridge", "sofia/gateway/gwwest/14445550000")


def test_explain_says_what_the_lookup_found(lnp_rules):
    from fsroute.tools.simulate import Simulation

    text = Simulation(lnp_rules()).run("15551230001", explain=True)["explanation"]
    assert text[0] == "lookup 15551230001: table 'lnp' row 15551230001: routing number 14445550000 routes and " \
        "rates the call"


def test_a_lookup_names_a_table_with_a_number_column():
    text = LNP_RULES.replace("columns: {key: dn, number: lrn}", "action: continue") % ""
    with pytest.raises(RulesError) as caught:
        parse(text, "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:10:17: lookup: table 'lnp' maps no number column (the routing number, LRN)"]


def test_the_docs_did_example_loads_and_routes_as_it_says(tmp_path, call, fake_freeswitch):
    import re

    text = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text()
    example = text.split("## Worked example: DIDs to customers", 1)[1].split("## Worked example: a blocklist")[0]
    csv_block, yaml_block = re.findall(r"```(?:yaml)?\n(.*?)```", example, re.S)
    (tmp_path / "dids.csv").write_text(csv_block)
    (tmp_path / "rules.yaml").write_text(yaml_block)
    fake_freeswitch.set_gateways("external", up=["acme_trunk", "globex1", "globex2"])
    rules = str(tmp_path / "rules.yaml")
    assert call(rules, "15551230001").executed[-1] == ("bridge", "sofia/gateway/acme_trunk/15551230001")
    assert call(rules, "15551230002").executed[-1][1].endswith("/+15551230002")
    # $0 is the number looked up, without the destination's own '+': one '+', not '++'
    assert call(rules, "+15551230002").executed[-1][1].endswith("/globex2/+15551230002")
    assert call(rules, "15551230003").hangup_cause == "UNALLOCATED_NUMBER"
    assert call(rules, "15551239999").variables["fsroute_route"] == "not ours"


def test_ctl_status_lists_each_tables_rows(call, table_rules):
    from fsroute import ctl

    call(table_rules, "15551230001")
    text = ctl.status(table_rules)
    directory = os.path.dirname(table_rules)
    assert "  dids (%s): 6 rows, loaded " % os.path.join(directory, "dids.csv") in text
    assert "  blocked (%s): 2 rows, loaded " % os.path.join(directory, "blocked.txt") in text


def test_a_table_route_cannot_name_a_table_of_numbers_only():
    text = LNP_RULES % "" + "  - name: by lnp\n    table: lnp\n"
    with pytest.raises(RulesError) as caught:
        parse(text, "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:16:12: route 'by lnp': table 'lnp' has neither a target column nor an action: it gives numbers "
        "only (lookup:)"]


# -- per-DID extensions imported into one table -------------------------------------

def per_did_dialplan(count):
    extensions = "".join(
        '  <extension name="did %d">\n'
        '    <condition field="destination_number" expression="^%d$">\n'
        '      <action application="bridge" data="sofia/gateway/gw%d/%s"/>\n'
        '    </condition>\n'
        '  </extension>\n' % (i, 15551230000 + i, i % 3, ("%d" if i % 2 else "9%d") % (15551230000 + i))
        for i in range(count))
    duplicate = ('  <extension name="again">\n    <condition field="destination_number" expression="^15551230000$">\n'
                 '      <action application="bridge" data="sofia/gateway/gw9/1"/>\n    </condition>\n'
                 '  </extension>\n')
    rest = ('  <extension name="the rest">\n    <condition field="destination_number" expression="^(\\d+)$">\n'
            '      <action application="bridge" data="sofia/gateway/gwrest/$1"/>\n    </condition>\n'
            '  </extension>\n')
    return "<include>\n" + extensions + duplicate + rest + "</include>\n"


def test_per_did_extensions_import_as_one_table_that_routes_the_same(tmp_path, capsys):
    from fsroute.tools.cli import main
    from fsroute.tools.simulate import simulate

    (tmp_path / "dialplan.xml").write_text(per_did_dialplan(40))
    assert main(["import", "--dialplan", str(tmp_path / "dialplan.xml"), "--dids-table", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "extension again: DID 15551230000 is routed by the extension at line 2 already" in err
    rules = parse(out, "r.yaml")
    assert [r.name for r in rules.routes] == ["dids", "the rest"]
    assert len((tmp_path / "dids.csv").read_text().splitlines()) == 41
    (tmp_path / "rules.yaml").write_text(out)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["import", "--dialplan", str(tmp_path / "dialplan.xml")]) == 0
    (plain / "rules.yaml").write_text(capsys.readouterr().out)
    for number in ("15551230000", "15551230007", "15551230008", "15551230039", "15551230040", "999"):
        folded = simulate(str(tmp_path / "rules.yaml"), number)
        routed = simulate(str(plain / "rules.yaml"), number)
        assert [a["dialstring"] for a in folded["attempts"]] == [a["dialstring"] for a in routed["attempts"]]
        assert folded["attempts"], number
        # the gateways only the table names are the switch's as much as the routes' are
        assert (folded["result"], folded["hangup_cause"]) == (routed["result"], routed["hangup_cause"]), number


def test_a_dids_table_directory_is_made_and_one_that_cannot_be_is_one_line(tmp_path, capsys):
    from fsroute.tools.cli import main

    (tmp_path / "dialplan.xml").write_text(per_did_dialplan(40))
    assert main(["import", "--dialplan", str(tmp_path / "dialplan.xml"), "--dids-table",
                 str(tmp_path / "new" / "tables")]) == 0
    assert len((tmp_path / "new" / "tables" / "dids.csv").read_text().splitlines()) == 41
    capsys.readouterr()
    (tmp_path / "a file").write_text("")
    assert main(["import", "--dialplan", str(tmp_path / "dialplan.xml"), "--dids-table",
                 str(tmp_path / "a file" / "tables")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "cannot write the table: " in err and "Traceback" not in err


def test_a_call_the_ingress_acl_refuses_costs_no_lookup(lnp_rules):
    from fsroute.core import router
    from fsroute.core.selection import Selector
    from fsroute.runtime.process import store_for

    path = lnp_rules().replace("rules.yaml", "acl.yaml")
    with open(path, "w") as handle:
        handle.write(LNP_RULES.replace("lookup:", "acls:\n  peers: {default: deny, nodes: [allow: 10.0.0.0/8]}\n"
                                       "ingress_acl: peers\nlookup:") % "")
    generation = store_for(path).current()
    asked = []

    def table_of(name):
        asked.append(name)
        return generation.table_of(name)

    def decide(source):
        variables = {"destination_number": "15551230001", "network_addr": source}
        return router.decide(generation.rules, variables.get, lambda gateway: True, Selector(None, ()), 1.0e9,
                             deck_of=generation.deck_of, explain=True, table_of=table_of)
    denied = decide("192.0.2.1")
    assert (denied.outcome, denied.lrn, asked) == (router.Outcome.DENIED, None, [])
    assert not any(line.startswith("lookup") for line in denied.reasons)
    admitted = decide("10.1.2.3")
    assert (admitted.outcome, admitted.lrn, asked) == (None, "14445550000", ["lnp"])


def test_a_row_that_hangs_up_transfers_or_continues_sets_its_variables_as_a_route_does(call, table_rules, tmp_path):
    (tmp_path / "dids.csv").write_text(DIDS.replace("15551230005,transfer:1000 XML default,,",
                                                    "15551230005,transfer:1000 XML default,,hooli")
                                       .replace("15551230006,continue,,", "15551230006,continue,,umbrella"))
    busy = call(table_rules, "15551230004")
    assert (busy.hangup_cause, busy.variables["fsroute_customer"]) == ("USER_BUSY", "initech")
    assert call(table_rules, "15551230005").variables["fsroute_customer"] == "hooli"
    assert call(table_rules, "15551230006").variables["fsroute_customer"] == "umbrella"
    routes = tmp_path / "routes.yaml"
    routes.write_text("""\
version: 1
routes:
  - {name: h, match: {destination_number: '^1(\\d+)'}, hangup: USER_BUSY, set: {why: 'busy-$1'}, export: {e: f}}
  - {name: t, match: {destination_number: '^2'}, transfer: '1000 XML default', set: {why: transferred}}
  - {name: c, match: {destination_number: '^3'}, continue: true, set: {why: '${caller_id_number}'}}
  - {name: u, match: {destination_number: '^4'}, continue: true, set: {why: '${hostile}'}}
""")
    blocked = call(str(routes), "1234")
    assert (blocked.variables["why"], blocked.variables["e"], blocked.variables["export_vars"]) == ("busy-234", "f", "e")
    assert call(str(routes), "2").variables["why"] == "transferred"
    assert call(str(routes), "3").variables["why"] == "1000"
    unsafe = call(str(routes), "4", hostile="x]sofia/gateway/evil/1")  # refused as a bridge's value is
    assert unsafe.variables["fsroute_result"] == "invalid_number" and "why" not in unsafe.variables
