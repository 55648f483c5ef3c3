"""Log lines through FreeSWITCH's console log, or stderr outside FreeSWITCH.

The ``freeswitch`` module is looked up when a line is written, not at import,
so a fake installed by tests after import is used too.
"""

import sys

ERROR, WARNING, NOTICE, INFO = "err", "warning", "notice", "info"


def module():
    """The ``freeswitch`` module, or None outside FreeSWITCH."""
    freeswitch = sys.modules.get("freeswitch")
    if freeswitch is None:
        try:
            import freeswitch  # noqa: F401  (only present inside FreeSWITCH)
        except ImportError:
            return None
    return freeswitch


def log(level, message):
    """Write one line at ``level`` ("err", "warning", "notice", "info", "debug")."""
    freeswitch = module()
    if freeswitch is not None:
        freeswitch.consoleLog(level, message + "\n")
    else:
        sys.stderr.write("[%s] %s\n" % (level.upper(), message))


def api(command):
    """Run a FreeSWITCH API command (``freeswitch.API().executeString``) and return its output."""
    import freeswitch
    return freeswitch.API().executeString(command)
