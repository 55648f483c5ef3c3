"""Log lines through FreeSWITCH's console log, or stderr outside FreeSWITCH.

The ``freeswitch`` module is looked up when a line is written, not at import,
so a fake installed by tests after import is used too.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from fsroute.core.model import RulesError
from fsroute.core.text import describe_error, one_line

ERROR, WARNING, NOTICE, INFO = "err", "warning", "notice", "info"


def module() -> Any:
    """The ``freeswitch`` module, or None outside FreeSWITCH."""
    freeswitch: Any = sys.modules.get("freeswitch")
    if freeswitch is None:
        try:
            freeswitch = importlib.import_module("freeswitch")  # only present inside FreeSWITCH
        except ImportError:
            return None
    return freeswitch


def log(level: str, message: str) -> None:
    """Write one line at ``level`` ("err", "warning", "notice", "info", "debug")."""
    freeswitch = module()
    if freeswitch is not None:
        freeswitch.consoleLog(level, message + "\n")
    else:
        sys.stderr.write("[%s] %s\n" % (level.upper(), message))


def api(command: str) -> str:
    """Run a FreeSWITCH API command (``freeswitch.API().executeString``) and return its output."""
    import freeswitch
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
