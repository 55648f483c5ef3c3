"""fsroute import carries over what issue 11 added: set/export, hang-up-only extensions, failover lists,
variable gateways and numbers, $${name} from vars.xml; FreeSWITCH's vanilla example imports whole."""

from pathlib import Path

from fsroute.core import loader
from fsroute.migrate.importer import import_files
from fsroute.migrate.varsxml import read_vars
from fsroute.tools.simulate import simulate

VANILLA = Path(__file__).parent / "data" / "import" / "vanilla"
EXAMPLE = str(VANILLA / "01_example.com.xml")
VARS = str(VANILLA / "vars.xml")


def test_the_vanilla_example_imports_into_three_routes_with_caller_id_sets_and_toll_allow(tmp_path):
    result = import_files([EXAMPLE], vars_file=VARS)
    rules = loader.parse(result.text, "vanilla.yaml")
    assert [r.name for r in rules.routes] == ["local.example.com", "domestic.example.com",
                                              "international.example.com"]
    for route, toll in zip(rules.routes, ("local", "domestic", "international")):
        assert [(n, rx.pattern) for n, rx in route.conditions] == [("toll_allow", toll)]
        assert route.gateway_var == "default_gateway"
        assert [name for name, _ in route.dialling.set] == ["effective_caller_id_number", "effective_caller_id_name"]
    assert "    number: '1${default_areacode}$1'" in result.text
    assert "      effective_caller_id_number: '${outbound_caller_id_number}'" in result.text
    assert all(r.message.startswith("warning: ") for r in result.reports)  # the sets, noted; nothing left out


def test_the_imported_vanilla_rules_route_an_11_digit_number_through_the_callers_gateway(tmp_path):
    path = tmp_path / "vanilla.yaml"
    path.write_text(import_files([EXAMPLE], vars_file=VARS).text)
    report = simulate(str(path), "19185551234", variables={"toll_allow": "domestic", "default_gateway": "example.com",
                                                           "outbound_caller_id_number": "9185550000"})
    assert report["result"] == "bridged" and report["route"] == "domestic.example.com"
    assert [a["dialstring"] for a in report["attempts"]] == ["sofia/gateway/example.com/19185551234"]
    local = simulate(str(path), "5551234", variables={"toll_allow": "local", "default_gateway": "example.com",
                                                      "default_areacode": "918"})
    assert [a["dialstring"] for a in local["attempts"]] == ["sofia/gateway/example.com/19185551234"]
    refused = simulate(str(path), "19185551234", variables={"toll_allow": "local", "default_gateway": "example.com"})
    assert refused["result"] == "no_route"


def test_vars_xml_set_lines_are_read_in_order():
    variables = read_vars(VARS)
    assert variables["default_areacode"] == "918"
    assert variables["outbound_caller_id"] == "0000000000"


def write(tmp_path, body):
    path = tmp_path / "dialplan.xml"
    path.write_text('<include><context name="public">\n%s\n</context></include>\n' % body)
    return str(path)


def test_preprocessor_variables_are_resolved_and_unknown_ones_reported(tmp_path):
    path = write(tmp_path, '''<extension name="out">
  <condition field="destination_number" expression="^(\\d+)$">
    <action application="bridge" data="sofia/gateway/gw1/$${default_areacode}$1"/>
  </condition>
</extension>
<extension name="other">
  <condition field="destination_number" expression="^9(\\d+)$">
    <action application="bridge" data="sofia/gateway/gw1/$${no_such_var}$1"/>
  </condition>
</extension>''')
    result = import_files([path], vars_file=VARS)
    assert "    number: '918$1'" in result.text
    assert any("$${no_such_var} is not set in" in r.message for r in result.reports)


def test_hangup_only_extensions_become_blocking_routes_and_lists_fail_over_in_order(tmp_path):
    path = write(tmp_path, '''<extension name="premium">
  <condition field="destination_number" expression="^1900">
    <action application="hangup" data="CALL_REJECTED"/>
  </condition>
</extension>
<extension name="pair">
  <condition field="destination_number" expression="^(\\d+)$">
    <action application="export" data="sip_h_X-Tag=abc"/>
    <action application="bridge" data="sofia/gateway/gw2/$1|sofia/gateway/gw1/$1"/>
  </condition>
</extension>''')
    result = import_files([path])
    rules = loader.parse(result.text, "r.yaml")
    premium, pair = rules.routes
    assert premium.hangup == "CALL_REJECTED"
    assert rules.groups[pair.group].strategy == "priority"
    assert [m.name for m in rules.groups[pair.group].members] == ["gw2", "gw1"]
    assert [name for name, _ in pair.dialling.export] == ["sip_h_X-Tag"]
    assert "  # %s:10: bridge to pair_failover\n  # the bridge's failover list: tried in that order\n" % path \
        in result.text
    out = tmp_path / "r.yaml"
    out.write_text(result.text)
    report = simulate(str(out), "19001234", fail={"gw2": "NORMAL_TEMPORARY_FAILURE"})
    assert (report["result"], report["hangup_cause"]) == ("blocked", "CALL_REJECTED")
    report = simulate(str(out), "5551234", fail={"gw2": "NORMAL_TEMPORARY_FAILURE"})
    assert [a["gateway"] for a in report["attempts"]] == ["gw2", "gw1"]


def test_compare_finds_the_imported_vanilla_routes_dial_like_the_xml(tmp_path):
    from fsroute.migrate.compare import compare
    from fsroute.migrate.legacy import read_legacy

    path = tmp_path / "vanilla.yaml"
    path.write_text(import_files([EXAMPLE], vars_file=VARS).text)
    rows = compare(str(path), read_legacy([EXAMPLE]), ["19185551234", "5551234"],
                   variables={"toll_allow": "domestic", "default_gateway": "example.com"})
    assert [(r.verdict, r.why) for r in rows] == [("match", "same dial string"), ("match", "neither bridges")]


def test_compare_keep_xml_judges_the_hybrid_setup(tmp_path):
    """XML extensions kept ahead of the fsroute extension take their calls before fsroute does."""
    from fsroute.migrate.compare import compare
    from fsroute.migrate.legacy import read_legacy

    block = '''<extension name="premium">
  <condition field="destination_number" expression="^1900">
    <action application="hangup" data="CALL_REJECTED"/>
  </condition>
</extension>'''
    (tmp_path / "old").mkdir()
    (tmp_path / "kept").mkdir()
    old_path = write(tmp_path / "old", block + '''
<extension name="out">
  <condition field="destination_number" expression="^(\\d+)$">
    <action application="bridge" data="sofia/gateway/gw1/$1"/>
  </condition>
</extension>''')
    kept_path = write(tmp_path / "kept", block)
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nroutes:\n  - {name: out, match: {destination_number: '^(\\d+)$'}, "
                     "number: '$1', gateway: gw1}\n")
    legacy = read_legacy([old_path])
    alone = compare(str(rules), legacy, ["19001234", "5551234"])
    assert [r.verdict for r in alone] == ["DIFFER", "match"]  # without the kept block fsroute dials premium
    hybrid = compare(str(rules), legacy, ["19001234", "5551234"], kept=read_legacy([kept_path]))
    assert [(r.verdict, r.why) for r in hybrid] == [
        ("match", "neither bridges (a kept XML extension takes the call)"), ("match", "same dial string")]
    assert hybrid[0].new["result"] == "xml"


def test_simulate_takes_down_and_fail_for_a_gateway_a_variable_names(tmp_path):
    path = tmp_path / "vanilla.yaml"
    path.write_text(import_files([EXAMPLE], vars_file=VARS).text)
    variables = {"toll_allow": "domestic", "default_gateway": "example.com"}
    report = simulate(str(path), "19185551234", variables=variables, fail={"example.com": "USER_BUSY"})
    assert (report["result"], report["hangup_cause"]) == ("failed", "USER_BUSY")
    assert simulate(str(path), "19185551234", variables=variables, down=["example.com"])["result"] == "all_down"


def test_compare_vars_sets_the_globals_on_both_sides(tmp_path, capsys):
    # vars.xml sets default_areacode=918 as a global: ${default_areacode} reads it on both sides. Without
    # --vars both dialled 15551234 and compare said "match".
    from fsroute.migrate.compare import compare
    from fsroute.migrate.legacy import read_legacy
    from fsroute.tools.cli import main

    path = tmp_path / "vanilla.yaml"
    path.write_text(import_files([EXAMPLE], vars_file=VARS).text)
    variables = {"toll_allow": "local", "default_gateway": "example.com"}
    rows = compare(str(path), read_legacy([EXAMPLE]), ["5551234"], variables=variables, vars_file=VARS)
    assert [(r.verdict, r.why) for r in rows] == [("match", "same dial string")]
    assert rows[0].old["dialstring"] == rows[0].new["dialstring"] == "sofia/gateway/example.com/19185551234"
    argv = ["compare", str(path), "--dialplan", EXAMPLE, "--dest", "5551234", "--var", "toll_allow=local",
            "--var", "default_gateway=example.com", "--vars", VARS]
    assert main(argv) == 0
    assert "-> sofia/gateway/example.com/19185551234" in capsys.readouterr().out


def test_a_set_value_takes_captures_only_as_its_own_condition_gives_them(tmp_path):
    # a route's set: fills $N from the destination regex; FreeSWITCH fills an action's $N from its own
    # condition, and only when that expression has a '(': both were carried over as destination captures
    (tmp_path / "dp.xml").write_text(r'''<include><context name="public">
  <extension name="area"><condition field="caller_id_number" expression="^(\d{3})\d+$">
    <action application="set" data="caller_area=$1"/></condition>
    <condition field="destination_number" expression="^9(\d+)$">
    <action application="set" data="dialled=$1"/>
    <action application="bridge" data="sofia/gateway/gw1/$1"/></condition></extension>
  <extension name="literal"><condition field="caller_id_number" expression="^2125550000$">
    <action application="set" data="note=$1"/></condition>
    <condition field="destination_number" expression="^8(\d+)$">
    <action application="bridge" data="sofia/gateway/gw1/$1"/></condition></extension>
</context></include>''')
    result = import_files([str(tmp_path / "dp.xml")])
    routes = {route.name: route for route in loader.parse(result.text, "r.yaml").routes}
    assert [name for name, _ in routes["area"].dialling.set] == ["dialled"]  # its own condition's capture
    assert routes["literal"].dialling.set == ()
    reports = [r.message for r in result.reports]
    assert any("'set' is not carried over: its value '$1' uses $1, captured from a field other than "
               "destination_number" in m for m in reports), reports
    assert any("'set' is not carried over: its value '$1' uses $1 but the condition's expression has no '(': "
               "FreeSWITCH would set it literally" in m for m in reports), reports
