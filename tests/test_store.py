"""The store's reload ordering and the state a loaded rule set owns (gateway readings, round robin)."""

import os
import threading

from fsroute import ctl
from fsroute.core import loader
from fsroute.runtime import store
from fsroute.runtime.call import route_with
from fsroute.runtime.store import Loaded, RulesStore
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
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new signature, whatever the tick


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
    rules = RulesStore(path, clock, threads)
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
    assert rules.loaded.rules.routes[0].gateway == "gw3"     # the older gw2 parse did not land
    assert rules.last_error is None


def test_the_gateway_reader_belongs_to_the_rules_and_survives_an_unchanged_reload(fake_freeswitch, tmp_path,
                                                                                   clock):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    first = store.store_for(path, clock).current()
    assert first.is_up("gw1")
    write(path, "gw2")
    second = store.store_for(path).reload()
    assert second is not first and second.gateways is first.gateways  # same TTL: readings carried over
    assert fake_freeswitch.api_calls == ["sofia profile external gwlist down"]
    write(path, "gw2", ttl=30)
    third = store.store_for(path).reload()
    assert third.gateways is not second.gateways and third.gateways.ttl == 30


def test_two_rule_sets_with_different_settings_read_their_own_gateways(fake_freeswitch, tmp_path):
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    write(a, "gw1", ttl=60)
    write(b, "gw2", ttl=60)
    first, second = store.store_for(a).current(), store.store_for(b).current()
    assert first.gateways is not second.gateways  # no registry keyed by settings
    assert first.is_up("gw1") and not second.is_up("gw2")
    assert "  gw2 (external): DOWN" in ctl.command("status " + b)
    assert "  gw1 (external): up" in ctl.command("status " + a)


def test_one_gwlist_reading_at_a_time_per_profile(fake_freeswitch, tmp_path):
    entered, release = [], threading.Event()

    def slow(command):
        entered.append(command)
        release.wait(10)
        return "gw2 "

    fake_freeswitch.answers["sofia profile external gwlist down"] = slow
    path = str(tmp_path / "rules.yaml")
    write(path, "gw1")
    loaded = Loaded(loader.load(path))
    loaded.gateways.timeout = 0.01
    waiters = [threading.Thread(target=loaded.is_up, args=("gw1",)) for _ in range(8)]
    for thread in waiters:
        thread.start()
    for thread in waiters:
        thread.join()
    release.set()
    assert entered == ["sofia profile external gwlist down"]
