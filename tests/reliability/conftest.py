"""Shared pieces of the reliability suite (issue 5).

- ``tried``: a session-wide Counter; each test adds the inputs it tried to
  its category, and the totals are printed at the end of the run (the table
  in README.md is made from them).
- every test starts and ends with fsroute's state forgotten
  (``fsroute.testing.reset_state``), so loaded rules, round-robin positions
  and gwlist readings never leak between tests.
- every test here is marked ``reliability``, and an exception dying in a
  thread (a gwlist reader, a reload) fails the test that caused it.
- helpers live in reliability_helpers.py (a uniquely named module: this
  folder has no __init__.py).
"""

import pytest

from fsroute.testing import reset_state
from reliability_helpers import CATEGORIES, TRIED


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent.name == "reliability":
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.filterwarnings(
                "error::pytest.PytestUnhandledThreadExceptionWarning"))


@pytest.fixture(scope="session")
def tried():
    return TRIED


@pytest.fixture(autouse=True)
def _clean_fsroute_state():
    reset_state()
    yield
    reset_state()


def pytest_terminal_summary(terminalreporter):
    if not TRIED:
        return
    terminalreporter.section("fsroute reliability: inputs tried")
    for key, title in CATEGORIES:
        if key in TRIED:
            terminalreporter.write_line("%-34s %10d" % (title, TRIED[key]))
