"""``fsroute import --blacklist``: mod_blacklist's lists -> blocklist tables checked before routing.

mod_blacklist (src/mod/applications/mod_blacklist/mod_blacklist.c) reads
``<lists><list name=".." filename=".."/></lists>`` from its configuration
and each file one entry a line (the line end cut off, nothing else), and
``blacklist check NAME ITEM`` is true when ITEM is one of them, exactly.
Dialplans ask it of the caller ID (``${blacklist(check NAME
${caller_id_number})}``), so each list becomes a table read straight from
the same file (``header: false``, ``key: exact``), checked on
``caller_id_number`` by a route that hangs up with CALL_REJECTED; a number
not in the list goes on to the next route. fsroute's tables hold numbers
(one leading '+' is not part of them): an entry that is not one is reported,
and the table refuses to load until it is gone.

The argument is the configuration (XML) or one list file, which becomes a
list named after it.
"""

from __future__ import annotations

import os
import re
from typing import List, NamedTuple, Tuple

from fsroute.core.rowfile import is_digits
from .legacy import ConfigError, Report, _list_elements
from .render import _scalar

ACTION = "hangup:CALL_REJECTED"
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


class BlacklistImport(NamedTuple):
    text: str             # the rules file
    reports: List[str]    # what could not be carried over, one line each


def import_blacklist(path: str) -> BlacklistImport:
    """The rules text for mod_blacklist's configuration (or one list file) at ``path``."""
    reports: List[str] = []
    lists: List[Tuple[str, str]] = []
    if _is_xml(path):
        elements, notes = _list_elements(path, "lists")
        reports += [str(note) for note in notes]
        for element in elements:
            name, filename = element.attrs.get("name", ""), element.attrs.get("filename", "")
            if not name or not filename:
                reports.append(str(Report(path, element.line, "a list without a name or filename: not imported "
                                          "(mod_blacklist skips it too)")))
                continue
            lists.append((name, os.path.join(os.path.dirname(os.path.abspath(path)), filename)))
    else:
        lists.append((os.path.splitext(os.path.basename(path))[0], os.path.abspath(path)))
    out = ["version: 1", "# from mod_blacklist (%s): each list is checked on the caller ID before any other route;"
           % path, "# put these tables and routes ahead of your own", "tables:"]
    routes = ["routes:"]
    used = set()
    for name, filename in lists:
        table = _NAME_RE.sub("_", name)[:64] or "blacklist"
        if table in used:
            reports.append("list %r: a second list of that name: not imported" % name)
            continue
        used.add(table)
        reports += _check_entries(filename, name)
        out += ["  %s:" % table, "    file: %s" % _scalar(filename), "    key: exact", "    header: false",
                "    action: %s" % _scalar(ACTION)]
        routes += ["  - name: %s" % _scalar("blacklist %s" % table), "    number: '${caller_id_number}'",
                   "    table: %s" % table]
    if not lists:
        raise ConfigError(path, 0, "no list to import:\n  %s" % "\n  ".join(reports))
    return BlacklistImport("\n".join(out + routes) + "\n", reports)


def _is_xml(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(512).lstrip().startswith(b"<")
    except OSError as exc:
        raise ConfigError(path, 0, "cannot read the file: %s" % (exc.strerror or exc)) from None


def _check_entries(filename: str, name: str) -> List[str]:
    """What fsroute's table would refuse in list ``name``'s file, one line each (at most a few)."""
    out: List[str] = []
    try:
        with open(filename, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                entry = line.rstrip("\r\n").strip()
                if entry and not is_digits(entry[1:] if entry[:1] == "+" else entry):
                    out.append(str(Report(filename, number, "list %r: entry %r is not a number: the table refuses "
                                          "to load until it is removed (block it with a route matching "
                                          "caller_id_number instead)" % (name, entry[:40]))))
                    if len(out) >= 5:
                        break
    except OSError as exc:
        out.append("%s: list %r: cannot read the file: %s" % (filename, name, exc.strerror or exc))
    return out
