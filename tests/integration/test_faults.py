"""Faults through a real FreeSWITCH (issue 21): files changed the way configuration managers change
them while calls flow. docs/reliability.md lists every fault tried and what it gives."""

import os
import re
import threading
import time

from confmgr import configmap_publish, copy_over
from .harness.switch import fsroute_lines, parse_line
from .test_lcr import aged, calls_at

RULES = """\
version: 1
defaults: {status_ttl: 0.5, reload_check: 0.3}
carriers:
  c: {deck: fault_rates.csv, gateway: %(gateway)s, number_format: '%(digit)s$0', currency: USD}
routes:
  - {name: lcr_%(digit)s, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [c]}}
"""
DECK = "prefix,rate\n49,%s\n"


def rules(gateway, digit):
    return RULES % {"gateway": gateway, "digit": digit}


def errors_since(fs, mark):
    return [line for line in fs.switch.log_since(mark).splitlines() if "[ERR]" in line]


def routed(fs, results):
    """(gateway, rate) of each call, in the order they were placed."""
    cdrs = [fs.cdr(r) for r in results]
    return [(c["fsroute_gateway"], c["fsroute_lcr_rate"]) for c in cdrs]


class SlowCopy:
    """A copy that takes seconds, started before call ``at`` while calls keep being placed;
    ``done`` is the first call placed after it ended."""

    def __init__(self, at, work):
        self.at, self.work = at, work
        self.thread = threading.Thread(target=work, name="slow-copy")
        self.done = None

    def __call__(self, n):
        if n == self.at:
            self.thread.start()
        elif n > self.at and self.done is None and not self.thread.is_alive():
            self.done = n


def versions_in_order(outcomes, first, second):
    """Every call went by ``first`` or by ``second`` as a whole, and once by ``second``, never back."""
    assert set(outcomes) <= {first, second}, set(outcomes) - {first, second}
    switched = outcomes.index(second)
    assert set(outcomes[switched:]) == {second}, outcomes
    return switched


def test_a_configmap_symlink_swap_goes_live_whole_while_calls_flow(fs):
    volume, name = os.path.split(fs.switch.rules_path)
    directory = configmap_publish(volume, 1, {name: rules("gw1", "1"), "fault_rates.csv": DECK % "0.01"})
    for each in os.listdir(directory):
        aged(os.path.join(directory, each))
    answer = fs.switch.api("python fsroute.ctl reload %s" % fs.switch.rules_path)
    assert answer.startswith("+OK reloaded"), answer
    mark = fs.switch.log_mark()

    def swap(n):
        if n == 20:  # rules and deck change together; the deck was written just now
            configmap_publish(volume, 2, {name: rules("gw2", "2"), "fault_rates.csv": DECK % "0.02"})

    results = calls_at(fs, 100, 10, swap, destination="00491234")
    assert [r.code for r in results] == [200] * 100
    outcomes = routed(fs, results)
    switched = versions_in_order(outcomes, ("gw1", "0.01"), ("gw2", "0.02"))
    assert 20 < switched < 60  # the new deck waits until it has been still for 2 s
    assert fs.gateways["gw1"].uri_users() == ["1491234"] * switched  # each in its version's format
    assert fs.gateways["gw2"].uri_users() == ["2491234"] * (100 - switched)
    assert errors_since(fs, mark) == []
    assert fs.switch.wait_log("fsroute: loaded %s" % fs.switch.rules_path, mark=mark)


def test_decks_and_rules_copied_over_slowly_never_go_live_half_copied(fs):
    directory = os.path.dirname(fs.switch.rules_path)
    deck = os.path.join(directory, "fault_rates.csv")
    with open(deck, "w") as handle:
        handle.write(DECK % "0.01")
    aged(deck)
    fs.use_rules(rules("gw1", "1"))
    mark = fs.switch.log_mark()
    # 60,000 rows, and the row that rates the calls last: every part of it written before that
    # row is a deck without 49 (the calls would find no carrier), or ends in half a row (an error)
    new_deck = ("prefix,rate\n" + "".join("%d,0.5\n" % (7000000 + i) for i in range(60000))
                + "49,0.02\n").encode()

    copy = SlowCopy(10, lambda: copy_over(  # 64 KiB every 0.3 s: about 3.5 s, never still for 2 s
        deck, new_deck, range(1 << 16, len(new_deck), 1 << 16), lambda: time.sleep(0.3)))
    results = calls_at(fs, 100, 10, copy, destination="00491234")
    assert [r.code for r in results] == [200] * 100
    rates = [rate for _, rate in routed(fs, results)]
    switched = versions_in_order(rates, "0.01", "0.02")
    assert copy.done is not None and switched >= copy.done

    # the rules file, line by line: each part ending at a line end is valid rules with fewer routes
    filler = "".join("  - {name: f%d, match: {destination_number: '^88%04d$'}, gateway: gw4}\n" % (i, i)
                     for i in range(300))
    new_rules = (rules("gw3", "3").replace("routes:\n", "routes:\n" + filler)).encode()
    lines = [i + 1 for i, byte in enumerate(new_rules) if byte == ord("\n")][:-1]

    copy = SlowCopy(10, lambda: copy_over(  # 20 lines every 0.3 s: about 4.5 s
        fs.switch.rules_path, new_rules, lines[::20], lambda: time.sleep(0.3)))
    results = calls_at(fs, 100, 10, copy, destination="00491234")
    assert [r.code for r in results] == [200] * 100
    outcomes = routed(fs, results)
    switched = versions_in_order(outcomes, ("gw1", "0.02"), ("gw3", "0.02"))
    assert copy.done is not None and switched >= copy.done
    assert fs.gateways["gw4"].uri_users() == []
    assert errors_since(fs, mark) == []


FLAP_RULES = """\
version: 1
defaults: {status_ttl: 0.5, reload_check: 0.5}
groups:
  g: {strategy: weighted_round_robin, gateways: [gw1, gw2]}
routes:
  - {name: all, match: {destination_number: '^(\\d+)$'}, group: g}
"""


def call_lines_logged(fs, mark, count, timeout=10):
    """The log since ``mark`` once it holds ``count`` call lines (FreeSWITCH writes it from a queue)."""
    deadline = time.monotonic() + timeout
    while True:
        log = fs.switch.log_since(mark)
        if len(fsroute_lines(log)) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


def test_a_flapping_gateway_under_load_loses_no_call_and_floods_no_log(fs):
    fs.use_rules(FLAP_RULES)
    mark = fs.switch.log_mark()
    gw1 = fs.gateways["gw1"]

    def flap(n):  # gw1's port closed and opened again every 6 s (sofia pings every 5 s)
        if n % 30 == 15:
            gw1.close() if gw1.is_open else gw1.reopen()

    results = calls_at(fs, 225, 5, flap, destination="5550100")
    gw1.reopen()
    assert [r.code for r in results] == [200] * 225
    log = call_lines_logged(fs, mark, 225)
    tried = [parse_line(line)["tried"] for line in fsroute_lines(log)]
    assert len(tried) == 225 and all(t.endswith(":SUCCESS") for t in tried)
    changes = [line for line in log.splitlines() if "fsroute::gateway" not in line and
               "fsroute: gateway gw1 (external)" in line]
    went_down = [line for line in changes if "is down (was up)" in line]
    metrics = fs.switch.api("python fsroute.ctl metrics")
    counted = sum(int(float(m.group(1))) for m in re.finditer(
        r'fsroute_gateway_state_changes_total\{gateway="gw1",profile="external",state="\w+"\} (\S+)', metrics))
    assert counted >= 5  # it flapped: more changes than lines...
    assert len(changes) <= 5 and "is flapping" in changes[-1], changes  # ...4 lines, then one saying so
    # gwlist said DOWN before fsroute's next reading (0.5 s) for a few calls at most per time it went down;
    # those failed over at once (GATEWAY_DOWN) and were answered
    at_down = sum(t.count("gw1:GATEWAY_DOWN") for t in tried)
    assert at_down <= 4 * max(1, len(went_down) + (counted - len(changes)) // 2), (at_down, tried)
