"""The embedded-environment report and the bare-SWIG-session detection (DESIGN fact 13).

A switch with the wrong python3 first on PATH hands fsroute bare SwigPyObjects
instead of sessions; tests/integration/test_environment.py reproduces that in
a real FreeSWITCH, these check the detection without one.
"""

import pytest

from fsroute import ctl, route
from fsroute.runtime import embedded


class SwigPyObject:
    """What mod_python3 passes when `import freeswitch` failed: a pointer with no methods."""


@pytest.fixture(autouse=True)
def fresh_counter():
    embedded._bare.update(count=0, logged_at=None)
    yield
    embedded._bare.update(count=0, logged_at=None)


def test_bare_session_is_reported_once_with_the_fix_and_counted(fake_freeswitch):
    route.handler(SwigPyObject(), "/nonexistent.yaml")
    route.handler(SwigPyObject(), "/nonexistent.yaml")
    [line] = fake_freeswitch.log_lines("err")
    assert "bare SwigPyObject, not a freeswitch.Session" in line
    assert "PATH whose first python3 is the distribution's" in line and "(1 such call so far)" in line
    assert embedded.bare_sessions() == 2
    assert "PROBLEM: 2 call(s) arrived with a bare session and failed" in ctl.command("status")


def test_bare_api_stream_is_logged(fake_freeswitch):
    ctl.fsapi("na", SwigPyObject(), None, "status")
    [line] = fake_freeswitch.log_lines("err")
    assert "API stream is a bare SwigPyObject, not a freeswitch.Stream" in line


def test_status_names_fsroute_and_python(fake_freeswitch, tmp_path):
    import fsroute
    import os
    import platform
    import sys
    status = ctl.command("status %s" % (tmp_path / "rules.yaml"))
    assert "fsroute: %s from %s\n" % (fsroute.__version__, os.path.dirname(fsroute.__file__)) in status
    assert "python: %s sys.prefix=%s\n" % (platform.python_version(), sys.prefix) in status
    assert "freeswitch module: importable\n" in status
    assert "PROBLEM" not in status


@pytest.mark.parametrize("path, prefix", [
    ("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "/usr"),
    ("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0", "/root/.pyenv/versions/3.11.7"),
    ("/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "/usr"),
])
def test_library_prefix(path, prefix):
    assert embedded.library_prefix(path) == prefix
