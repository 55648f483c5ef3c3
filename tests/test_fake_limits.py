"""The stub's limit / limit_execute / limit_usage behave as mod_dptools, mod_hash and mod_hiredis do."""

import pytest


class Clock:
    def __init__(self):
        self.now = 1700000000.0

    def __call__(self):
        return self.now


@pytest.fixture
def session(fake_freeswitch, stub_session):
    fake_freeswitch.set_gateways("external", up=["gw1"])
    return lambda: stub_session({"destination_number": "1"})


def test_limit_holds_until_hangup_and_refuses_with_the_given_cause(fake_freeswitch, session):
    first, second = session(), session()
    first.execute("limit", "hash realm trunk 1 !USER_BUSY")
    first.execute("limit", "hash realm trunk 1 !USER_BUSY")  # the same channel counts once
    assert fake_freeswitch.api("limit_usage hash realm trunk") == "1"
    assert first.variables["limit_usage"] == "1"
    second.execute("limit", "hash realm trunk 1 !USER_BUSY")
    assert second.hangup_cause == "USER_BUSY"
    first.hangup()
    assert fake_freeswitch.api("limit_usage hash realm trunk") == "0"


def test_limit_without_a_cause_transfers_to_limit_exceeded(session):
    first, second = session(), session()
    first.execute("limit", "hash realm trunk 1")
    second.execute("limit", "hash realm trunk 1")
    second.execute("limit", "hash realm trunk 1 over_extension")
    assert second.transfers == ["limit_exceeded", "over_extension"] and second.ready()


def test_limit_execute_runs_the_app_only_below_the_limit_and_releases_after_it(fake_freeswitch, session):
    held, other = session(), session()
    held.stay_up = True
    held.execute("limit_execute", "hash realm trunk 1 bridge sofia/gateway/gw1/1")
    assert held.bridged() and fake_freeswitch.api("limit_usage hash realm trunk") == "1"
    other.execute("limit_execute", "hash realm trunk 1 bridge sofia/gateway/gw1/1")
    assert other.bridges == [] and other.ready()  # refused: nothing run, the caller stays
    held.hangup()
    other.execute("limit_execute", "hash realm trunk 1 bridge sofia/gateway/gw1/1")
    assert other.bridges == [("sofia/gateway/gw1/1", "SUCCESS")]
    assert fake_freeswitch.api("limit_usage hash realm trunk") == "0"  # back in the dialplan: released


def test_hash_rate_limit_counts_attempts_in_a_window(fake_freeswitch, session):
    fake_freeswitch.limits.clock = clock = Clock()
    allowed = []
    for _ in range(4):
        s = session()
        s.execute("limit", "hash realm rate 2/10 !USER_BUSY")
        allowed.append(s.ready())
    assert allowed == [True, True, False, False]
    clock.now += 10
    s = session()
    s.execute("limit", "hash realm rate 2/10 !USER_BUSY")
    assert s.ready()


def test_a_hash_rate_window_starts_at_the_whole_second_of_its_first_attempt(fake_freeswitch, session):
    # mod_hash counts in time_t: a 5/4 window opened at 1000.9 is over at 1004.0, not at 1004.9 (the real
    # switch let 7 of 10 SIPp calls at 10 per 4 s through 5/4)
    fake_freeswitch.limits.clock = clock = Clock()
    clock.now = 1000.9
    allowed = []
    for _ in range(10):
        s = session()
        s.execute("limit", "hash realm rate 5/4 !USER_BUSY")
        allowed.append(s.ready())
        clock.now += 0.4
    assert allowed == [True] * 5 + [False] * 3 + [True] * 2


def test_hiredis_holds_a_concurrent_count_only_when_its_incr_answered_above_0(fake_freeswitch, session):
    # hiredis_limit_incr keeps a node to DECR at hangup only for count > 0: a key Redis lost (now below 0
    # as the calls up then hang up) heals as calls come, where a count held at -1 would stay wrong for good
    fake_freeswitch.limits.counts[("hiredis", "trunk")] = -2
    usage = []
    for _ in range(3):
        s = session()
        s.execute("limit", "hiredis p trunk 5 !USER_BUSY")
        s.hangup()
        usage.append(fake_freeswitch.api("limit_usage hiredis p trunk"))
    assert usage == ["-1", "0", "0"]


def test_hiredis_keys_are_bare_resources_and_max_zero_is_no_limit(fake_freeswitch, session):
    fake_freeswitch.limits.clock = Clock()
    calls = [session() for _ in range(3)]
    for s in calls:
        s.execute("limit", "hiredis profile_a trunk 0 !USER_BUSY")
    assert [s.ready() for s in calls] == [True] * 3
    assert fake_freeswitch.api("limit_usage hiredis profile_b trunk") == "3"
    over = session()
    over.execute("limit", "hiredis profile_a trunk 3 !USER_BUSY")
    assert over.hangup_cause == "USER_BUSY" and over.variables["hiredis_limit_exceeded"] == "true"
    assert fake_freeswitch.api("limit_usage hiredis profile_a trunk") == "3"
    rated = session()
    rated.execute("limit", "hiredis profile_a trunk 5/60 !USER_BUSY")
    assert fake_freeswitch.limits.counts[("hiredis", "trunk_%d" % (1700000000 // 60))] == 1


def test_hiredis_leaves_its_incr_answer_and_a_dash_counts_without_refusing(fake_freeswitch, session):
    calls = [session() for _ in range(3)]
    for s in calls:
        s.execute("limit", "hiredis p watched - !USER_BUSY")
    assert [(s.ready(), s.variables["hiredis_raw_response"]) for s in calls] == [(True, "1"), (True, "2"), (True, "3")]
    calls[0].hangup()
    assert fake_freeswitch.api("limit_usage hiredis p watched") == "2"


def test_hiredis_without_redis(fake_freeswitch, session):
    fake_freeswitch.limits.redis_up = False
    s = session()
    s.execute("limit_execute", "hiredis p trunk 5 bridge sofia/gateway/gw1/1")
    assert s.bridges == [] and "hiredis_limit_exceeded" not in s.variables
    assert fake_freeswitch.api("limit_usage hiredis p trunk") == "-1"
    fake_freeswitch.limits.ignore_connect_fail = True
    s.execute("limit_execute", "hiredis p trunk 5 bridge sofia/gateway/gw1/1")
    assert s.bridges == [("sofia/gateway/gw1/1", "SUCCESS")]
