"""5. Concurrency: many call threads, shared state, reloads in between; totals stay exact.

mod_python3 runs every call on its own thread in one interpreter, so the
round-robin state, the gwlist TTL cache, the ACL verdict cache and the
rules store are shared. 16 threads route 10,000 calls each while another
thread keeps replacing the rules file with one of two valid versions that
share the same group: no call may fail, and smooth weighted round robin with
weights 1:2 must split the 160,000 calls exactly (the cycle b, a, b is never
reset, since both gateways stay up and a reload keeps an unchanged group's
position).
"""

import os
import sys
import threading
import time
from collections import Counter

import pytest

import fsroute.route
import fsroute.runtime.process
from fsroute.testing import StubSession
from budget import THOROUGH
from reliability_helpers import SAFE_BRIDGE_RE, write_rules

THREADS = 16
CALLS_PER_THREAD = 10000 if THOROUGH else 2000

VERSION_A = """\
version: 1
defaults:
  profile: external
  status_ttl: 0.5        # the shortest allowed: gwlist readings expire again and again
  status_timeout: 1
  reload_check: 0.002    # every few milliseconds a call looks at the file
acls:
  local: {default: deny, nodes: [{allow: 127.0.0.0/8}, {deny: 127.0.0.99/32}]}
ingress_acl: local
groups:
  g:
    strategy: weighted_round_robin
    gateways:
      - {name: gw1, weight: 1}
      - {name: gw2, weight: 2}
routes:
  - name: default
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    group: g
"""

# Another valid file with the same group (so the round robin must carry on where it was).
VERSION_B = VERSION_A.replace("routes:\n", """routes:
  - name: service
    match: {destination_number: '^999$'}
    gateway: gw1
""")


def expected_gw1(calls):
    """gw1's share of ``calls`` picks of the cycle b, a, b (weights 1:2, starting fresh)."""
    return calls // 3 + (1 if calls % 3 == 2 else 0)


def _replace(path, text):
    temporary = "%s.%d.tmp" % (path, threading.get_ident())
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)  # what a careful operator (or a config tool) does


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return fake_freeswitch


def test_threads_routing_through_reloads_keep_exact_totals(switch, tmp_path, tried):
    """16 threads x 10,000 calls (2,000 outside the ci profile) with the rules file replaced every 10 ms."""
    path = write_rules(tmp_path / "rules.yaml", VERSION_A)
    picks = Counter()
    results = Counter()
    shas = Counter()
    problems = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS + 1)
    stop = threading.Event()
    writes = [0]

    def caller(index):
        my_picks, my_results, my_shas = Counter(), Counter(), Counter()
        try:
            start.wait()
            for call in range(CALLS_PER_THREAD):
                session = StubSession({"destination_number": "1%04d" % call,
                                       "network_addr": "127.0.%d.%d" % (index, call % 50),
                                       "caller_id_number": "4930%d" % call}, fake=switch)
                if fsroute.route.handler(session, path) is not None:
                    raise AssertionError("handler returned a value")
                executed = [data for app, data in session.executed if app == "bridge"]
                if not executed or not SAFE_BRIDGE_RE.match(executed[0]):
                    raise AssertionError("call %d: bridges %r" % (call, executed))
                my_picks[executed[0].split("/")[2]] += 1
                my_results[session.variables.get("fsroute_result")] += 1
                my_shas[session.variables.get("fsroute_rules_sha")] += 1
        except BaseException as exc:  # noqa: B902  (reported below, whatever it is)
            with lock:
                problems.append("thread %d: %s: %s" % (index, type(exc).__name__, exc))
        with lock:
            picks.update(my_picks)
            results.update(my_results)
            shas.update(my_shas)

    def writer():
        start.wait()
        version = 0
        while not stop.wait(0.01):
            version += 1
            _replace(path, VERSION_B if version % 2 else VERSION_A)
            writes[0] += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(THREADS)]
    rewriter = threading.Thread(target=writer)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # switch threads 10x as often as usual: more interleavings
    try:
        for thread in threads + [rewriter]:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        rewriter.join()
        sys.setswitchinterval(switch_interval)

    total = THREADS * CALLS_PER_THREAD
    assert problems == []
    assert results == {"bridged": total}
    assert sum(picks.values()) == total
    assert picks["gw1"] == expected_gw1(total), picks
    assert picks["gw2"] == total - expected_gw1(total), picks
    # The reloads really happened while calls flowed, and each was logged once, without errors.
    assert len(shas) == 2, shas
    loaded = [m for m in switch.log_lines("info") if m.startswith("fsroute: loaded")]
    assert len(loaded) >= 3 and writes[0] >= 3, (len(loaded), writes[0])
    assert switch.log_lines("err") == []
    assert switch.log_lines("warning") == []
    tried["concurrency"] += total


def _pick(loaded):
    group = loaded.rules.groups["g"]
    return loaded.selector.order(group, list(group.members), "", 3)[0]


def test_a_reload_keeps_the_round_robin_position(switch, tmp_path, tried):
    path = write_rules(tmp_path / "rules.yaml", VERSION_A)
    store = fsroute.runtime.process.store_for(path)
    sequence = []
    loaded = store.current()
    for step in range(12):
        if step % 4 == 3:  # reload between picks, alternating the versions
            _replace(path, VERSION_B if step % 8 == 3 else VERSION_A)
            loaded = store.reload()
        sequence.append(_pick(loaded))
    assert sequence == ["gw2", "gw1", "gw2"] * 4
    tried["concurrency"] += 12


def test_calls_in_flight_across_a_reload_share_one_cycle(switch, tmp_path, tried):
    """A call that fetched the old rules just before a reload picks from the same cycle as the new ones.

    Here the reload comes before the group's first pick ever: the old and the
    new rule set must still share one round-robin state, or the cycle splits
    in two and the totals drift from the exact ratio.
    """
    path = write_rules(tmp_path / "rules.yaml", VERSION_A)
    store = fsroute.runtime.process.store_for(path)
    old = store.current()
    _replace(path, VERSION_B)
    new = store.reload()
    assert new is not old
    sequence = [_pick(old), _pick(new), _pick(old), _pick(new), _pick(new), _pick(new)]
    assert sequence == ["gw2", "gw1", "gw2"] * 2
    tried["concurrency"] += 6


def test_gwlist_cache_under_threads_reads_once_per_ttl(switch, tmp_path, tried):
    """Many threads, one TTL: the gwlist command runs once, not once per thread."""
    path = write_rules(tmp_path / "rules.yaml", VERSION_A.replace("status_ttl: 0.5", "status_ttl: 60"))
    gate = threading.Barrier(THREADS)
    slow = threading.Event()

    def slow_gwlist(command):
        slow.wait(0.2)  # every thread arrives while the first reading is still running
        return ""

    switch.answers["sofia profile external gwlist down"] = slow_gwlist
    failures = []

    def caller(index):
        try:
            gate.wait()
            for call in range(20):
                session = StubSession({"destination_number": "1001", "network_addr": "127.0.0.%d" % index},
                                      fake=switch)
                fsroute.route.handler(session, path)
                assert session.variables.get("fsroute_result") == "bridged"
        except BaseException as exc:  # noqa: B902
            failures.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert switch.api_calls.count("sofia profile external gwlist down") == 1
    assert time.monotonic() - started < 5
    tried["concurrency"] += THREADS * 20
