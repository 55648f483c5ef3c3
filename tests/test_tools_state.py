"""fsroute simulate and compare parse the rules once and leave the process's live state alone."""

import json
import sys
import threading
import time
from pathlib import Path

import pytest

from fsroute.core import loader
from fsroute.migrate.compare import compare
from fsroute.migrate.importer import import_files
from fsroute.migrate.legacy import read_legacy
from fsroute.runtime import events, process
from fsroute.testing import StubSession
from fsroute.tools.simulate import Simulation

DATA = Path(__file__).parent / "data" / "import"
DIALPLAN, DISTRIBUTOR = str(DATA / "issue6_dialplan.xml"), str(DATA / "issue6_distributor.xml")
PEER = "172.16.221.5"
EXAMPLE = str(Path(__file__).parent.parent / "examples" / "rules.yaml")


@pytest.fixture
def parses(monkeypatch):
    """How often the rules grammar ran."""
    count = [0]
    real_parse = loader.parse

    def counting(data, filename="<rules>"):
        count[0] += 1
        return real_parse(data, filename)

    monkeypatch.setattr(loader, "parse", counting)
    return count


def test_compare_parses_the_rules_once_for_all_rows(tmp_path, parses):
    rules = tmp_path / "fsroute.yaml"
    rules.write_text(import_files([DIALPLAN], DISTRIBUTOR).text)
    legacy = read_legacy([DIALPLAN], DISTRIBUTOR)
    parses[0] = 0  # the importer checks what it wrote: count from here
    rows = compare(str(rules), legacy, ["91001", "5551234", "91002", "0", "5550000"], [PEER])
    assert len(rows) == 5 and parses[0] == 1


def test_a_simulation_parses_once_and_starts_each_run_fresh(parses):
    simulation = Simulation(EXAMPLE)
    runs = [simulation.run("5551234", "172.16.221.33", calls=3)["gateways"] for _ in range(4)]
    assert parses[0] == 1
    assert runs == [runs[0]] * 4  # each run starts its round robin afresh


def test_tools_leave_the_live_rules_and_their_gateway_readings_alone(fake_freeswitch, tmp_path):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    live = process.store_for(EXAMPLE).current()
    live.is_up("gw1")
    readings = live.poller.readings()
    stores = process.loaded_stores()
    Simulation(EXAMPLE).run("5551234", "172.16.221.33", down=["gw1", "gw2"], calls=5)
    rules = tmp_path / "fsroute.yaml"
    rules.write_text(import_files([DIALPLAN], DISTRIBUTOR).text)
    compare(str(rules), read_legacy([DIALPLAN], DISTRIBUTOR), ["91001"], [PEER])
    assert process.loaded_stores() == stores and process.store_for(EXAMPLE).current() is live
    assert live.poller.readings() == readings and live.is_up("gw1")


def test_a_simulation_leaves_the_metrics_and_events_alone(fake_freeswitch):
    from fsroute.runtime import metrics
    before = metrics.text()
    Simulation(EXAMPLE).run("5551234", "172.16.221.33", down=["gw1"], calls=3)
    events.flush()
    assert metrics.text() == before and fake_freeswitch.events == []


def test_a_simulation_runs_on_its_own_switch_and_leaves_the_installed_one_serving(fake_freeswitch, monkeypatch):
    # The test's fake stays the freeswitch module while a simulation runs, and a call routed on another
    # thread meanwhile sees the test's switch (gw1 down) and logs there, not the simulation's (gw1 up).
    import fsroute.route
    import fsroute.tools.simulate as simulate_module
    fake_freeswitch.set_gateways("external", up=["gw2"], down=["gw1"])
    installed, meanwhile = [], StubSession({"destination_number": "91001", "network_addr": PEER}, fake=fake_freeswitch)
    simulated_call = simulate_module.route_with

    def route_with(session, current):
        installed.append(sys.modules.get("freeswitch"))
        worker = threading.Thread(target=fsroute.route.handler, args=(meanwhile, EXAMPLE))
        worker.start()
        worker.join()
        simulated_call(session, current)

    monkeypatch.setattr(simulate_module, "route_with", route_with)
    report = Simulation(EXAMPLE).run("91001", PEER, down=["gw2"])
    assert installed == [fake_freeswitch.module] and sys.modules["freeswitch"] is fake_freeswitch.module
    assert report["result"] == "bridged" and [a["gateway"] for a in report["attempts"]] == ["gw1"]
    assert meanwhile.getVariable("fsroute_result") == "all_down"
    routed = [line for line in fake_freeswitch.log_lines() if " result=" in line]
    assert len(routed) == 1 and meanwhile.uuid in routed[0], routed


LIMITED = """\
version: 1
gateways:
  gw1: {max_calls: 2, max_cps: '3/1', breaker: {failures: 3, window: 30, cooldown: 10}}
groups:
  pair: {strategy: priority, gateways: [gw1, gw2]}
routes:
  - {name: out, match: {destination_number: '^(\\d+)$'}, number: '$1', group: pair}
"""


def test_held_calls_trip_max_calls_in_simulated_time(tmp_path):
    path = tmp_path / "limited.yaml"
    path.write_text(LIMITED)
    began = time.monotonic()
    # 10 calls at 1 cps held 120 s: gw1 takes two, then is at its limit for the rest (no call ends meanwhile)
    summary = Simulation(str(path)).run("5551234", calls=10, cps=1, hold=120)
    assert time.monotonic() - began < 5  # simulated time: nobody slept 2 minutes
    assert summary["results"] == {"bridged": 10}
    assert summary["attempts"] == {"gw1": 2, "gw2": 8}
    assert summary["skipped"] == {"gw1": {"at_limit": 8}}
    # held 1.5 s at 1 cps: at most two up at once, so gw1 takes every call
    summary = Simulation(str(path)).run("5551234", calls=10, cps=1, hold=1.5)
    assert summary["attempts"] == {"gw1": 10} and summary["skipped"] == {}
    # without holding, calls end at once: max_calls never trips, but 10 calls in the same second pass max_cps
    summary = Simulation(str(path)).run("5551234", calls=10)
    assert summary["attempts"] == {"gw1": 3, "gw2": 7} and summary["skipped"] == {"gw1": {"at_limit": 7}}


def test_the_breaker_benches_a_failing_gateway_and_probes_it_after_its_cooldown(tmp_path):
    path = tmp_path / "limited.yaml"
    path.write_text(LIMITED)
    # gw1 fails every call: 3 failures bench it for 10 s; at 1 cps over 20 s it is probed once after that
    summary = Simulation(str(path)).run("5551234", fail={"gw1": "NORMAL_TEMPORARY_FAILURE"}, calls=20, cps=1)
    assert summary["results"] == {"bridged": 20} and summary["gateways"] == {"gw2": 20}
    assert summary["attempts"] == {"gw1": 4, "gw2": 20}
    assert summary["skipped"] == {"gw1": {"benched": 16}}


def test_simulate_hold_and_cps_on_the_command_line(tmp_path, capsys):
    from fsroute.tools.cli import main

    path = tmp_path / "limited.yaml"
    path.write_text(LIMITED)
    assert main(["simulate", str(path), "--dest", "5551234", "--calls", "10", "--cps", "1", "--hold", "120"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "gateway          attempts  bridged   share  skipped",
        "gw1                     2        2   20.0%  at_limit 8",
        "gw2                     8        8   80.0%  -"]
    assert main(["simulate", str(path), "--dest", "5551234", "--calls", "10", "--hold", "120", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == {"gw1": {"at_limit": 8}}
