"""Gateways checked against the switch: ``fsroute check --sofia-conf`` and ``python fsroute.ctl check``."""

import pytest

from fsroute import ctl
from fsroute.migrate.legacy import ConfigError
from fsroute.migrate.sofia_conf import gateways_by_name, read_sofia_conf
from fsroute.runtime.sofia_status import StatusUnreadable, parse_xmlstatus
from fsroute.tools.cli import main

RULES = """\
version: 1
gateways:
  carrier_a: {}
groups:
  g: {gateways: [carrier_b, {name: carier_c}]}
routes:
  - {name: a, gateway: gw3}
  - {name: b, group: g}
  - {name: c, gateway: '${default_gateway}'}
"""


@pytest.fixture
def conf(tmp_path):
    profiles = tmp_path / "conf" / "sip_profiles"
    (profiles / "external").mkdir(parents=True)
    (profiles / "external.xml").write_text(
        '<profile name="external">\n  <gateways>\n    <X-PRE-PROCESS cmd="include" data="external/*.xml"/>\n'
        '  </gateways>\n</profile>\n')
    (profiles / "external" / "b.xml").write_text('<include>\n  <gateway name="carrier_b"/>\n</include>\n')
    (profiles / "external" / "a.xml").write_text('<include>\n  <gateway name="carrier_a">\n'
                                                 '    <param name="proxy" value="x"/>\n  </gateway>\n</include>\n')
    (profiles / "internal.xml").write_text('<profile name="internal"><gateways><gateway name="gw3"/>'
                                           '</gateways></profile>\n')
    (profiles / "readme.txt").write_text("not a profile")
    return str(tmp_path / "conf")


def test_profiles_and_included_gateway_files_are_read_as_freeswitch_reads_them(conf):
    found = read_sofia_conf(conf)
    assert [(g.name, g.profile, g.file.rsplit("/", 1)[1], g.line) for g in found] == [
        ("carrier_a", "external", "a.xml", 2), ("carrier_b", "external", "b.xml", 2),
        ("gw3", "internal", "internal.xml", 1)]
    assert gateways_by_name(found) == {"carrier_a": {"external"}, "carrier_b": {"external"}, "gw3": {"internal"}}


def test_a_directory_without_sip_profiles_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        read_sofia_conf(str(tmp_path))


def test_check_reports_undefined_gateways_and_wrong_profiles_where_the_rules_name_them(conf, tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(RULES)
    assert main(["check", str(path), "--sofia-conf", conf]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "%s:5:36: gateway 'carier_c' is not defined in the sofia configuration at %s "
        "(did you mean 'carrier_b'?); named by group 'g' (5:36)" % (path, conf),
        "%s:7:24: gateway 'gw3' is on profile internal in the sofia configuration at %s, but the rules read "
        "its state from profile 'external' (give it profile: under gateways); named by route 'a' (7:24)"
        % (path, conf)]
    path.write_text(RULES.replace("carier_c", "carrier_a").replace("  carrier_a: {}", "  carrier_a: {}\n"
                                                                    "  gw3: {profile: internal}"))
    assert main(["check", str(path), "--sofia-conf", conf]) == 0


def test_xmlstatus_is_read_and_garbage_refused():
    text = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateways>\n  <gateway>\n    <name>gw1</name>\n'
            '    <profile>external</profile>\n    <status>DOWN</status>\n  </gateway>\n</gateways>\n')
    assert parse_xmlstatus(text) == {"gw1": ("external", "DOWN")}
    for garbage in ("-ERR no reply", "", "<profiles/>", "<gateways><gateway>"):
        with pytest.raises(StatusUnreadable):
            parse_xmlstatus(garbage)


def test_ctl_check_names_every_gateway_and_its_state(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["carrier_a"], down=["carrier_b"])
    fake_freeswitch.set_gateways("internal", up=["gw3"])
    path = write_rules(RULES)
    answer = ctl.command("check %s" % path)
    assert answer.splitlines() == [
        "-ERR %s:5:36: gateway 'carier_c' is not defined in the running switch (did you mean 'carrier_b'?); "
        "named by group 'g' (5:36)" % path,
        "-ERR %s:7:24: gateway 'gw3' is on profile internal in the running switch, but the rules read its state "
        "from profile 'external' (give it profile: under gateways); named by route 'a' (7:24)" % path,
        "gateways:",
        "  carier_c (external): not defined",
        "  carrier_a (external): UP on external",
        "  carrier_b (external): DOWN on external",
        "  gw3 (external): UP on internal"]


def test_ctl_check_says_so_when_the_switch_does_not_answer(write_rules, fake_freeswitch):
    fake_freeswitch.answers["sofia xmlstatus gateway"] = "-ERR no reply"
    assert ctl.command("check %s" % write_rules(RULES)).startswith("-ERR the answer is not XML")


def test_a_missing_gateway_is_reported_once_with_every_use(conf, tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text("""\
version: 1
gateways:
  gw9: {}
groups:
  g: {gateways: [carrier_b, gw9]}
routes:
  - {name: a, gateway: gw9}
  - {name: b, group: g}
  - {name: c, gateway: gw9}
""")
    assert main(["check", str(path), "--sofia-conf", conf]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "%s:3:3: gateway 'gw9' is not defined in the sofia configuration at %s (did you mean 'gw3'?); named by "
        "gateways: (3:3), "
        "group 'g' (5:29), route 'a' (7:24), route 'c' (9:24)" % (path, conf)]
