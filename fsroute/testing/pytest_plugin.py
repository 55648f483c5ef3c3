"""pytest fixtures for testing rules files without FreeSWITCH (entry point ``pytest11``).

- ``fake_freeswitch``: an installed FakeFreeSWITCH, removed after the test,
  with fsroute's loaded rules and gateway readings forgotten before and after.
- ``stub_session``: a factory, ``stub_session(variables, bridge_outcomes=None)``,
  making StubSessions bound to that fake.
"""

import pytest

from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state


@pytest.fixture
def fake_freeswitch():
    fake = FakeFreeSWITCH()
    reset_state()
    with fake:
        yield fake
    reset_state()


@pytest.fixture
def stub_session(fake_freeswitch):
    def make(variables=None, bridge_outcomes=None, **options):
        return StubSession(variables, bridge_outcomes, fake=fake_freeswitch, **options)
    return make
