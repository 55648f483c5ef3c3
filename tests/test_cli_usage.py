"""What a new user meets first: no command, --version, --help, bad simulate arguments, check's options."""

import io
import json
import sys

import pytest

import fsroute
from fsroute.tools.cli import main

from rulesdata import EXAMPLE


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def exits(capsys, *argv):
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: fsroute ") and "check" in err and "simulate" in err


def test_version(capsys):
    code, out, _ = exits(capsys, "--version")
    assert code == 0 and out == "fsroute %s\n" % fsroute.__version__


def test_help_has_no_docstring_markup_and_check_documents_its_arguments(capsys):
    _, out, _ = exits(capsys, "--help")
    assert "``" not in out and "fsroute command" in out
    _, out, _ = exits(capsys, "check", "--help")
    assert "'-' reads standard input" in out and "--strict" in out and "exit 1 when there are warnings" in out


@pytest.mark.parametrize("address", ["not-an-ip", "198.51.100.300", "198.51.100.5:5060", "[2001:db8::1]"])
def test_simulate_refuses_a_source_that_is_not_an_address(capsys, address):
    code, out, err = exits(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", address)
    assert code == 2 and out == ""
    assert err == "fsroute simulate: error: argument --src-ip: %r is not an IP address (no port, no brackets)\n" \
        % address


def test_simulate_accepts_ipv6_and_mapped_sources(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "::ffff:172.16.221.33",
                       "--json")
    assert code == 0 and json.loads(out)["result"] == "bridged"


@pytest.mark.parametrize("option", ["--down", "--fail"])
def test_simulate_refuses_gateways_the_rules_never_name(capsys, option):
    value = "gw3" if option == "--down" else "gw3=USER_BUSY"
    code, out, err = exits(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", option, value)
    assert code == 2 and out == ""
    assert err == ("fsroute simulate: error: the rules never name gateway 'gw3' (did you mean 'gw2'?) "
                   "(they name: gw1, gw2)\n")


def test_simulate_refuses_a_second_destination(capsys):
    code, out, err = exits(capsys, "simulate", str(EXAMPLE), "--dest", "112", "--dest", "110")
    assert code == 2 and out == ""
    assert err.startswith("fsroute simulate: error: argument --dest: give it once") and err.count("\n") == 1


@pytest.mark.parametrize("variable", ["network_addr", "sip_network_ip"])
def test_simulate_refuses_a_var_that_overrides_src_ip(capsys, variable):
    code, _, err = exits(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                         "--var", variable + "=192.0.2.1")
    assert code == 2
    assert err == "fsroute simulate: error: --var %s would override --src-ip; give one of them\n" % variable


def test_simulate_takes_network_addr_as_a_var_without_src_ip(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--var", "network_addr=junk", "--json")
    assert code == 0 and json.loads(out)["result"] == "denied"


def test_check_several_files_exits_1_if_any_fails(capsys, write_rules):
    bad = write_rules("version: 1\n", name="bad.yaml")
    code, out, err = run(capsys, "check", str(EXAMPLE), bad)
    assert code == 1
    assert out.startswith("OK: %s: 2 routes" % EXAMPLE) and out.count("\n") == 1
    assert err == "%s:1:1: the rules file: missing required key 'routes'\n" % bad
    code, out, _ = run(capsys, "check", str(EXAMPLE), str(EXAMPLE))
    assert code == 0 and out.count("OK: ") == 2


def test_check_reads_standard_input(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    code, out, _ = run(capsys, "check", "-")
    assert code == 0 and out.startswith("OK: <stdin>: 2 routes, 1 groups")


def test_check_argument_errors_name_the_subcommand(capsys):
    code, _, err = exits(capsys, "check", "--bogus", str(EXAMPLE))
    assert code == 2 and err == "fsroute check: error: unrecognized arguments: --bogus\n"
    code, _, err = exits(capsys, "check")
    assert code == 2 and err.startswith("fsroute check: error: ") and err.count("\n") == 1


def test_check_warns_about_a_file_without_routes(capsys, write_rules):
    path = write_rules("version: 1\nroutes: []\n")
    code, out, err = run(capsys, "check", path)
    assert code == 0 and out.startswith("OK: %s: 0 routes" % path) and out.endswith(", 1 warning\n")
    assert err == "%s: warning: the file has no routes: every call ends as no_route\n" % path
    assert run(capsys, "check", "--strict", path)[0] == 1


@pytest.mark.parametrize("match", ["{destination_number: '^.*$'}", "{destination_number: '^(\\d+)$'}",
                                   "{destination_number: '(?:[0-9]+)'}", "{}"])
def test_check_warns_about_a_catch_all_ahead_of_other_routes(capsys, write_rules, match):
    path = write_rules("version: 1\nroutes:\n  - {name: first, match: {destination_number: '^1'}, gateway: gw1}\n"
                       "  - {name: everything, match: %s, gateway: gw1}\n"
                       "  - {name: premium, match: {destination_number: '^900'}, gateway: gw2}\n"
                       "  - {name: last, gateway: gw2}\n" % match)
    code, out, err = run(capsys, "check", path)
    assert code == 0 and out.endswith(", 1 warning\n")
    # 'last' takes every number too, but it is shadowed already: one warning
    assert err == ("%s:4: warning: route 'everything' takes every number (no acl, no other condition), "
                   "so the 2 routes after it are never reached\n" % path)
    assert run(capsys, "check", "--strict", path)[0] == 1


@pytest.mark.parametrize("route", [
    "{name: a, match: {destination_number: '^(\\d+)$'}, acl: peers, gateway: gw1}",
    "{name: a, match: {destination_number: '^(\\d+)$', caller_id_number: '^1'}, gateway: gw1}",
    "{name: a, match: {destination_number: '^9(\\d+)$'}, gateway: gw1}",
    "{name: a, match: {destination_number: '^\\d+$|^x'}, gateway: gw1}",
])
def test_check_does_not_warn_about_routes_that_leave_calls_to_later_ones(capsys, write_rules, route):
    path = write_rules("version: 1\nacls: {peers: {default: deny}}\nroutes:\n  - %s\n"
                       "  - {name: b, gateway: gw2}\n" % route)
    code, out, err = run(capsys, "check", "--strict", path)
    assert (code, err) == (0, "") and out.startswith("OK: ")


def test_a_catch_all_as_the_last_route_is_a_default_route(capsys, write_rules):
    path = write_rules("version: 1\nroutes:\n  - {name: a, match: {destination_number: '^9'}, gateway: gw1}\n"
                       "  - {name: rest, match: {destination_number: '^(.*)$'}, gateway: gw2}\n")
    assert run(capsys, "check", "--strict", path)[:3:2] == (0, "")


def test_simulate_explains_a_denied_call(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.99",
                       "--explain")
    assert code == 0
    assert out.endswith(
        "why:\n"
        "  ingress acl 'trunk_peers': source 172.16.221.99 matches node 2 (deny 172.16.221.99/32, line 22), "
        "the most specific: denies\n"
        "  every call from this source is denied before any route is looked at\n")


def test_simulate_explains_in_json(capsys, write_rules):
    path = write_rules("version: 1\nroutes:\n  - {name: r, match: {sip_req_user: '^x$'}, gateway: gw1}\n")
    code, out, _ = run(capsys, "simulate", path, "--dest", "1", "--json", "--explain")
    assert json.loads(out)["explanation"] == ["route 'r' (line 3): sip_req_user (unset) does not match '^x$'",
                                              "no route takes the call"]


@pytest.mark.parametrize("command, says", [
    ("simulate", "Route calls through fsroute's real call handling"),
    ("lcr", "Rank the carriers of the least-cost route"),
    ("import", "Give at least one of --dialplan, --distributor, --acl, or --lcr"),
    ("compare", "Route each destination through the old XML setup")])
def test_the_commands_describe_themselves_in_their_help(capsys, command, says):
    _, out, _ = exits(capsys, command, "--help")
    assert says in " ".join(out.split())


def test_import_without_a_source_names_every_option_that_gives_one(capsys):
    code, out, err = run(capsys, "import")
    assert code == 2 and out == ""
    assert err == ("fsroute import: give at least one of --dialplan, --distributor, --acl, or --lcr DB "
                   "(with --decks DIR)\n")
