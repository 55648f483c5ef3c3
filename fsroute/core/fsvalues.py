"""How FreeSWITCH itself reads a few kinds of string (switch_utils.h, libc).

The importer reads old configuration files with them, and the stub session
reads channel variables with them, exactly as the switch would.
"""

from __future__ import annotations

import re


def atoi(text: str | None) -> int:
    """C's atoi() as mod_distributor applies it to a weight: leading digits, else 0."""
    found = re.match(r"\s*([+-]?\d+)", text or "")
    return int(found.group(1)) if found else 0


def switch_true(text: str | None) -> bool:
    """FreeSWITCH's switch_true(): yes/on/true/t/enabled/active/allow or a non-zero number."""
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    return value.lstrip("+-").isdigit() and int(value) != 0
