"""The embedded Python as FreeSWITCH really starts it (DESIGN fact 13), in switches of their own."""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from .conftest import BASE_RULES
from .harness import Switch
from .harness.switch import CLEAN_PATH


@pytest.fixture
def other_switch(bundle, gateways, switch, workdirs):
    """make(path=..., without_freeswitch_py=False): a second switch sharing the session's install."""
    made = []

    def make(path=CLEAN_PATH, without_freeswitch_py=False):
        fs = Switch(bundle, workdirs("other"), gateways, BASE_RULES, path=path,
                    scripts_from=switch.dir("scripts"))
        if without_freeswitch_py:
            os.remove(os.path.join(fs.dir("scripts"), "freeswitch.py"))
        made.append(fs)
        return fs.start()
    yield make
    for fs in made:
        fs.stop()


def another_python(tmp_path):
    """A bin/ dir whose python3 belongs to another installation than the distribution's.

    The Python running the tests if it is not the distribution's (pyenv on
    the CI machine), else a copy of the distribution's binary in a prefix of
    its own whose lib/python3.X points at the distribution's stdlib.
    """
    bin_dir = tmp_path / "otherbin"
    bin_dir.mkdir()
    system = os.path.realpath(shutil.which("python3", path=CLEAN_PATH))
    mine = os.path.realpath(os.path.join(sys.base_prefix, "bin", "python3"))
    if os.path.exists(mine) and mine != system:
        os.symlink(mine, str(bin_dir / "python3"))
        return str(bin_dir)
    prefix = tmp_path / "otherprefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    shutil.copy(system, str(prefix / "bin" / "python3"))
    stdlib = os.path.dirname(os.__file__) if sys.base_prefix == "/usr" else "/usr/lib/python3.%d" % sys.version_info[1]
    os.symlink(stdlib, str(prefix / "lib" / os.path.basename(stdlib)))
    return str(prefix / "bin")


def test_wrong_python_first_on_path_is_reported(other_switch, workdirs):
    import pathlib
    fs = other_switch(path=another_python(pathlib.Path(workdirs("python"))) + ":" + CLEAN_PATH)
    status = fs.fs_cli("python fsroute.ctl status %s" % fs.rules_path)
    assert "\nPROBLEM: sys.base_prefix " in status, status
    assert "start FreeSWITCH with a PATH whose first python3 is the distribution's" in status
    problem = [l for l in fs.log_text(since_start=True).splitlines() if "[ERR]" in l and "PROBLEM" in l]
    assert len(problem) == 1 and "sys.base_prefix" in problem[0]  # the start-up preload said it in the log


def test_bare_swig_session_is_reported_in_the_log(other_switch, fs):
    # Without freeswitch.py on its path, `import freeswitch` fails in the switch and
    # mod_python3 passes sessions and streams as bare SwigPyObjects: the state the
    # wrong PATH led to (with this bundle the wrong PATH alone keeps freeswitch.py
    # importable from the scripts dir, so the import is broken directly).
    broken = other_switch(without_freeswitch_py=True)
    from .harness import Caller
    with Caller(broken.sip_address) as caller:
        results = [caller.call("91001") for _ in range(2)]
    assert all(r.code is not None and r.code >= 400 for r in results)
    assert fs.invites()["gw1"] == 0
    answer = broken.fs_cli("python fsroute.ctl status")
    assert "-ERR no reply" in answer  # nothing can reach fs_cli in this state...
    time.sleep(0.2)
    log = broken.log_text(since_start=True)
    errors = [l for l in log.splitlines() if "[ERR]" in l and "fsroute" in l]
    # ...so the log says it: the start-up check, the first call (not every call), the API call
    assert any("PROBLEM: the freeswitch module is not importable" in l for l in errors), errors
    calls = [l for l in errors if "call's session is a bare SwigPyObject" in l]
    assert len(calls) == 1 and "(1 such call so far)" in calls[0]
    assert "PATH whose first python3 is the distribution's" in calls[0]
    assert any("API stream is a bare SwigPyObject" in l for l in errors)
    assert "Traceback" not in log


def test_installing_again_replaces_what_an_earlier_install_left(tmp_path):
    # A reused work directory (the benchmarks keep theirs) must run the tree's code, not a stale copy.
    from .harness.switch import install_fsroute

    install_fsroute(str(tmp_path))
    installed = tmp_path / "fsroute" / "core" / "decks.py"
    installed.write_text("stale = True\n")
    install_fsroute(str(tmp_path))
    assert installed.read_text() == (Path(__file__).resolve().parents[2] / "fsroute" / "core" / "decks.py").read_text()
