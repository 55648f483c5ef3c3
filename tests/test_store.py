"""The store's reload ordering and the state a generation owns or shares (gateway readings, round robin)."""

import os
import threading
import time

from fsroute import ctl
from fsroute.core import loader
from fsroute.runtime import process
from fsroute.runtime.call import route_with
from fsroute.testing import StubSession

RULES = """\
version: 1
defaults: {{reload_check: 0, status_ttl: {ttl}}}
routes:
  - {{name: r, gateway: {gateway}}}
"""


def write(path, gateway="gw1", ttl=60):
    with open(path, "w") as handle:
        handle.write(RULES.format(gateway=gateway, ttl=ttl))
    then = time.time_ns() - 10 ** 10  # a new signature, whatever the tick; dated back: written in
    os.utime(path, ns=(then, then))     # place, a file is taken up once it has been still (store.py)


def dial(current):
    session = StubSession({"destination_number": "100", "network_addr": "127.0.0.1"})
    route_with(session, current)
    return session.variables.get("fsroute_gateway")


class Threads:
    """A store's background starter that keeps the threads, so a test can join them."""

    def __init__(self):
        self.started = []

    def __call__(self, target, args):
        thread = threading.Thread(target=target, args=args)
        self.started.append(thread)
        thread.start()


def test_an_older_background_load_never_replaces_a_newer_reload(fake_freeswitch, tmp_path, monkeypatch, clock):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    threads = Threads()
    rules = process.store_for(path, clock, threads)
    assert dial(rules.current) == "gw1"

    parsing_gw2, release = threading.Event(), threading.Event()
    real_parse = loader.parse

    def parse(data, filename):
        if b"gw2" in data:  # the background load has read the gw2 version: hold it here
            parsing_gw2.set()
            assert release.wait(10)
        return real_parse(data, filename)

    monkeypatch.setattr(loader, "parse", parse)
    write(path, "gw2")
    dial(rules.current)                      # starts the background load of gw2...
    assert parsing_gw2.wait(10)              # ...which has read the file and is parsing
    write(path, "gw3")
    assert rules.reload().rules.routes[0].gateway == "gw3"   # ctl reload: +OK with gw3
    release.set()
    for thread in threads.started:
        thread.join()
    assert rules.generation.rules.routes[0].gateway == "gw3"     # the older gw2 parse did not land
    assert rules.last_error is None


def test_gateway_readings_belong_to_the_process_and_survive_reloads(fake_freeswitch, tmp_path, clock):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    first = process.store_for(path, clock).current()
    assert first.is_up("gw1")
    write(path, "gw2")
    second = process.store_for(path).reload()
    write(path, "gw2", ttl=30)
    third = process.store_for(path).reload()
    assert second is not first and third is not second and first.poller is second.poller is third.poller
    # read when first built and again at each asked-for reload (ctl reload), never per generation otherwise
    assert fake_freeswitch.api_calls == ["sofia profile external gwlist down"] * 3


def test_two_rules_files_share_the_readings_and_each_sees_its_gateways(fake_freeswitch, tmp_path):
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    write(a, "gw1", ttl=60)
    write(b, "gw2", ttl=60)
    first, second = process.store_for(a).current(), process.store_for(b).current()
    assert first.poller is second.poller
    assert first.is_up("gw1") and not second.is_up("gw2")
    assert "  gw2 (external): DOWN" in ctl.command("status " + b)
    assert "  gw1 (external): up" in ctl.command("status " + a)


def test_an_asked_for_reload_reads_the_gateway_states_again(fake_freeswitch, tmp_path):
    # A switch whose gateway went down a moment ago: `ctl reload` does not route on the poller's older reading.
    fake_freeswitch.set_gateways("external", up=["gw1"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    assert process.store_for(path).current().is_up("gw1")
    fake_freeswitch.set_gateways("external", down=["gw1"])
    assert ctl.command("reload " + path).startswith("+OK")  # the same file: the generation is kept
    assert not process.store_for(path).current().is_up("gw1")


def test_a_replaced_generation_is_gone_before_its_routes_are_freed_in_steps(fake_freeswitch, tmp_path, monkeypatch):
    import weakref
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    old = weakref.ref(process.store_for(path).current())
    write(path, "gw2")
    process.store_for(path).reload()
    seen = []
    monkeypatch.setattr(process.time, "sleep", lambda seconds: seen.append(old() is None))
    process._process.free_retired()
    assert seen and seen[0] is True  # the generation went first; then the routes, a step at a time
    assert process.retired_count() == 0


TABLE_RULES = """\
version: 1
defaults: {{reload_check: 0}}
tables:
  dids: {{file: {table}, key: exact, columns: {{number: number, target: target}}}}
  others: {{file: {others}, key: exact, columns: {{number: number, target: target}}}}
routes:
  - {{name: dids, table: dids}}
  - {{name: others, table: others}}
"""


def test_a_replaced_tables_columns_go_back_in_steps_and_a_shared_ones_stay(fake_freeswitch, tmp_path, monkeypatch):
    # Handing back a 10M-row table's 80 MB of keys in one free() held the GIL for 8-17 ms (issue 22).
    import weakref
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = str(tmp_path / "rules.yaml")
    for name, gateway, first_number in (("a.csv", "gw1", 5550000), ("b.csv", "gw2", 5550000),
                                        ("c.csv", "gw1", 7770000)):
        (tmp_path / name).write_text("number,target\n" + "".join("%d,%s\n" % (first_number + i, gateway)
                                                                 for i in range(40)))
    monkeypatch.setattr(process, "ARRAY_STEP", 8)
    with open(path, "w") as handle:
        handle.write(TABLE_RULES.format(table=tmp_path / "a.csv", others=tmp_path / "c.csv"))
    first = process.store_for(path).current()
    old_keys = weakref.ref(first.tables["dids"].table.keys)
    shared_keys = first.tables["others"].table.keys
    del first
    with open(path, "w") as handle:
        handle.write(TABLE_RULES.format(table=tmp_path / "b.csv", others=tmp_path / "c.csv"))
    second = process.store_for(path).reload()
    assert second.tables["others"].table.keys is shared_keys  # c.csv unchanged: read once, shared
    lengths = []
    monkeypatch.setattr(process.time, "sleep", lambda seconds: lengths.append(len(old_keys())))
    process._process.free_retired()
    assert lengths[-4:] == [32, 24, 16, 8], lengths  # a.csv's keys: 8 at a time, a chance to switch between
    assert old_keys() is None
    assert len(shared_keys) == 40 and second.tables["others"].find("7770039", 0)[0] == 39


def test_a_load_that_fails_unexpectedly_is_tried_once_per_change_of_the_files(fake_freeswitch, tmp_path,
                                                                              monkeypatch, clock):
    # it was tried (the files read and parsed again, an ERROR logged) at every reload_check until a file changed
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    rules = process.store_for(path, clock, lambda target, args: target(*args))
    assert dial(rules.current) == "gw1"
    real_parse, tried = loader.parse, []

    def parse(data, filename):
        if b"gw2" in data:
            tried.append(filename)
            raise RuntimeError("a defect of fsroute's")
        return real_parse(data, filename)

    monkeypatch.setattr(loader, "parse", parse)
    write(path, "gw2")
    for _ in range(5):
        clock.advance(1.0)
        assert dial(rules.current) == "gw1"  # the last good rules stay
    assert len(tried) == 1
    assert len([line for line in fake_freeswitch.log_lines("err") if "failed unexpectedly" in line]) == 1
    monkeypatch.setattr(loader, "parse", real_parse)
    write(path, "gw2")  # the file's next change is tried again
    clock.advance(1.0)
    dial(rules.current)
    assert dial(rules.current) == "gw2"


def test_rules_pushed_before_the_deck_they_name_go_live_once_the_deck_is_in_place(fake_freeswitch, tmp_path, clock):
    # the refusal recorded the rules file as tried while only the decks in force were watched: the new
    # deck's arrival was never seen, and the new rules waited for a touch of the rules file or ctl reload
    fake_freeswitch.set_gateways("external", up=["gw1", "gwc"])
    text = ("version: 1\ndefaults: {reload_check: 0}\ncarriers:\n  c: {deck: %s, gateway: gwc}\nroutes:\n"
            "  - {name: %s, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [c]}}\n")
    path = str(tmp_path / "rules.yaml")
    for name, content in (("a.csv", "prefix,rate\n49,0.01\n"), ("rules.yaml", text % ("a.csv", "v1"))):
        with open(str(tmp_path / name), "w") as handle:
            handle.write(content)
        os.utime(str(tmp_path / name), ns=(time.time_ns() - 10 ** 10,) * 2)
    rules = process.store_for(path, clock, lambda target, args: target(*args))
    session = StubSession({"destination_number": "00491", "network_addr": "127.0.0.1"})
    route_with(session, rules.current)
    assert session.variables["fsroute_route"] == "v1"
    with open(path, "w") as handle:
        handle.write(text % ("b.csv", "v2"))
    os.utime(path, ns=(time.time_ns() - 10 ** 10,) * 2)
    for _ in range(3):
        clock.advance(1.0)
        rules.current()
    assert rules.current().rules.routes[0].name == "v1" and "b.csv" in str(rules.last_error)
    with open(str(tmp_path / "b.csv"), "w") as handle:
        handle.write("prefix,rate\n49,0.02\n")
    os.utime(str(tmp_path / "b.csv"), ns=(time.time_ns() - 10 ** 10,) * 2)
    clock.advance(1.0)
    rules.current()
    assert rules.current().rules.routes[0].name == "v2" and rules.last_error is None
    assert len([line for line in fake_freeswitch.log_lines("err") if "b.csv" in line]) == 1
