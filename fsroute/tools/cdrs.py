"""FreeSWITCH's CDRs as calls to replay: mod_cdr_csv's Master.csv and mod_json_cdr's JSON.

Master.csv is written with a template (cdr_csv.conf.xml); the one FreeSWITCH
ships as ``default-template`` is ``example``, fifteen quoted fields, no
header row. A CDR's columns are named by the template's ``${variable}``s, so
another template (one that adds ``${network_addr}`` or ``${fsroute_route}``)
is read by giving it. ``start_stamp`` is the switch's local time, read in the
zone given. mod_json_cdr writes one JSON object per call (url-encoded values
by default, ``encode-values``): the channel ``variables`` and the
``callflow``'s caller profile; a file may hold one object, a list of them, or
one per line, and a directory is read file by file.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional
from urllib.parse import unquote

# conf/vanilla/autoload_configs/cdr_csv.conf.xml, template "example" (the default-template)
EXAMPLE_TEMPLATE = ('"${caller_id_name}","${caller_id_number}","${destination_number}","${context}","${start_stamp}",'
                    '"${answer_stamp}","${end_stamp}","${duration}","${billsec}","${hangup_cause}","${uuid}",'
                    '"${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}"')
_VARIABLE_RE = re.compile(r"\$\{([^}]+)\}")
# The channel's facts the router may read, taken from a JSON CDR's caller profile when the variables lack them.
PROFILE_FIELDS = ("destination_number", "caller_id_number", "caller_id_name", "network_addr", "context", "ani")


class Cdr(NamedTuple):
    """One call as a CDR recorded it: its channel variables, when it started, how long it was billed."""
    variables: Dict[str, str]
    start: float        # epoch seconds
    billsec: int


class CdrError(ValueError):
    """A CDR file that cannot be read as CDRs: says which file and row."""


def template_columns(template: str) -> List[str]:
    """The variable each column of a mod_cdr_csv template holds (``${x}`` -> x; other text: "")."""
    columns = []
    for field in next(csv.reader([template.strip()])):
        found = _VARIABLE_RE.search(field)
        columns.append(found.group(1) if found else "")
    return columns


def read_csv(path: str, template: str = EXAMPLE_TEMPLATE, tz: Optional[datetime.tzinfo] = None,
             progress: Optional[Callable[[int, int], None]] = None) -> Iterator[Cdr]:
    """The CDRs of a Master.csv written with ``template``; ``start_stamp`` read in ``tz`` (None: local time).

    ``progress(rows, characters_read)`` is told every 65,536 rows.
    """
    consumed = [0]  # characters read so far, for progress

    def counted(lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            consumed[0] += len(line)
            yield line

    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        yield from read_lines(counted(handle) if progress is not None else handle, template, tz, path, 1,
                              (lambda rows: progress(rows, consumed[0])) if progress is not None else None)


def read_lines(lines: Iterable[str], template: str = EXAMPLE_TEMPLATE, tz: Optional[datetime.tzinfo] = None,
               path: str = "<cdrs>", first: int = 1, progress: Optional[Callable[[int], None]] = None
               ) -> Iterator[Cdr]:
    """The CDRs of Master.csv ``lines`` (the first is line ``first`` of ``path``, for messages);
    ``progress(rows)`` is told every 65,536 rows."""
    columns = template_columns(template)
    if "destination_number" not in columns:
        raise CdrError("%s: the template has no ${destination_number} column" % path)
    start_at = columns.index("start_stamp") if "start_stamp" in columns else -1
    epoch_at = columns.index("start_epoch") if "start_epoch" in columns else -1
    billsec_at = columns.index("billsec") if "billsec" in columns else -1
    named = [(i, name) for i, name in enumerate(columns) if name]
    hours: Dict[str, float] = {}  # 'YYYY-MM-DD HH' -> epoch seconds
    for number, row in enumerate(csv.reader(lines), first):
        if not row:
            continue
        if len(row) < len(columns):
            raise CdrError("%s:%d: %d fields, the template has %d" % (path, number, len(row), len(columns)))
        if progress is not None and not number & 0xFFFF:
            progress(number)
        variables = {name: row[i] for i, name in named if row[i]}
        if epoch_at >= 0 and row[epoch_at]:
            start = float(row[epoch_at])
        elif start_at >= 0:  # strptime per row would take longer than routing the call: one per hour
            text = row[start_at]
            hour = hours.get(text[:13])
            if hour is None:
                hour = hours[text[:13]] = _hour(text, tz, path, number)
            try:
                start = hour + int(text[14:16]) * 60 + int(text[17:19])
            except ValueError:
                raise CdrError("%s:%d: start_stamp %r is not YYYY-MM-DD HH:MM:SS" % (path, number, text[:40]))
        else:
            raise CdrError("%s: the template has neither ${start_stamp} nor ${start_epoch}" % path)
        billsec = row[billsec_at] if billsec_at >= 0 else ""
        yield Cdr(variables, start, int(billsec) if billsec.isdigit() else 0)


def _hour(text: str, tz: Optional[datetime.tzinfo], path: str, number: int) -> float:
    """Epoch seconds of the hour a start_stamp ('YYYY-MM-DD HH:MM:SS', local time) falls in."""
    try:
        moment = datetime.datetime.strptime(text[:13], "%Y-%m-%d %H")
    except ValueError:
        moment = None
    if moment is None or len(text) != 19:
        raise CdrError("%s:%d: start_stamp %r is not YYYY-MM-DD HH:MM:SS" % (path, number, text[:40]))
    if tz is None:
        return moment.timestamp()  # the machine's local time, as the switch wrote it
    return moment.replace(tzinfo=tz).timestamp()


def read_json(path: str) -> Iterator[Cdr]:
    """The CDRs of mod_json_cdr files: ``path`` a file (an object, a list, or one object per line) or a
    directory of them."""
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".json"):
                yield from read_json(os.path.join(path, name))
        return
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        documents: Iterable[Any] = [json.loads(text)]
    except ValueError:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    for document in documents:
        for item in (document if isinstance(document, list) else [document]):
            yield json_cdr(item, path)


def json_cdr(item: Any, path: str) -> Cdr:
    """One mod_json_cdr object as a Cdr: its variables (url-decoded), the caller profile's facts."""
    if not isinstance(item, dict) or not isinstance(item.get("variables"), dict):
        raise CdrError("%s: not a mod_json_cdr object (no 'variables')" % path)
    variables = {str(k): unquote(str(v)) for k, v in item["variables"].items() if isinstance(v, (str, int, float))}
    flow = item.get("callflow")
    flows = flow if isinstance(flow, list) else [flow] if isinstance(flow, dict) else []
    profile = flows[-1].get("caller_profile", {}) if flows and isinstance(flows[-1], dict) else {}
    for name in PROFILE_FIELDS:
        if name not in variables and isinstance(profile.get(name), str) and profile[name]:
            variables[name] = unquote(profile[name])
    start = variables.get("start_epoch") or variables.get("start_uepoch", "")[:-6]
    if not start:
        raise CdrError("%s: a CDR without start_epoch (uuid %s)" % (path, variables.get("uuid", "?")))
    billsec = variables.get("billsec", "")
    return Cdr(variables, float(start), int(billsec) if billsec.isdigit() else 0)


def read(path: str, template: Optional[str] = None, tz: Optional[datetime.tzinfo] = None,
         progress: Optional[Callable[[int, int], None]] = None) -> Iterator[Cdr]:
    """The CDRs at ``path``: JSON (a .json file or a directory) or Master.csv (any other file)."""
    if os.path.isdir(path) or path.endswith(".json"):
        return read_json(path)
    return read_csv(path, template or EXAMPLE_TEMPLATE, tz, progress)
