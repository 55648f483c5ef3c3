"""Is the Python FreeSWITCH embeds the one it should be? (DESIGN fact 13)

With another Python installation first on FreeSWITCH's PATH, the embedded
interpreter can run that installation's standard library, ``import
freeswitch`` fails, and mod_python3 hands every call's session over as a
bare SWIG pointer. Every call then fails; this module says why, where the
operator looks (the FreeSWITCH log, ``fsroute.ctl status``).
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

FIX = ("start FreeSWITCH with a PATH whose first python3 is the distribution's "
       "(e.g. PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) and no PYTHONHOME")
LOG_EVERY = 10.0  # seconds between two reports of bare sessions

_lock = threading.Lock()
_bare: Dict[str, Any] = {"count": 0, "logged_at": None}


def freeswitch_import_error() -> Optional[str]:
    """None when ``import freeswitch`` works here, else the error as text."""
    if "freeswitch" in sys.modules:
        return None
    try:
        import freeswitch  # noqa: F401
    except Exception as exc:  # ImportError, or whatever a foreign stdlib raises
        return "%s: %s" % (type(exc).__name__, exc)
    return None


def is_bare_session(session: Any) -> bool:
    """True for a session that is not a freeswitch.Session (a bare SwigPyObject)."""
    return not hasattr(session, "getVariable")


def describe_bare(session: Any, what: str = "call's session", expected: str = "freeswitch.Session") -> str:
    """The error line for a call whose session (or an API call's stream) arrived bare."""
    error = freeswitch_import_error() or "import freeswitch worked, yet it is a %s" % type(session).__name__
    return ("fsroute: the %s is a bare %s, not a %s: FreeSWITCH's embedded "
            "Python could not import the freeswitch module (%s; python %s, sys.prefix=%s). Every call "
            "fails until you %s." % (what, type(session).__name__, expected, error, platform.python_version(),
                                     sys.prefix, FIX))


def report_bare_session(session: Any, log: Callable[[str], None]) -> None:
    """Count a bare session; log the error line at most once per LOG_EVERY seconds."""
    now = time.monotonic()
    with _lock:
        _bare["count"] += 1
        last = _bare["logged_at"]
        if last is not None and now - last < LOG_EVERY:
            return
        _bare["logged_at"] = now
        count = _bare["count"]
    log(describe_bare(session) + " (%d such call%s so far)" % (count, "" if count == 1 else "s"))


def bare_sessions() -> int:
    with _lock:
        count: int = _bare["count"]
    return count


def libpython() -> Optional[str]:
    """The path of the libpython this process runs (Linux: /proc/self/maps), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").split(" ", 5)[-1].strip()
                if "/libpython3" in path:
                    return path
    except (OSError, ValueError):
        pass
    return None


def library_prefix(path: str) -> str:
    """The installation prefix of a libpython path: /usr for /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0."""
    head = path.rsplit("/lib/", 1)[0] if "/lib/" in path else os.path.dirname(path)
    return head or "/usr"


def report_lines() -> List[str]:
    """fsroute's and Python's identity, for ``fsroute.ctl status``."""
    import fsroute
    lines = ["fsroute: %s from %s" % (fsroute.__version__, os.path.dirname(os.path.abspath(fsroute.__file__))),
             "python: %s sys.prefix=%s" % (platform.python_version(), sys.prefix)]
    error = freeswitch_import_error()
    library = libpython()
    lines.append("python library: %s, stdlib %s" % (library or "unknown", os.path.dirname(os.__file__)))
    lines.append("freeswitch module: %s" % ("importable" if error is None else "NOT importable (%s)" % error))
    if library and os.path.realpath(library_prefix(library)) != os.path.realpath(sys.base_prefix):
        lines.append("PROBLEM: sys.base_prefix %s is not the prefix of %s: this Python runs another "
                     "installation's standard library; %s" % (sys.base_prefix, library, FIX))
    if error is not None:
        lines.append("PROBLEM: the freeswitch module is not importable; %s" % FIX)
    count = bare_sessions()
    if count:
        lines.append("PROBLEM: %d call(s) arrived with a bare session and failed; %s" % (count, FIX))
    return lines
