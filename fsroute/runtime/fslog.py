"""Log lines through FreeSWITCH's console log, or stderr outside FreeSWITCH.

The ``freeswitch`` module is looked up when a line is written, not at import,
so a fake installed by tests after import is used too.
"""

import sys

ERROR, WARNING, INFO = "err", "warning", "info"


def log(level, message):
    """Write one line at ``level`` ("err", "warning", "info", "debug")."""
    freeswitch = sys.modules.get("freeswitch")
    if freeswitch is None:
        try:
            import freeswitch  # noqa: F401  (only present inside FreeSWITCH)
        except ImportError:
            freeswitch = None
    if freeswitch is not None:
        freeswitch.consoleLog(level, message + "\n")
    else:
        sys.stderr.write("[%s] %s\n" % (level.upper(), message))


def api(command):
    """Run a FreeSWITCH API command (``freeswitch.API().executeString``) and return its output."""
    import freeswitch
    return freeswitch.API().executeString(command)
