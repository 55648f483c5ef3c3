"""``fsroute import --dids-table DIR``: thousands of per-DID extensions become one number table.

A dialplan that routes each DID with its own extension (``^15551230001$``
-> bridge to a gateway) imports as thousands of routes: slow to load and to
read. A run of at least FOLD_AT consecutive such routes (a destination that
is one literal number, a gateway, group or hang-up, no other condition, acl,
time, variable or note) becomes one exact table written to DIR and one
``table:`` route where the run stood. First match wins as before: the DIDs
are distinct numbers, a number without a row goes on to the route after
the run, and a DID listed twice keeps its first extension (reported: the
second never took a call).
"""

from __future__ import annotations

import csv
import os
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from .importer import RouteSpec
from .legacy import ConfigError, Report

FOLD_AT = 10
_LITERAL_RE = re.compile(r"\^(\d{1,15})\$\Z")
_PLAIN_NUMBER_RE = re.compile(r"[0-9A-Za-z+*#._-]{1,64}\Z")


class DidTable(NamedTuple):
    name: str
    path: str       # the CSV written
    rows: int


def fold_dids(routes: Sequence[RouteSpec], directory: str, reports: List[Report]
              ) -> Tuple[List[RouteSpec], List[DidTable]]:
    """(the routes with each long run of per-DID routes replaced by one table route, the tables written)."""
    out: List[RouteSpec] = []
    tables: List[DidTable] = []
    run: List[Tuple[RouteSpec, str]] = []

    def flush() -> None:
        if len(run) < FOLD_AT:
            out.extend(route for route, _ in run)
        else:
            out.append(_write(run, directory, len(tables) + 1, tables, reports))
        run.clear()

    for route in routes:
        did = _did_of(route)
        if did is None:
            flush()
            out.append(route)
        else:
            run.append((route, did))
    flush()
    return out, tables


def _did_of(route: RouteSpec) -> Optional[str]:
    """The DID a route routes alone, or None when it is not such a route."""
    if len(route.match) != 1 or route.match[0][0] != "destination_number":
        return None
    found = _LITERAL_RE.match(route.match[0][1])
    if found is None or route.acl or route.set or route.export or route.time or route.comments:
        return None
    if route.number is not None and not _PLAIN_NUMBER_RE.match(route.number):
        return None  # a template ($N, ${var}) stays a route
    if (route.gateway, route.group, route.hangup).count(None) != 2:
        return None
    return found.group(1)


def _write(run: Sequence[Tuple[RouteSpec, str]], directory: str, number: int, tables: List[DidTable],
           reports: List[Report]) -> RouteSpec:
    name = "dids" if number == 1 else "dids_%d" % number
    path = os.path.abspath(os.path.join(directory, name + ".csv"))
    seen: Dict[str, int] = {}
    try:
        os.makedirs(directory, exist_ok=True)  # as --decks DIR is
        handle = open(path, "w", newline="")
    except OSError as exc:
        raise ConfigError(path, 0, "cannot write the table: %s" % (exc.strerror or exc)) from None
    with handle:
        writer = csv.writer(handle)
        writer.writerow(["did", "target", "number", "extension"])
        for route, did in run:
            if did in seen:
                reports.append(Report(route.file, route.line, "extension %s: DID %s is routed by the extension at "
                                      "line %d already; this one never took a call: not in the table"
                                      % (route.extension, did, seen[did])))
                continue
            seen[did] = route.line
            target = "gateway:%s" % route.gateway if route.gateway else \
                "group:%s" % route.group if route.group else "hangup:%s" % route.hangup
            writer.writerow([did, target, route.number if route.number not in (None, did) else "", route.extension])
    tables.append(DidTable(name, path, len(seen)))
    first = run[0][0]
    return first._replace(name=name, extension="%s ... %s (%d extensions)" % (first.extension, run[-1][0].extension,
                                                                           len(run)),
                          match=(), number=None, gateway=None, group=None, hangup=None, table=name,
                          comments=("%d per-DID extensions, one row each in %s" % (len(run), path),))
