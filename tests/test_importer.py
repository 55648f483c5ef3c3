"""fsroute import / fsroute compare: the classic XML setup carried over, and checked against itself.

Fixtures under tests/data/import/: the exact snippets of the migration issue
(issue6_*), a realistic site (site/: two contexts, three distributor lists,
three acl lists with many nodes) full of constructs fsroute cannot express,
and broken XML.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from fsroute.tools import cli
from fsroute.core import loader
from fsroute.migrate.compare import DistributorCycle, compare
from fsroute.migrate.importer import import_files, number_template
from fsroute.migrate.legacy import ConfigError, read_legacy
from fsroute.migrate.render import _scalar
from fsroute.tools.simulate import simulate

DATA = Path(__file__).parent / "data" / "import"
ISSUE_DIALPLAN = str(DATA / "issue6_dialplan.xml")
ISSUE_DISTRIBUTOR = str(DATA / "issue6_distributor.xml")
SITE = DATA / "site"
PUBLIC, DEFAULT = str(SITE / "public.xml"), str(SITE / "default.xml")
SITE_DISTRIBUTOR, SITE_ACL = str(SITE / "distributor.conf.xml"), str(SITE / "acl.conf.xml")
SITE_FILES = ["--dialplan", PUBLIC, "--dialplan", DEFAULT, "--distributor", SITE_DISTRIBUTOR, "--acl", SITE_ACL]
PEER, NOT_PEER = "172.16.221.5", "172.16.221.99"   # trunk_peers allows the first, denies the second


def line_of(path, needle, nth=1):
    """The 1-based line of the nth line of ``path`` holding ``needle``."""
    hits = [i for i, line in enumerate(Path(path).read_text().splitlines(), 1) if needle in line]
    assert len(hits) >= nth, "%r not found %d times in %s" % (needle, nth, path)
    return hits[nth - 1]


def site_import():
    return import_files([PUBLIC, DEFAULT], SITE_DISTRIBUTOR, SITE_ACL)


@pytest.fixture
def issue6_rules(tmp_path):
    result = import_files([ISSUE_DIALPLAN], ISSUE_DISTRIBUTOR)
    path = tmp_path / "fsroute.yaml"
    path.write_text(result.text)
    return str(path), result


@pytest.fixture
def site_rules(tmp_path):
    result = site_import()
    path = tmp_path / "fsroute.yaml"
    path.write_text(result.text)
    return str(path), result


# -- the issue's snippets -------------------------------------------------------------------

def test_issue_snippets_import_cleanly_into_valid_rules(issue6_rules):
    _, result = issue6_rules
    assert result.reports == ()
    ruleset = loader.parse(result.text, "imported")
    assert [r.name for r in ruleset.routes] == ["out through gw1", "lb"]
    first, second = ruleset.routes
    assert (first.gateway, first.group, first.dest.pattern) == ("gw1", None, r"^9(10[01][0-9])$")
    assert (second.gateway, second.group, second.dest.pattern) == (None, "gw_group_1", r"(^\d+$)")
    assert [(m.name, m.weight) for m in ruleset.groups["gw_group_1"].members] == [("gw1", 1), ("gw2", 2)]
    assert ruleset.groups["gw_group_1"].strategy == "weighted_round_robin"
    assert ruleset.defaults.profile == "external"


def test_issue_snippets_route_91001_to_gw1(issue6_rules):
    path, _ = issue6_rules
    report = simulate(path, "91001", src_ip=PEER)
    assert report["result"] == "bridged"
    assert report["route"] == "out through gw1"
    assert [a["dialstring"] for a in report["attempts"]] == ["sofia/gateway/gw1/1001"]


def test_issue_snippets_split_other_numbers_one_to_two(issue6_rules):
    path, _ = issue6_rules
    summary = simulate(path, "5551234", src_ip=PEER, calls=3000)
    assert summary["results"] == {"bridged": 3000}
    assert summary["gateways"] == {"gw1": 1000, "gw2": 2000}


def test_issue_snippets_compare_as_matching(issue6_rules):
    path, _ = issue6_rules
    legacy = read_legacy([ISSUE_DIALPLAN], ISSUE_DISTRIBUTOR)
    fixed, grouped = compare(path, legacy, ["91001", "5551234"], [PEER])
    assert fixed.verdict == "match"
    assert fixed.old["dialstring"] == fixed.new["dialstring"] == "sofia/gateway/gw1/1001"
    assert grouped.verdict == "match"
    # mod_distributor's fresh list starts with gw1, fsroute's smooth round robin with gw2:
    # both are candidates and the split over whole cycles is the same.
    assert grouped.old["dialstring"] == "sofia/gateway/gw1/5551234"
    assert grouped.new["dialstring"] == "sofia/gateway/gw2/5551234"
    assert grouped.new["candidates"] == ["gw1", "gw2"]
    assert grouped.old["counts"] == grouped.new["counts"] == {"gw1": 100, "gw2": 200}


def test_distributor_cycle_follows_mod_distributor_find_next():
    cycle = DistributorCycle([("gw1", 1), ("gw2", 2)])
    assert [cycle.pick() for _ in range(6)] == ["gw1", "gw2", "gw2"] * 2
    cycle = DistributorCycle([("a", 3), ("b", 1), ("c", 2)])
    assert [cycle.pick() for _ in range(6)] == ["a", "b", "c", "a", "c", "a"]
    # exceptions (the gwlist down names) are skipped; all excepted -> the API's "-err"
    cycle = DistributorCycle([("gw1", 1), ("gw2", 2)])
    assert [cycle.pick(exceptions=("gw2",)) for _ in range(3)] == ["gw1"] * 3
    assert DistributorCycle([("gw1", 1), ("gw2", 2)]).pick(exceptions=("gw1", "gw2")) == "-err"
    assert DistributorCycle([]).pick() == "-err"


# -- a realistic site ---------------------------------------------------------------------------

def test_site_import_is_valid_and_keeps_dialplan_order(site_rules):
    _, result = site_rules
    ruleset = loader.parse(result.text, "imported")
    assert [r.name for r in ruleset.routes] == [
        "public/emergency", "public/recorded", "public/uk via carriers", "public/office hours",
        "public/from partner", "public/failover pair", "public/lb",
        "default/international", "default/national", "default/lb", "default/anything else"]
    by_name = {r.name: r for r in ruleset.routes}
    uk = by_name["public/uk via carriers"]
    assert uk.acl == "trunk_peers" and uk.group == "intl_carriers"
    assert dict((name, regex.pattern) for name, regex in uk.conditions) == {
        "caller_id_number": r"^\+?44", "context": "^public$"}
    assert uk.number == ("+44", 1)
    partner = by_name["public/from partner"]
    assert ("sip_from_user", r"^partner_\w+$") in [(n, r.pattern) for n, r in partner.conditions]
    assert by_name["default/national"].gateway == "gw_national"          # transfer to a gateway
    assert by_name["default/anything else"].number is None               # ${destination_number}
    assert by_name["default/lb"].group == "backup"
    # <condition wday="2-6" hour="9-17"/> before the bridge's condition: the route's time
    office = by_name["public/office hours"]
    assert [s.spans for s in office.when] == [{"wday": ((2, 6),), "hour": ((9, 17),)}]
    assert office.when[0].zone is None      # the switch's local zone, as the XML dialplan without timezone


def test_site_groups_and_acls_keep_freeswitch_semantics(site_rules):
    _, result = site_rules
    ruleset = loader.parse(result.text, "imported")
    # carrier_a listed twice (5 + 2) is merged; carrier_c (weight 0) is skipped as mod_distributor does
    assert [(m.name, m.weight) for m in ruleset.groups["intl_carriers"].members] == [
        ("carrier_a", 7), ("carrier_b", 3)]
    assert "total-weight=10 ignored" in result.text
    peers = ruleset.acls["trunk_peers"]
    assert peers.default_allow is False
    assert [(allow, str(net)) for allow, net in peers.nodes] == [
        (True, "172.16.221.0/24"), (False, "172.16.221.99/32"), (True, "172.16.221.200/30"),
        (True, "172.16.221.210/31"), (True, "172.16.221.128/26"), (True, "::1/128"), (False, "127.0.0.0/8")]
    assert peers.allows(PEER) and not peers.allows(NOT_PEER) and peers.allows("172.16.221.130")
    lan = ruleset.acls["lan"]
    assert lan.allows("127.0.0.1") and not lan.allows("127.0.0.2")
    assert ruleset.acls["domains"].nodes == () and ruleset.acls["domains"].default_allow is False


EXPECTED_REPORTS = [  # (file, text on the reported line, what the report says)
    (PUBLIC, '<X-PRE-PROCESS cmd="include"', "X-PRE-PROCESS include"),
    (PUBLIC, 'extension name="unloop"', "no bridge to a gateway (applications: deflect)"),
    (PUBLIC, 'extension name="call vars"', "no bridge to a gateway (applications: set, export)"),
    (PUBLIC, 'data="effective_caller_id_name=EMERGENCY"', "application 'set' before the bridge"),
    (PUBLIC, '<action application="hangup"/>', "application 'hangup' after the bridge"),
    (PUBLIC, 'extension name="recorded" continue="true"', "continue='true'"),
    (PUBLIC, 'extension name="premium blocked"', "no bridge to a gateway (applications: playback, hangup)"),
    (PUBLIC, '<anti-action application="respond"', "anti-action 'respond'"),
    (PUBLIC, '<condition regex="any">', "regex='any'"),
    (PUBLIC, "sofia/gateway/gw1/$1|sofia/gateway/gw2/$1", "lists several endpoints"),
    (PUBLIC, "{sip_cid_type=pid}", "sets channel variables"),
    (PUBLIC, 'expression="^4(\\d+)$"', "nested conditions"),
    (PUBLIC, "retired_carriers", "distributor list 'retired_carriers' is not in the --distributor file"),
    (DEFAULT, "user/$1@", "is not a sofia/gateway/<gateway>/<number> dial string"),
    (DEFAULT, 'data="continue_on_fail=true"', "application 'set' before the bridge"),
    (DEFAULT, "sofia/gateway/gw_national/0$1", "transfer is imported as a bridge"),
    (DEFAULT, 'data="vmain XML default"', "transfer to 'vmain XML default' is not a gateway dial string"),
    (DEFAULT, "profile internal gwlist down", "gateways down on profile 'internal'"),
    (SITE_DISTRIBUTOR, '<node name="carrier_a" weight="2"/>', "merged into one gateway of weight 7"),
    (SITE_DISTRIBUTOR, '<node name="carrier_c" weight="0"/>', "weight '0' is not >= 1"),
    (SITE_ACL, 'domain="$${domain}"', "domain='$${domain}'"),
    (SITE_ACL, 'host="172.16.221.77"', "no cidr, host+mask or domain"),
    (SITE_ACL, 'cidr="172.16.221.66"', "has no /bits"),
]


def test_site_reports_every_unsupported_construct_with_file_and_line(site_rules):
    _, result = site_rules
    reported = {(r.file, r.line): r.message for r in result.reports}
    for path, needle, what in EXPECTED_REPORTS:
        line = line_of(path, needle)
        assert (path, line) in reported, "nothing reported at %s:%d (%s)" % (path, line, needle)
        assert what in reported[(path, line)], reported[(path, line)]
    # the second domain= node (in trunk_peers) too
    assert (SITE_ACL, line_of(SITE_ACL, 'domain="$${domain}"', 2)) in reported
    # every report is in the header of the rules file as well
    header = result.text.split("\nversion: 1")[0]
    for report in result.reports:
        assert "#   " + str(report) in header


def test_site_nothing_is_silently_dropped(site_rules):
    """Each extension is a route or reported; each action an imported route leaves out is reported;
    each acl/distributor node is in the rules or reported."""
    _, result = site_rules
    legacy = read_legacy([PUBLIC, DEFAULT], SITE_DISTRIBUTOR, SITE_ACL)
    reported = {(r.file, r.line) for r in result.reports}
    imported = {(route.file, route.line) for route in result.routes}
    for index, ext in enumerate(legacy.extensions):
        following = legacy.extensions[index + 1:index + 2]
        end = following[0].line if following and following[0].file == ext.file else 10 ** 9
        if (ext.file, ext.line) in imported:
            actions = [a for c in ext.conditions for a in c.actions + c.anti_actions]
            bridge = next(a for a in actions if a.app in ("bridge", "transfer"))
            for action in actions:
                if action is not bridge:
                    assert (ext.file, action.line) in reported, "%s:%d dropped" % (ext.file, action.line)
        else:
            assert any(f == ext.file and ext.line <= line < end for f, line in reported), \
                "extension %r (%s:%d) neither imported nor reported" % (ext.name, ext.file, ext.line)
    acl_part = result.text.split("\nacls:")[1].split("\ngroups:")[0]
    group_part = result.text.split("\ngroups:")[1].split("\nroutes:")[0]
    for acl_list in legacy.acl_lists:
        for node in acl_list.nodes:
            assert "# line %d" % node.line in acl_part or (SITE_ACL, node.line) in reported
    for dist_list in legacy.lists:
        for node in dist_list.nodes:
            assert "# line %d" % node.line in group_part or (SITE_DISTRIBUTOR, node.line) in reported


def test_site_routes_like_the_old_setup_where_it_could_be_imported(site_rules):
    path, _ = site_rules
    legacy = read_legacy([PUBLIC, DEFAULT], SITE_DISTRIBUTOR, SITE_ACL)
    rows = {(r.dest, r.src_ip): r for r in compare(
        path, legacy, ["911", "00441234567890", "7123456", "0912345", "8001234"], [PEER, NOT_PEER],
        caller="+442071234567")}
    assert rows[("911", PEER)].verdict == "match"
    uk = rows[("00441234567890", PEER)]
    assert uk.verdict == "match"
    assert uk.old["counts"] == uk.new["counts"] == {"carrier_a": 210, "carrier_b": 90}
    assert uk.new["dialstring"].endswith("/+441234567890")
    # trunk_peers refuses .99: the old dialplan matches no routing extension, fsroute denies
    assert rows[("00441234567890", NOT_PEER)].verdict == "match"
    assert rows[("7123456", PEER)].verdict == "match"
    # "premium blocked" (playback + hangup) was not imported: compare shows the gap
    gap = rows[("0912345", PEER)]
    assert gap.verdict == "DIFFER" and "premium blocked" in gap.old["detail"]
    # "office hours" depends on the time of day: not guessed
    assert rows[("8001234", PEER)].verdict == "?"
    assert "office hours" in rows[("8001234", PEER)].why
    internal = compare(path, legacy, ["1001", "0012345"], context="default")
    assert [r.verdict for r in internal] == ["DIFFER", "match"]   # user/1001@... was never a gateway


# -- conversions ------------------------------------------------------------------------------------

def test_number_templates():
    assert number_template("$1", True, 1) == ("$1", None)
    assert number_template("+44${1}", True, 1) == ("+44$1", None)
    assert number_template("${destination_number}", False, None) == (None, None)
    assert "literally" in number_template("$1", False, 1)[1]
    assert "other than destination_number" in number_template("$1", True, None)[1]
    assert "has 1 group" in number_template("$2", True, 1)[1]
    assert "$NN" in number_template("${1}0", True, 1)[1]
    assert "holds '@'" in number_template("$1@host", True, 1)[1]


@pytest.mark.parametrize("text", ["gw1", "yes", "on", "Null", "1", "1.5", "a b", "it's", "x: y", "#1",
                                  "-", "[x]", "{x}", "\\d+$", "caf\u00e9", "tab\there", "", "~"])
def test_scalars_read_back_as_the_same_string(text):
    assert yaml.safe_load("key: %s" % _scalar(text))["key"] == text


def test_odd_names_and_profiles_still_give_valid_rules(tmp_path):
    dialplan = tmp_path / "odd.xml"
    dialplan.write_text(
        '<include><context name="public">'
        '<extension name="yes"><condition field="${y}" expression="^1$"/>'
        '<condition field="destination_number" expression="^(\\d+)$">'
        '<action application="bridge" data="sofia/gateway/on/$1"/></condition></extension>'
        '<extension name="yes"><condition field="destination_number" expression="^\'(\\d+)$">'
        '<action application="bridge">sofia/gateway/gw1/$1</action></condition></extension>'
        '</context></include>')
    result = import_files([str(dialplan)], profile="internal")
    ruleset = loader.parse(result.text, "odd")
    assert [r.name for r in ruleset.routes] == ["yes", "yes (2)"]
    assert ruleset.routes[0].conditions[0][0] == "y" and ruleset.routes[0].gateway == "on"
    assert ruleset.routes[1].dest.pattern == "^'(\\d+)$" and ruleset.routes[1].gateway == "gw1"
    assert ruleset.defaults.profile == "internal"


def test_a_bare_field_reads_the_caller_profile_as_freeswitch_does(tmp_path):
    # field="sip_from_user" (no ${}) reads '' in the switch (only caller-profile fields are read bare):
    # it was imported as a match on the channel variable, routing calls the old setup never routed
    dialplan = tmp_path / "bare.xml"
    dialplan.write_text(
        '<include><context name="public">'
        '<extension name="bare"><condition field="sip_from_user" expression="^1000$"/>'
        '<condition field="destination_number" expression="^(\\d+)$">'
        '<action application="bridge" data="sofia/gateway/gw1/$1"/></condition></extension>'
        '<extension name="profile"><condition field="CALLER_ID_NUMBER" expression="^3000$"/>'
        '<condition field="destination_number" expression="^(\\d+)$">'
        '<action application="bridge" data="sofia/gateway/gw2/$1"/></condition></extension>'
        '</context></include>')
    result = import_files([str(dialplan)])
    [route] = loader.parse(result.text, "bare").routes
    assert route.name == "profile" and route.conditions[0][0] == "caller_id_number"
    assert "extension 'bare' is not imported: the field 'sip_from_user' is not a caller-profile field" \
        in "\n".join(str(r) for r in result.reports)


def test_break_other_than_on_false_is_not_imported(tmp_path):
    dialplan = tmp_path / "break.xml"
    dialplan.write_text(
        '<include>\n'
        '<extension name="never">\n'
        '  <condition field="caller_id_number" expression="^1" break="never"/>\n'
        '  <condition field="destination_number" expression="^(\\d+)$">\n'
        '    <action application="bridge" data="sofia/gateway/gw1/$1"/>\n'
        '  </condition>\n'
        '</extension>\n'
        '</include>\n')
    result = import_files([str(dialplan)])
    assert result.routes == ()
    (report,) = result.reports
    assert (report.line, "break='never' cannot be expressed" in report.message) == (3, True)


def test_acl_list_without_default_is_allow_as_in_freeswitch(tmp_path):
    acl = tmp_path / "acl.conf.xml"
    acl.write_text('<configuration name="acl.conf"><network-lists>\n'
                   '<list name="open"><node type="deny" cidr="172.16.221.99/32"/></list>\n'
                   '<list name="odd" default="no"><node type="yes" cidr="172.16.221.0/24"/></list>\n'
                   '</network-lists></configuration>\n')
    result = import_files(acl=str(acl))
    ruleset = loader.parse(result.text, "acl")
    assert ruleset.acls["open"].allows("172.16.221.5") and not ruleset.acls["open"].allows("172.16.221.99")
    assert ruleset.acls["odd"].default_allow is False and ruleset.acls["odd"].allows("172.16.221.5")
    assert [(r.line, r.message.split(":")[0]) for r in result.reports] == [
        (2, "warning"), (3, "warning"), (3, "warning")]
    assert "no default" in result.reports[0].message


def test_compare_flags_a_different_split(tmp_path):
    result = import_files([ISSUE_DIALPLAN], ISSUE_DISTRIBUTOR)
    path = tmp_path / "even.yaml"
    path.write_text(result.text.replace("{name: gw2, weight: 2}", "{name: gw2, weight: 1}"))
    legacy = read_legacy([ISSUE_DIALPLAN], ISSUE_DISTRIBUTOR)
    (row,) = compare(str(path), legacy, ["5551234"], [PEER])
    assert row.verdict == "DIFFER" and "split" in row.why
    assert row.old["counts"] == {"gw1": 100, "gw2": 200} and row.new["counts"] == {"gw1": 150, "gw2": 150}


# -- broken input ------------------------------------------------------------------------------

def test_malformed_xml_is_an_error_with_file_and_line():
    path = str(DATA / "malformed_dialplan.xml")
    with pytest.raises(ConfigError) as caught:
        import_files([path])
    assert caught.value.line == line_of(path, "</extension>")
    assert str(caught.value).startswith("%s:%d: malformed XML: mismatched tag" % (path, caught.value.line))


def test_doctype_and_entities_are_refused_before_parsing():
    path = str(DATA / "entity_bomb.xml")
    with pytest.raises(ConfigError) as caught:
        import_files([path])
    assert caught.value.line == line_of(path, "<!DOCTYPE")
    assert "DOCTYPE" in caught.value.message


def test_cli_malformed_xml_exits_1_with_file_and_line(capsys):
    path = str(DATA / "malformed_dialplan.xml")
    assert cli.main(["import", "--dialplan", path]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("%s:%d: malformed XML" % (path, line_of(path, "</extension>")))
    assert cli.main(["import", "--dialplan", str(DATA / "entity_bomb.xml")]) == 1
    assert cli.main(["import", "--dialplan", str(DATA / "no_such_file.xml")]) == 1
    assert "cannot read the file" in capsys.readouterr().err


# -- the command line, end to end ------------------------------------------------------------

def test_cli_import_then_compare(tmp_path, capsys):
    assert cli.main(["import", "--dialplan", ISSUE_DIALPLAN, "--distributor", ISSUE_DISTRIBUTOR]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    loader.parse(out, "stdout")
    path = tmp_path / "fsroute.yaml"
    path.write_text(out)
    assert cli.main(["check", str(path)]) == 0
    capsys.readouterr()
    code = cli.main(["compare", str(path), "--dialplan", ISSUE_DIALPLAN, "--distributor", ISSUE_DISTRIBUTOR,
                     "--dest", "91001", "5551234", "--src-ip", PEER])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "91001 from %s: match" % PEER in out
    assert "5551234 from %s: match" % PEER in out
    assert "2 row(s): 2 match, 0 DIFFER, 0 ?" in out


def test_cli_site_reports_on_stderr_and_compare_exits_1_on_a_difference(tmp_path, capsys):
    assert cli.main(["import"] + SITE_FILES) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == len(site_import().reports) > 20
    assert all(re.match(r"^%s/\S+\.xml:\d+: (not translated|warning): " % re.escape(str(SITE)), line)
               for line in lines), lines
    path = tmp_path / "fsroute.yaml"
    path.write_text(out)
    code = cli.main(["compare", str(path)] + SITE_FILES + ["--dest", "0912345", "--src-ip", PEER, "--json"])
    assert code == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert row["verdict"] == "DIFFER" and row["new"]["result"] == "bridged"


def test_cli_import_needs_a_file(capsys):
    assert cli.main(["import"]) == 2
    assert "give at least one of" in capsys.readouterr().err


def test_ipv4_mapped_acl_nodes_are_read_as_freeswitch_reads_them(tmp_path):
    acl = tmp_path / "acl.conf.xml"
    acl.write_text('<configuration name="acl.conf"><network-lists>\n'
                   '<list name="peers" default="deny">\n'
                   '<node type="allow" cidr="::ffff:10.0.0.0/8"/>\n'
                   '<node type="allow" cidr="::FFFF:192.0.2.0/104, 2001:db8::/32"/>\n'
                   '<node type="allow" cidr="::ffff:a00:0/104"/>\n'
                   '</list></network-lists></configuration>\n')
    result = import_files(acl=str(acl))
    peers = loader.parse(result.text, "acl").acls["peers"]
    assert [str(network) for _, network in peers.nodes] == ["10.0.0.0/8", "2001:db8::/32"]
    assert peers.allows("10.1.2.3") and peers.allows("::ffff:10.1.2.3") and not peers.allows("192.0.2.1")
    assert [(r.line, r.message) for r in result.reports] == [
        (3, "warning: acl list 'peers' node cidr=::ffff:10.0.0.0/8, read as IPv4 as FreeSWITCH does"),
        (4, "not translated: acl list 'peers' node cidr '::FFFF:192.0.2.0/104': FreeSWITCH drops it "
            "('Error Adding'), so does the import"),
        (5, "not translated: acl list 'peers' node cidr '::ffff:a00:0/104': FreeSWITCH strips '::ffff:' and "
            "misreads the rest; write the network as IPv4 or as full IPv6")]
    assert "- allow: '10.0.0.0/8'    # line 3 cidr=::ffff:10.0.0.0/8, read as IPv4 as FreeSWITCH does" in result.text


def test_failover_lists_of_extensions_of_one_name_or_a_lists_name_keep_their_own_groups(tmp_path):
    # each became group '<extension>_failover': the second replaced the first (the same name in two
    # contexts), or replaced a distributor list of that name, and routes dialled the wrong gateways
    (tmp_path / "dp.xml").write_text(r'''<include>
  <context name="public"><extension name="out"><condition field="destination_number" expression="^1(\d+)$">
    <action application="bridge" data="sofia/gateway/gw1/$1|sofia/gateway/gw2/$1"/></condition></extension>
    <extension name="x"><condition field="destination_number" expression="^2(\d+)$">
    <action application="bridge" data="sofia/gateway/${distributor(out_failover)}/$1"/></condition></extension>
  </context>
  <context name="internal"><extension name="out"><condition field="destination_number" expression="^3(\d+)$">
    <action application="bridge" data="sofia/gateway/gw3/$1|sofia/gateway/gw4/$1"/></condition></extension>
  </context>
</include>''')
    (tmp_path / "dist.xml").write_text('<configuration name="distributor.conf"><lists><list name="out_failover">'
                                       '<node name="gw7" weight="1"/><node name="gw8" weight="3"/></list>'
                                       '</lists></configuration>')
    result = import_files([str(tmp_path / "dp.xml")], str(tmp_path / "dist.xml"))
    (tmp_path / "rules.yaml").write_text(result.text)
    rules = str(tmp_path / "rules.yaml")

    def dialled(dest, context, **options):
        report = simulate(rules, dest, variables={"context": context}, **options)
        return [a["dialstring"] for a in report["attempts"]]

    assert dialled("1555", "public", fail={"gw1": "NORMAL_TEMPORARY_FAILURE"}) == [
        "sofia/gateway/gw1/555", "sofia/gateway/gw2/555"]
    assert dialled("3555", "internal", fail={"gw3": "NORMAL_TEMPORARY_FAILURE"}) == [
        "sofia/gateway/gw3/555", "sofia/gateway/gw4/555"]
    report = simulate(rules, "2555", variables={"context": "public"}, calls=4)
    assert report["attempts"] == {"gw7": 1, "gw8": 3}


def test_compare_cannot_tell_what_an_acl_the_import_could_not_carry_over_answers(tmp_path):
    # a list FreeSWITCH builds itself (rfc1918.auto), CIDRs inline, and a list with a node the switch
    # reads as one host (198.51.100.7/0) that the import leaves out: compare answered "false" (or left
    # the node out) for the old side too, and called every such call a match
    (tmp_path / "public.xml").write_text(COMPARE_ACL_DIALPLAN)
    (tmp_path / "acl.conf.xml").write_text(COMPARE_ACL_LISTS)
    result = import_files([str(tmp_path / "public.xml")], None, str(tmp_path / "acl.conf.xml"))
    (tmp_path / "rules.yaml").write_text(result.text)
    legacy = read_legacy([str(tmp_path / "public.xml")], None, str(tmp_path / "acl.conf.xml"))
    for source in ("10.1.2.3", "192.0.2.9", "198.51.100.7"):
        (row,) = compare(str(tmp_path / "rules.yaml"), legacy, ["12345"], [source])
        assert row.verdict == "?", (source, row)
    assert "FreeSWITCH refuses it too" not in "\n".join(str(r) for r in result.reports)


COMPARE_ACL_DIALPLAN = """\
<include>
  <context name="public">
    <extension name="from private nets">
      <condition field="${acl(${network_addr} rfc1918.auto)}" expression="^true$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_private/$1"/>
      </condition>
    </extension>
    <extension name="from one range">
      <condition field="${acl(${network_addr} 192.0.2.0/24)}" expression="^true$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_doc/$1"/>
      </condition>
    </extension>
    <extension name="peers">
      <condition field="${acl(${network_addr} peers)}" expression="^true$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_peers/$1"/>
      </condition>
    </extension>
    <extension name="rest">
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="bridge" data="sofia/gateway/gw_public/$1"/>
      </condition>
    </extension>
  </context>
</include>
"""
COMPARE_ACL_LISTS = """\
<configuration name="acl.conf" description="Network Lists">
  <network-lists>
    <list name="peers" default="deny">
      <node type="allow" cidr="198.51.100.7/0"/>
    </list>
  </network-lists>
</configuration>
"""
