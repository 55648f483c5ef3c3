"""Shared helpers for fsroute's own tests (the fixtures fake_freeswitch and
stub_session come from fsroute's pytest plugin, as they do for users)."""

import os
import textwrap
import time

import pytest
from hypothesis import settings

# The default run stays quick; CI exports HYPOTHESIS_PROFILE=ci for the thorough one (budget.py).
settings.register_profile("default", max_examples=50)
settings.register_profile("ci", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
        self.wall = time.time()  # files written by the test have real mtimes

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
