"""The fsroute command: check and simulate."""

import json

import pytest

from fsroute.tools.cli import main

from rulesdata import EXAMPLE


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok(capsys):
    code, out, _ = run(capsys, "check", str(EXAMPLE))
    assert code == 0
    assert out.startswith("OK: %s: 2 routes, 1 groups, 1 acls, 2 gateways, sha=" % EXAMPLE)
    assert out.count("\n") == 1


def test_check_reports_each_problem(capsys, write_rules):
    path = write_rules("version: 2\nroutes:\n  - {name: r}\n")
    code, out, err = run(capsys, "check", path)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "%s:1:10: unsupported version 2: this fsroute reads version 1" % path,
        "%s:3:5: route 'r' must name exactly one of 'gateway', 'group' or 'lcr' (it names neither)" % path,
    ]


def test_simulate_the_done_criterion(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "91001", "--src-ip", "172.16.221.33", "--json")
    assert code == 0
    assert json.loads(out) == {
        "result": "bridged", "route": "out through gw1", "number": "1001",
        "attempts": [{"gateway": "gw1", "dialstring": "sofia/gateway/gw1/1001", "outcome": "SUCCESS"}],
        "hangup_cause": None}


def test_simulate_many_calls_with_one_gateway_down(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                       "--calls", "1000", "--down", "gw2", "--json")
    assert code == 0
    assert json.loads(out) == {"calls": 1000, "results": {"bridged": 1000}, "gateways": {"gw1": 1000},
                               "attempts": {"gw1": 1000}, "skipped": {}}


def test_simulate_split_and_failures(capsys):
    _, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                    "--calls", "3000", "--json")
    assert json.loads(out)["gateways"] == {"gw1": 1000, "gw2": 2000}
    _, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                    "--fail", "gw2=service_unavailable", "--json")
    report = json.loads(out)
    assert [a["outcome"] for a in report["attempts"]] == ["SERVICE_UNAVAILABLE", "SUCCESS"]
    assert report["result"] == "bridged"


def test_simulate_outcomes_without_a_route(capsys):
    _, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "192.0.2.1", "--json")
    assert json.loads(out) == {"result": "denied", "route": None, "number": None, "attempts": [],
                               "hangup_cause": "CALL_REJECTED"}
    _, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                    "--down", "gw1,gw2", "--json")
    assert json.loads(out)["result"] == "all_down"


def test_simulate_table(capsys):
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "5551234", "--src-ip", "172.16.221.33",
                       "--calls", "30")
    assert code == 0
    assert "gw1                    10       10   33.3%  -" in out and "gw2                    20       20   66.7%  -" in out
    code, out, _ = run(capsys, "simulate", str(EXAMPLE), "--dest", "91001", "--src-ip", "172.16.221.33")
    assert "sofia/gateway/gw1/1001" in out and "result:  bridged" in out


def test_simulate_variables_reach_the_match(capsys, write_rules):
    path = write_rules("version: 1\nroutes:\n  - {name: r, match: {sip_req_user: '^x$'}, gateway: gw1}\n")
    _, out, _ = run(capsys, "simulate", path, "--dest", "1", "--var", "sip_req_user=x", "--json")
    assert json.loads(out)["result"] == "bridged"
    _, out, _ = run(capsys, "simulate", path, "--dest", "1", "--json")
    assert json.loads(out)["result"] == "no_route"


@pytest.mark.parametrize("argv", [
    ["simulate", "r.yaml"],
    ["simulate", "r.yaml", "--dest", "1", "--fail", "gw1"],
    ["simulate", "r.yaml", "--dest", "1", "--fail", "gw1=NOT_A_CAUSE"],
    ["simulate", "r.yaml", "--dest", "1", "--calls", "0"],
    ["simulate", "r.yaml", "--dest", "1", "--down", "a/b"],
    ["frobnicate"],
])
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fsroute") and "error:" in err


def test_simulate_on_a_broken_file(capsys, write_rules):
    path = write_rules("version: 1\n")
    code, out, err = run(capsys, "simulate", path, "--dest", "1")
    assert code == 1 and out == ""
    assert err == "%s:1:1: the rules file: missing required key 'routes'\n" % path
