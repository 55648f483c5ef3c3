"""Gateway states: gwlist parsing, one reading per TTL, unknown means up."""

import threading

import pytest

from fsroute.runtime.gateways import GatewayStates, parse_gwlist


@pytest.mark.parametrize("text, expected", [
    ("gw2 gw1 ", frozenset({"gw1", "gw2"})),
    ("", frozenset()),
    ("gw1 ", frozenset({"gw1"})),
    ("Invalid Profile [external]", None),
    ("-ERR no reply", None),
    ("<html>garbage</html>", None),
    (None, None),
    (42, None),
])
def test_parse_gwlist(text, expected):
    assert parse_gwlist(text) == expected


def test_one_reading_per_ttl_per_profile(fake_freeswitch):  # a real clock: 60 s never pass here
    fake_freeswitch.set_gateways("external", up=["gw1"], down=["gw2"])
    fake_freeswitch.set_gateways("internal", down=["gw3"])
    states = GatewayStates(ttl=60, timeout=1)
    for _ in range(50):
        assert states.down("external") == {"gw2"}
        assert states.down("internal") == {"gw3"}
    assert sorted(fake_freeswitch.api_calls) == ["sofia profile external gwlist down",
                                                 "sofia profile internal gwlist down"]


def test_readings_expire_after_the_ttl(fake_freeswitch, clock):
    fake_freeswitch.set_gateways("external", down=["gw2"])
    states = GatewayStates(ttl=2, timeout=1, clock=clock)
    assert states.down("external") == {"gw2"}
    fake_freeswitch.set_gateways("external", down=[])
    clock.advance(1.9)
    assert states.down("external") == {"gw2"}
    clock.advance(0.2)
    assert states.down("external") == frozenset()
    assert len(fake_freeswitch.api_calls) == 2


def test_failures_mean_unknown_and_warn_once_per_ttl(fake_freeswitch):
    fake_freeswitch.answers["sofia profile external gwlist down"] = RuntimeError("boom")
    states = GatewayStates(ttl=60, timeout=1)
    assert [states.down("external") for _ in range(10)] == [None] * 10
    warnings = fake_freeswitch.log_lines("warning")
    assert len(warnings) == 1 and "RuntimeError: boom" in warnings[0]


def test_a_hung_reading_is_bounded_by_the_timeout(fake_freeswitch):
    release = threading.Event()
    fake_freeswitch.answers["sofia profile external gwlist down"] = lambda cmd: release.wait(5) and "gw1 "
    states = GatewayStates(ttl=60, timeout=0.05)
    try:
        assert states.down("external") is None
        assert states.down("external") is None  # cached as unknown: no second wait
        assert len(fake_freeswitch.log_lines("warning")) == 1
    finally:
        release.set()
