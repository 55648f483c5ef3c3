"""Shared helpers for fsroute's own tests (the fixtures fake_freeswitch and
stub_session come from fsroute's pytest plugin, as they do for users)."""

import textwrap

import pytest


@pytest.fixture
def write_rules(tmp_path):
    """write_rules(text, name="rules.yaml") -> path of a rules file holding ``text`` (dedented)."""
    def write(text, name="rules.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


@pytest.fixture
def call(fake_freeswitch, stub_session):
    """call(rules_path, dest, src="172.16.221.33", **variables) -> the StubSession after routing."""
    from fsroute import route

    def run(rules_path, dest, src="172.16.221.33", bridge_outcomes=None, **variables):
        values = {"destination_number": dest, "caller_id_number": "1000"}
        if src is not None:
            values["network_addr"] = src
        values.update(variables)
        session = stub_session(values, bridge_outcomes)
        route.handler(session, rules_path)
        return session
    return run


class FakeClock:
    """The runtime's clock (fsroute.runtime.clock), moved by hand: tests advance it instead of sleeping."""

    def __init__(self, start=1000.0):
        self.now = start
        self.wall = 1.7e9

    def monotonic(self):
        return self.now

    def time(self):
        return self.wall

    def advance(self, seconds):
        self.now += seconds
        self.wall += seconds


@pytest.fixture
def clock():
    return FakeClock()
