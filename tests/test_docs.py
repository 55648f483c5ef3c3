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
    assert "PASSED test_as_written.py::test_international_calls_go_to_the_cheapest_carrier" in pytest_run


def test_a_failing_test_shows_fsroutes_error_lines(pytest_run):
    assert "3 failed, 3 passed" in pytest_run
    sections = re.findall(r"-+ fsroute ERROR log -+\n(.*?)\n", pytest_run)
    assert len(sections) == 3
    assert all(re.match(r"fsroute: \S+fsroute\.yaml:\d+:\d+: route 'default': no group named 'carrier' "
                        r"\(did you mean 'carriers'\?\)", line) for line in sections), sections


README = TESTING_DOC.parent.parent / "README.md"
OPERATIONS_DOC = TESTING_DOC.parent / "operations.md"


def test_the_readme_says_how_to_run_check_on_the_switch(tmp_path):
    """The README's command runs against a pip --target style scripts dir, with no site-packages at all."""
    import cachetools
    import yaml

    import fsroute

    [line] = [l for l in README.read_text().splitlines() if "python3 -m fsroute check" in l]
    found = re.match(r"PYTHONPATH=(\S+) python3 -m fsroute check (\S+)\Z", line.strip())
    assert found, line
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for module in (fsroute, yaml, cachetools):
        (scripts / module.__name__).symlink_to(Path(module.__file__).parent)
    rules = Path(__file__).resolve().parent.parent / "examples" / "rules.yaml"
    result = subprocess.run([sys.executable, "-S", "-m", "fsroute", "check", str(rules)],
                            env={"PYTHONPATH": str(scripts)}, cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("OK: %s: 2 routes" % rules)


def test_the_control_api_doc_and_the_usage_line_agree():
    from fsroute import ctl

    forms = ctl.USAGE.split("python fsroute.ctl ", 1)[1].split("  (", 1)[0].split(" | ")
    assert forms == ["reload [RULES]", "status [RULES]", "check [RULES]",
                     "test <destination> [<source-ip> [<caller>]] [at=INSTANT] [NAME=VALUE...]", "metrics",
                     "drain|disable GATEWAY [reason...]", "enable GATEWAY", "fraud status", "fraud unblock ACCOUNT"]
    text = OPERATIONS_DOC.read_text()
    assert all("`%s`" % form in text for form in forms)


def test_the_readme_lcr_example_is_the_bundled_one_and_prints_what_it_shows(capsys):
    from fsroute.tools.cli import main

    section = README.read_text().split("### Least-cost routing", 1)[1].split("\n## ", 1)[0]
    yaml_block, command, output = re.findall(r"```(?:yaml|sh|)\n(.*?)```", section, re.S)
    example = (README.parent / "examples" / "lcr.yaml").read_text()
    assert yaml_block in example
    argv = command.split()
    assert argv[:3] == ["fsroute", "lcr", "examples/lcr.yaml"]
    assert main(argv[1:2] + [str(README.parent / argv[2])] + argv[3:]) == 0
    assert capsys.readouterr().out == output


def test_the_deployment_commands_build_outside_the_checkout_and_replace_an_earlier_install():
    # `pip install --target DIR .` leaves build/ in the checkout, and a later install packs its stale
    # modules; without --upgrade a second install into DIR keeps the old fsroute.
    for doc in (README, OPERATIONS_DOC, README.parent / "fs_scripts" / "README.md"):
        installs = [line for line in doc.read_text().splitlines()
                    if line.startswith("python3 -m pip install") and "--target" in line]
        assert installs, doc
        for line in installs:
            words = line.split("#", 1)[0].split()
            assert "--upgrade" in words, (doc.name, line)
            assert words[-1] == '"git+file://$PWD"' or words[-1].endswith((".whl", ".tar.gz")), (doc.name, line)
