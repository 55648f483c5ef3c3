"""The documentation's pytest example runs as written, and a failing test shows fsroute's ERROR lines."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTING_DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def example():
    """The python block of docs/testing.md that is a test file."""
    blocks = re.findall(r"```python\n(.*?)```", TESTING_DOC.read_text(), re.S)
    [block] = [b for b in blocks if "def test_" in b]
    return block


@pytest.fixture(scope="module")
def pytest_run(tmp_path_factory):
    """One pytest process over the example as written and over a copy whose rules do not load."""
    directory = tmp_path_factory.mktemp("example")
    source = example()
    assert "group: carriers\n" in source
    (directory / "test_as_written.py").write_text(source)
    (directory / "test_broken_rules.py").write_text(source.replace("group: carriers\n", "group: carrier\n"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider"],
                            cwd=str(directory), capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


def test_the_documented_example_passes_as_written(pytest_run):
    assert "PASSED test_as_written.py::test_premium_numbers_go_to_gw1" in pytest_run
    assert "PASSED test_as_written.py::test_failover_when_gw2_rejects" in pytest_run


def test_a_failing_test_shows_fsroutes_error_lines(pytest_run):
    assert "2 failed, 2 passed" in pytest_run
    sections = re.findall(r"-+ fsroute ERROR log -+\n(.*?)\n", pytest_run)
    assert len(sections) == 2
    assert all(re.match(r"fsroute: \S+fsroute\.yaml:\d+:\d+: route 'default': no group named 'carrier' "
                        r"\(did you mean 'carriers'\?\)", line) for line in sections), sections
