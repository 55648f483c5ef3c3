"""Log lines through FreeSWITCH's console log, or stderr outside FreeSWITCH.

The ``freeswitch`` module is looked up when a line is written, not at import,
so a fake installed by tests after import is used too. ``talking_to`` points
one context (a tool's simulated calls, and the threads the runtime starts for
them) at an emulated switch instead, without touching ``sys.modules``. When it cannot be
imported inside FreeSWITCH (the wrong Python on its PATH, see embedded.py),
lines still reach FreeSWITCH's log through libfreeswitch's
``switch_log_printf``, found in the process itself.
"""

from __future__ import annotations

import contextvars
import importlib
import os
import sys
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

from fsroute.core.model import RulesError
from fsroute.core.text import describe_error, one_line

ERROR, WARNING, NOTICE, INFO = "err", "warning", "notice", "info"
_LEVELS: Dict[str, int] = {"err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
_native: List[Optional[Any]] = []  # [switch_log_printf or None], looked up once
_talking_to: contextvars.ContextVar[Any] = contextvars.ContextVar("fsroute_switch", default=None)


@contextmanager
def talking_to(switch_module: Any) -> Iterator[None]:
    """Within the block, this context's calls reach ``switch_module`` (an emulated switch's
    ``freeswitch`` module) rather than the process's ``freeswitch``; other threads are not affected."""
    token = _talking_to.set(switch_module)
    try:
        yield
    finally:
        _talking_to.reset(token)


def module() -> Any:
    """The ``freeswitch`` module this context talks to (see talking_to), or None outside FreeSWITCH."""
    freeswitch: Any = _talking_to.get()
    if freeswitch is not None:
        return freeswitch
    freeswitch = sys.modules.get("freeswitch")
    if freeswitch is None:
        try:
            freeswitch = importlib.import_module("freeswitch")  # only present inside FreeSWITCH
        except ImportError:
            return None
    return freeswitch


def switch_running() -> bool:
    """False once FreeSWITCH is shutting down (background threads end then); True outside it."""
    freeswitch = module()
    return freeswitch is None or bool(freeswitch.running())


def survive(failed: str, step: Callable[[], None]) -> None:
    """Run one step of a background thread; an exception is one WARNING ("fsroute: ``failed``: why")
    and the thread goes on: one bad step must not end a thread nothing restarts."""
    try:
        step()
    except Exception as exc:
        log(WARNING, "fsroute: %s: %s" % (failed, describe_error(exc, 120)))


def log(level: str, message: str) -> None:
    """Write one line at ``level`` ("err", "warning", "notice", "info", "debug")."""
    freeswitch = module()
    if freeswitch is not None:
        freeswitch.consoleLog(level, message + "\n")
    elif not _native_log(level, message):
        sys.stderr.write("[%s] %s\n" % (level.upper(), message))


def _native_log(level: str, message: str) -> bool:
    """switch_log_printf from the running process, if this is one; True when written."""
    if not _native:
        try:
            import ctypes
            _native.append(ctypes.CDLL(None).switch_log_printf)
        except Exception:  # not inside FreeSWITCH, or no ctypes
            _native.append(None)
    printf = _native[0]
    if printf is None:
        return False
    try:
        import ctypes
        printf(ctypes.c_int(0), b"fsroute", b"log", ctypes.c_int(0), None,
               ctypes.c_int(_LEVELS.get(level, 6)), b"%s\n", message.encode("utf-8", "replace"))
    except Exception:
        return False
    return True


def api(command: str) -> str:
    """Run a FreeSWITCH API command (``freeswitch.API().executeString``) and return its output."""
    freeswitch = module()
    if freeswitch is None:
        raise ImportError("no freeswitch module: not inside FreeSWITCH")
    return freeswitch.API().executeString(command)


def describe(exc: BaseException) -> str:
    """What went wrong, on one line: the exception and where it was raised."""
    if isinstance(exc, RulesError):
        return "no usable rules: %s" % one_line(str(exc.problems[0]), 400)
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = " at %s:%d" % (os.path.basename(frame.tb_frame.f_code.co_filename), frame.tb_lineno) if frame else ""
    return describe_error(exc) + where
