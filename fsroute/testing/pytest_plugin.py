"""pytest fixtures for testing rules files without FreeSWITCH (entry point ``pytest11``).

- ``fake_freeswitch``: an installed FakeFreeSWITCH, removed after the test,
  with fsroute's loaded rules and gateway readings forgotten before and after.
- ``stub_session``: a factory, ``stub_session(variables, bridge_outcomes=None)``,
  making StubSessions bound to that fake.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, Optional

import pytest

from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state


@pytest.fixture
def fake_freeswitch() -> Iterator[FakeFreeSWITCH]:
    fake = FakeFreeSWITCH()
    reset_state()
    with fake:
        yield fake
    reset_state()


@pytest.fixture
def stub_session(fake_freeswitch: FakeFreeSWITCH) -> Callable[..., StubSession]:
    def make(variables: Optional[Mapping[str, object]] = None, bridge_outcomes: Optional[Mapping[str, str]] = None,
             **options: Any) -> StubSession:
        return StubSession(variables, bridge_outcomes, fake=fake_freeswitch, **options)
    return make
