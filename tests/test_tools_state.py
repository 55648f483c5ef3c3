"""fsroute simulate and compare parse the rules once and leave the process's live state alone."""

from pathlib import Path

import pytest

from fsroute.core import loader
from fsroute.migrate.compare import compare
from fsroute.migrate.importer import import_files
from fsroute.migrate.legacy import read_legacy
from fsroute.runtime import process, store
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
    assert metrics.text() == before and fake_freeswitch.events == []
