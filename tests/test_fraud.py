"""Fraud rules: the fraud: section, levels reached on stub calls, blocks, ctl, and a fleet on a fake Redis."""

import pytest

from fsroute import ctl, route
from fsroute.core import loader
from fsroute.core.fraud import BLOCK, WARN, key_of, reached, spend, watching
from fsroute.core.model import FraudRule, RulesError, Threshold
from fsroute.runtime import fraud
from fsroute.runtime.fleet import RedisFleet
from fsroute.runtime.metrics import FRAUD_LEVELS
from fsroute.runtime.process import store_for
from test_gateway_health import Clock

FRAUD_RULES = """\
version: 1
calendars:
  night: {hour: '0-6'}
routes:
  - name: premium
    match: {destination_number: '^(44900\\d+)$'}
    gateway: gw1
  - name: other
    match: {destination_number: '^(\\d+)$'}
    gateway: gw1
fraud:
  - name: premium-burst
    routes: [premium]
    window: 1h
    calls: {warn: 2, block: 4}
    for: 30m
"""


@pytest.fixture
def switch(fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    fraud.STATE.clock = clock = Clock()
    clock.now = 1796601600.0  # 2026-12-07 00:00:00 UTC
    return fake_freeswitch


def fraud_events(switch):
    return [(e["fsroute-fraud-level"], e["fsroute-fraud-measure"], e["fsroute-fraud-count"])
            for e in switch.fired(fraud.FRAUD_EVENT)]


def test_the_fraud_section_reads_every_key_in_its_units():
    rules = loader.parse(FRAUD_RULES.replace("    for: 30m\n", """\
    for: 30m
    prefixes: ['44900', '+4487']
    per: account+destination
    when: night
    rate: 1.5
    connect_fee: 0.02
    increments: '60/6'
    minutes: {warn: 30}
    spend: {block: 12.5}
    same_number: {warn: 3, block: 5}
    concurrent: {block: 4}
    on_block: {hangup: CALL_REJECTED}
"""))
    [rule] = rules.fraud
    assert (rule.name, rule.routes, rule.prefixes, rule.per_destination) == (
        "premium-burst", frozenset({"premium"}), ("44900", "+4487"), True)
    assert (rule.window, rule.block_for, rule.on_block.cause) == (3600.0, 1800.0, "CALL_REJECTED")
    assert (rule.rate, rule.connect_fee, rule.increments) == (1500000, 20000, (60, 6))
    assert rule.thresholds == (Threshold("calls", 2.0, 4.0), Threshold("concurrent", None, 4.0),
                               Threshold("same_number", 3.0, 5.0), Threshold("minutes", 1800.0, None),
                               Threshold("spend", None, 12500000.0))
    assert len(rule.when) == 1
    assert loader.parse(FRAUD_RULES).fraud[0].on_block.cause == "OUTGOING_CALL_BARRED"  # SIP 403


def test_fraud_problems_are_reported_at_their_place():
    with pytest.raises(RulesError) as caught:
        loader.parse(FRAUD_RULES.replace("routes: [premium]", "routes: [premum]").replace(
            "    calls: {warn: 2, block: 4}\n    for: 30m\n", """\
    calls: {warn: 4, block: 2}
    for: 10 minutes
    per: customer
    spend: {block: 0.1234567}
"""), "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:13:14: fraud rule 'premium-burst': no route named 'premum'",
        "r.yaml:15:12: fraud rule 'premium-burst' calls: warn (4) must be below block (2)",
        "r.yaml:16:10: fraud rule 'premium-burst' for must be a duration: seconds, or like '90s', '30m', '1h', "
        "'2d' (1 s to 366 d)",
        "r.yaml:17:10: fraud rule 'premium-burst' per must be one of: account, account+destination",
        "r.yaml:18:20: fraud rule 'premium-burst' spend block: at most 6 decimals",
    ]


def test_core_levels_are_reached_once_per_crossing_and_spend_uses_the_billing_rule():
    rule = FraudRule("r", 1, thresholds=(Threshold("calls", 2, 4),), rate=600000, increments=(60, 6),
                     connect_fee=10000)
    assert [(r.level, r.value) for r in reached(rule, "a", "calls", 1, 2)] == [(WARN, 2)]
    assert reached(rule, "a", "calls", 2, 3) == []
    assert [(r.level, r.value) for r in reached(rule, "a", "calls", 1, 5)] == [(BLOCK, 5), (WARN, 5)]
    assert spend(rule, None, 61) == 10000 + 660000  # 66 s billed (60/6) at 0.60 a minute, plus the fee
    assert spend(rule._replace(rate=None), None, 61) is None
    assert key_of(rule._replace(per_destination=True), "acme", "4490") == "acme/4490"
    prefixed = rule._replace(prefixes=("4490",), routes=frozenset({"p"}))
    assert watching([prefixed], "p", "44901", None) == [prefixed]
    assert watching([prefixed], "p", "4480", None) == [] and watching([prefixed], "x", "44901", None) == []


def test_a_burst_warns_then_blocks_further_calls_for_the_block_time(switch, write_rules, call):
    path = write_rules(FRAUD_RULES)
    results = [call(path, "449001234", accountcode="x").variables["fsroute_result"] for _ in range(5)]
    assert results == ["bridged"] * 4 + ["fraud_blocked"]  # the 4th reaches block: the ones after it are refused
    assert fraud_events(switch) == [("warn", "calls", "2"), ("block", "calls", "4")]
    blocked = call(path, "449005555")
    assert (blocked.hangup_cause, blocked.bridges) == ("OUTGOING_CALL_BARRED", [])
    assert blocked.variables["fsroute_account"] == "172.16.221.33"  # without accounts: the source address
    warnings = [m for level, m in switch.logs if level == "warning" and "fraud" in m]
    assert warnings[0].startswith("fsroute: fraud premium-burst warn of 172.16.221.33 reached calls (2/2)")
    assert "blocked until" in warnings[1]
    assert "fraud rule premium-burst: 172.16.221.33 blocked" in [m for _, m in switch.logs if "fraud_blocked" in m][-1]
    assert "fsroute_fraud_levels_total{rule=\"premium-burst\",level=\"block\",measure=\"calls\"} 1" in \
        FRAUD_LEVELS.text()
    assert call(path, "5551000").variables["fsroute_result"] == "bridged"  # another route: not watched
    assert call(path, "449001234", src="10.0.0.1").variables["fsroute_result"] == "bridged"  # another account

    store_for(path).reload()  # a reload keeps the block
    assert call(path, "449001234").variables["fsroute_result"] == "fraud_blocked"
    fraud.STATE.clock.now += 1801  # the block is over; a new window too
    assert call(path, "449001234").variables["fsroute_result"] == "bridged"


def test_a_same_number_block_per_account_and_destination_refuses_that_number(switch, write_rules, call):
    # the block was kept under the account alone while calls were checked under account and number:
    # logged and listed, it never refused a call
    path = write_rules(FRAUD_RULES.replace("    calls: {warn: 2, block: 4}\n",
                                           "    per: account+destination\n    same_number: {block: 3}\n"))
    results = [call(path, "449001234").variables["fsroute_result"] for _ in range(4)]
    assert results == ["bridged"] * 3 + ["fraud_blocked"]
    assert call(path, "449005555").variables["fsroute_result"] == "bridged"  # another number: its own key


def test_ctl_shows_and_lifts_blocks(switch, write_rules, call):
    path = write_rules(FRAUD_RULES.replace("calls: {warn: 2, block: 4}", "calls: {block: 1}"))
    call(path, "449001234")
    status = ctl.command("fraud status")
    assert "premium-burst 172.16.221.33 until " in status and "(1800s left): premium-burst block of " \
        "172.16.221.33 reached calls (1/1)" in status
    assert "premium-burst 172.16.221.33 calls 1" in status
    assert ctl.command("fraud unblock 172.16.221.33") == "+OK unblocked premium-burst 172.16.221.33\n"
    assert "fraud blocks:\n  none\n" in ctl.command("fraud status")
    assert ctl.command("fraud unblock 172.16.221.33") == "+OK 172.16.221.33 was not blocked here\n"
    assert call(path, "449001234").variables["fsroute_result"] == "bridged"


def test_minutes_and_spend_are_counted_when_the_call_ends(switch, write_rules, call):
    path = write_rules(FRAUD_RULES.replace("    calls: {warn: 2, block: 4}\n", """\
    rate: 0.60
    increments: '60/6'
    minutes: {warn: 3}
    spend: {block: 2.00}
"""))
    now = fraud.STATE.clock.now
    switch.epoch = lambda: now - 121  # the switch's clock when the callee answers: 121 s before the call ended
    first = call(path, "449001234")
    assert first.variables["execute_on_answer_fsroute"] == "set fsroute_answered=${strepoch()}"
    assert first.variables["fsroute_answered"] == str(int(now - 121))  # run by the switch at the answer
    assert fraud.STATE.counts() == [("premium-burst", "172.16.221.33", "minutes", 121.0),
                                        ("premium-burst", "172.16.221.33", "spend", 1260000.0)]  # 126 s at 0.60
    switch.epoch = lambda: now - 100
    call(path, "449001234")
    assert fraud_events(switch) == [("warn", "minutes", "221"), ("block", "spend", "2280000")]  # 102 s billed
    assert call(path, "449001234").variables["fsroute_result"] == "fraud_blocked"
    unanswered = call(path, "5551000", bridge_outcomes={"gw1": "NO_ANSWER"})
    assert unanswered.variables["fsroute_result"] == "failed"


def test_a_channel_routed_twice_counts_the_second_calls_talk_time_from_its_own_bridge(switch, write_rules,
                                                                                      stub_session):
    # a calling card: the dialplan routes the answered channel through fsroute again after the first call;
    # the switch runs execute_on_answer_* only at the channel's first answer, so the second call must not
    # count its minutes from the first call's answer
    path = write_rules(FRAUD_RULES.replace("    calls: {warn: 2, block: 4}\n", "    minutes: {warn: 30}\n"))
    now = fraud.STATE.clock.now
    switch.epoch = lambda: now - 121
    session = stub_session({"destination_number": "449001234", "network_addr": "172.16.221.33",
                            "hangup_after_bridge": "false"})
    route.handler(session, path)
    assert fraud.STATE.counts() == [("premium-burst", "172.16.221.33", "minutes", 121.0)]
    route.handler(session, path)  # answered already: the bridge's own duration (about 0 s here) is its talk time
    [(_, _, _, minutes)] = fraud.STATE.counts()
    assert 121.0 <= minutes < 122.0


def test_concurrent_and_same_number_are_counted_at_start_and_given_back_at_the_end():
    fraud.forget()
    rules = loader.parse(FRAUD_RULES.replace("    calls: {warn: 2, block: 4}\n",
                                             "    concurrent: {warn: 2}\n    same_number: {block: 3}\n"))
    now = 1796601600.0
    starts = [fraud.start(rules, "acme", "449001", "premium", now, None) for _ in range(2)]
    assert [(refused, talk) for refused, _, talk in starts] == [(None, False), (None, False)]
    assert ("premium-burst", "acme", "concurrent", 2.0) in fraud.STATE.counts()
    fraud.start(rules, "acme", "449002", "premium", now, None)  # another number: the run starts again
    for _ in range(3):
        refused, watched, _ = fraud.start(rules, "acme", "449003", "premium", now, None)
    assert refused is None and fraud.start(rules, "acme", "449003", "premium", now, None)[0] is not None
    for _ in range(6):
        fraud.ended(type("Record", (), {"fraud": fraud.FraudCall(watched), "rules": rules, "result": None})())
    assert not [c for c in fraud.STATE.counts() if c[2] == "concurrent"]


class FakeRedis:
    """What ``hiredis_raw`` answers, for the few commands the fleet sends."""

    def __init__(self):
        self.data, self.up, self.sent = {}, True, []

    def api(self, command):
        words = command.split()
        assert words[:2] == ["hiredis_raw", "fleet"]
        self.sent.append(words[2])
        if not self.up:
            return ""  # mod_hiredis writes nothing when a command fails (the switch's log says why)
        verb, key, rest = words[2], words[3], words[4:]
        if verb == "INCRBYFLOAT":
            self.data[key] = float(self.data.get(key, 0)) + float(rest[0])
            return "%g" % self.data[key]
        if verb == "APPEND":
            self.data[key] = self.data.get(key, "") + rest[0]
            return str(len(self.data[key]))
        if verb == "GET":
            return str(self.data.get(key, ""))
        return "1"  # EXPIRE


def test_a_malformed_fleet_block_does_not_end_the_fleet_thread(fake_freeswitch, monkeypatch):
    # another switch (or a hand) appended a block whose end no clock can show: time.localtime raised
    # in the thread, which ended, and no count reached Redis again until a restart
    rules = loader.parse(FRAUD_RULES)
    [rule] = rules.fraud
    redis = FakeRedis()
    redis.data["fleet.fraud.blocks"] = "premium-burst|acme|%d;" % 10 ** 20
    fleet = RedisFleet("fleet", fraud.FraudState(clock=lambda: 1796601600.0), fraud.level_reached,
                       run_api=redis.api, start=lambda target: None)
    steps = iter([True, True, False])
    monkeypatch.setattr("fsroute.runtime.fleet.switch_running", lambda: next(steps))
    monkeypatch.setattr("fsroute.runtime.fleet.POLL_SECONDS", 0.01)
    fleet.count(rule, "acme", "calls", 1.0, 1796601600.0, (0.0, 1.0))
    fleet.run()  # the first step polls the bad entry; the thread goes on to its next step
    assert [k for k in redis.data if ".calls." in k]  # the count was sent
    assert any("fraud fleet thread" in m and "failed a step" in m for level, m in fake_freeswitch.logs
               if level == "warning")
    fleet.count(rule, "acme", "calls", 1.0, 1796601600.0, (1.0, 2.0))
    steps = iter([True, False])
    fleet.run()
    assert float(redis.data[[k for k in redis.data if ".calls." in k][0]]) == 2.0


def test_a_fleet_whose_thread_cannot_start_judges_on_local_counts_and_tries_again(fake_freeswitch):
    # the thread was taken as started before its start raised: the call ended in error, nothing ever
    # sent the counts queued after it, and no calls, minutes or spend level was reached again
    rules = loader.parse(FRAUD_RULES)
    [rule] = rules.fraud
    starts = []

    def start(target):
        starts.append(target)
        if len(starts) <= 2:
            raise RuntimeError("can't start new thread")

    state = fraud.FraudState(clock=lambda: 1796601600.0)
    fleet = RedisFleet("fleet", state, fraud.level_reached, run_api=FakeRedis().api, start=start)
    found = [fraud._windowed(state, fleet, rule, "acme", "calls", 1.0, 1796601600.0) for _ in range(4)]
    # judged here while no thread runs (the warn at 2 calls), queued for the fleet once one does
    assert [[reached.level for reached in f] for f in found] == [[], [WARN], [], []]
    assert len(starts) == 3 and fleet._queue.qsize() == 2
    assert len([m for level, m in fake_freeswitch.logs if "cannot start the fraud fleet thread" in m]) == 1


def test_two_switches_share_counts_and_blocks_through_redis_and_judge_alone_without_it(fake_freeswitch):
    rules = loader.parse(FRAUD_RULES.replace("version: 1\n", "version: 1\ndefaults:\n  limits: {backend: "
                                             "hiredis, realm: fleet}\n"))
    [rule] = rules.fraud
    redis = FakeRedis()
    now = 1796601600.0
    states = [fraud.FraudState(clock=lambda: now) for _ in range(2)]
    fleets = [RedisFleet("fleet", state, fraud.level_reached, run_api=redis.api, start=lambda target: None)
              for state in states]

    def count(switch):  # a call on one switch, and its fleet thread sending it
        fleets[switch].count(rule, "acme", "calls", 1.0, now, states[switch].add(rule, "acme", "calls", 1.0, now))
        while not fleets[switch]._queue.empty():
            fleets[switch].handle(fleets[switch]._queue.get())

    original = fraud.STATE
    try:
        fraud.STATE = states[0]
        count(0)
        count(0)
        fraud.STATE = states[1]
        count(1)  # the fleet's third call: no level
        assert fraud_events(fake_freeswitch) == [("warn", "calls", "2")]
        count(1)  # the fourth, on switch 1: the fleet's block
        assert ("premium-burst", "acme") in states[1].blocks and ("premium-burst", "acme") not in states[0].blocks
        fleets[0].poll()  # switch 0 takes the block in from Redis
        assert states[0].blocks[("premium-burst", "acme")].until == now + 1800
        fraud.STATE = states[0]
        fraud._fleets["fleet"] = fleets[0]  # what fleet_of registers for the switch's rules
        assert fraud.unblock("acme").startswith("+OK unblocked premium-burst acme")
        fleets[0].handle(fleets[0]._queue.get(timeout=1))
        fleets[1].poll()
        assert states[1].blocks == {}

        redis.up = False  # Redis stopped: each switch judges its own counts, and says so once
        fraud.STATE = states[0]
        for _ in range(2):
            count(0)
        assert states[0].blocks[("premium-burst", "acme")].why.startswith("premium-burst block of acme reached calls (4/4)")
        lines = [m for level, m in fake_freeswitch.logs if "cannot reach Redis" in m]
        assert len(lines) == 1 and "no answer; the switch's log says why" in lines[0]
        assert redis.sent.count("INCRBYFLOAT") == 4 + 1  # one try, then none until RETRY_SECONDS have passed
        redis.up = True
        fleets[0]._retry_at = 0.0
        count(0)
        assert any("reach Redis again" in m for _, m in fake_freeswitch.logs)
    finally:
        fraud.STATE = original
        fraud._fleets.clear()


SIMULATED_RULES = """\
version: 1
accounts:
  key: accountcode
  max_cps: 5
routes:
  - {name: premium, match: {destination_number: '^(44900\\d+)$'}, gateway: gw1}
fraud:
  - name: night-premium
    routes: [premium]
    window: 1h
    calls: {warn: 20, block: 40}
    minutes: {warn: 30, block: 60}
    rate: 1.20
    for: 1h
"""


def test_simulate_plays_a_traffic_pattern_and_says_when_each_level_is_reached(capsys, write_rules, fake_freeswitch):
    from fsroute.tools.cli import main
    path = write_rules(SIMULATED_RULES)
    before = fraud.STATE
    # at a fixed instant: from now, the 110 s simulated could cross the hour the rule's window ends at
    assert main(["simulate", path, "--dest", "449001234", "--calls", "60", "--cps", "2", "--hold", "90",
                 "--account", "acme", "--at", "2026-12-07T12:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "bridged                40" in out and "fraud_blocked          20" in out
    assert out.split("fraud levels reached:\n")[1].splitlines() == [
        "  t=9.5s call 20: night-premium warn of acme, calls 20/20",
        "  t=19.5s call 40: night-premium block of acme, calls 40/40",
        "  t=99.5s a call ended: night-premium warn of acme, minutes 30.0/30 min",  # 20 calls of 90 s
        "  t=109.5s a call ended: night-premium block of acme, minutes 60.0/60 min"]
    assert fraud.STATE is before and fraud.STATE.blocks == {}  # the switch's own counts are left alone
    # from a whole second (mod_hash counts a window from the whole second of its first call): max_cps 5
    # refuses calls 6-10 of the first second
    assert main(["simulate", path, "--dest", "449001234", "--calls", "12", "--cps", "10", "--account", "acme",
                 "--at", "2026-12-07T12:00:00Z", "--json"]) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    assert report["results"] == {"bridged": 7, "over_limit": 5}
    assert report["levels"] == []


def test_counts_of_windows_that_are_over_are_dropped_as_keys_come(monkeypatch):
    monkeypatch.setattr(fraud, "PRUNE_AT", 3)
    state = fraud.FraudState()
    rule = FraudRule("r", 1, window=60.0, thresholds=(Threshold("calls", None, 100),))
    for number in range(3):
        state.add(rule, "acme/%d" % number, "calls", 1.0, 0.0)
    assert len(state.counts()) == 3
    state.add(rule, "acme/1", "calls", 1.0, 30.0)  # a known key, same window: nothing dropped
    state.add(rule, "acme/9", "calls", 1.0, 61.0)  # a new key in the next window: the old ones go
    assert state.counts() == [("r", "acme/9", "calls", 1.0)]


TABLE_RULES = """\
version: 1
tables:
  premium:
    file: premium.txt
    key: prefix
    header: false            # a plain list of prefixes, no action: a list for fraud rules to watch
routes:
  - name: out
    match: {destination_number: '^(\\d+)$'}
    gateway: gw1
fraud:
  - name: premium-table
    table: premium
    calls: {block: 2}
"""


def test_a_rule_naming_a_table_watches_the_numbers_with_a_row_in_the_loaded_table(switch, tmp_path, write_rules,
                                                                                   call):
    (tmp_path / "premium.txt").write_text("4490\n881\n")
    path = write_rules(TABLE_RULES)
    assert loader.load(path).fraud[0].table == "premium"
    results = [call(path, number).variables["fsroute_result"] for number in ("449001", "88123", "449002", "4412")]
    assert results == ["bridged", "bridged", "fraud_blocked", "bridged"]  # 4412 has no row: not watched
    # the generation's table decides, not the file as it is when a call comes: a row added just now is not
    # in it (nor a row taken out gone) until the file has settled and a reload has read it
    (tmp_path / "premium.txt").write_text("4412\n")
    results = [call(path, number, src="10.0.0.2").variables["fsroute_result"]
               for number in ("4412", "449003", "449004", "449005")]
    assert results == ["bridged", "bridged", "bridged", "fraud_blocked"]  # 4412 was not counted


def test_a_fraud_table_must_be_one_of_the_rules_tables_and_a_bare_list_routes_nothing():
    with pytest.raises(RulesError) as caught:
        loader.parse(TABLE_RULES.replace("table: premium\n", "table: premum\n"), "r.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "r.yaml:13:12: fraud rule 'premium-table': no table named 'premum' (did you mean 'premium'?)"]
    with pytest.raises(RulesError) as caught:
        loader.parse(TABLE_RULES.replace("    gateway: gw1\n", "    table: premium\n"), "r.yaml")
    assert "route 'out': table 'premium' has neither a target column nor an action" in str(caught.value)


def test_watching_a_table_without_rows_loaded_watches_nothing():
    rule = FraudRule("r", 1, thresholds=(Threshold("calls", None, 2),), table="premium")
    assert watching([rule], "out", "449001", None, lambda name: None, 0.0) == []
    assert watching([rule], "out", "449001", None) == []
