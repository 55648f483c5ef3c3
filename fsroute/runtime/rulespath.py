"""Which rules file a call or a control command uses, first found:
the app's args, channel variable ``fsroute_rules``, global variable ``fsroute_rules``,
environment ``FSROUTE_RULES``, ``${conf_dir}/fsroute.yaml``."""

from __future__ import annotations

import os
from typing import Any, Optional

from .fslog import module


def rules_path(session: Any, args: Optional[str]) -> str:
    """Where this call's rules live: args, channel var, then ``default_rules_path()``."""
    path = (args or "").strip()
    if path:
        return path
    return session.getVariable("fsroute_rules") or default_rules_path()


def default_rules_path() -> str:
    """The rules file without a call: global var fsroute_rules, $FSROUTE_RULES, ${conf_dir}/fsroute.yaml."""
    freeswitch = module()
    if freeswitch is not None:
        path = freeswitch.getGlobalVariable("fsroute_rules")
        if path:
            return path
    path = os.environ.get("FSROUTE_RULES")
    if path:
        return path
    conf_dir = freeswitch.getGlobalVariable("conf_dir") if freeswitch is not None else None
    return os.path.join(conf_dir or "/etc/freeswitch", "fsroute.yaml")
