"""pytest fixtures for testing rules files without FreeSWITCH (entry point ``pytest11``).

- ``fake_freeswitch``: an installed FakeFreeSWITCH, removed after the test,
  with fsroute's loaded rules and gateway readings forgotten before and after.
- ``stub_session``: a factory, ``stub_session(variables, bridge_outcomes=None)``,
  making StubSessions bound to that fake.

When a test using them fails, the ERROR lines fsroute logged (a rules file
that did not load, a crash) are shown in the report under "fsroute ERROR log":
without them a broken rules file only shows as calls that did not route.
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Iterator, Mapping, Optional

import pytest

from fsroute.runtime.fslog import ERROR
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    fake = getattr(item, "funcargs", {}).get("fake_freeswitch")
    if report.failed and isinstance(fake, FakeFreeSWITCH):
        errors = fake.log_lines(ERROR)
        if errors:
            report.sections.append(("fsroute ERROR log", "\n".join(errors)))
