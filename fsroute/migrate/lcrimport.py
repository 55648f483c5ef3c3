"""``fsroute import --lcr``: mod_lcr's tables (``lcr``, ``carriers``, ``carrier_gateway``) -> decks and rules.

Reads an SQLite database file or an SQL dump of those tables (loaded into
an in-memory SQLite). Each enabled carrier becomes a carrier with its own
deck file; its dial string ``sofia/gateway/<gw>/`` + number + suffix
becomes its gateway (several gateways: a ``priority`` group) and number
format. What fsroute cannot carry over is reported, never dropped silently.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
from collections import Counter
from typing import List, NamedTuple, Optional, Tuple

from .legacy import ConfigError
from .render import _scalar

_GATEWAY_PREFIX_RE = re.compile(r"sofia/gateway/([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})/([0-9A-Za-z+*#._-]*)\Z")
_AFFIX_RE = re.compile(r"[0-9A-Za-z+*#._-]*\Z")
_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


class LcrImport(NamedTuple):
    text: str             # the rules file
    decks: List[str]      # the deck files written
    reports: List[str]    # what could not be carried over, one line each


def open_tables(path: str) -> sqlite3.Connection:
    """An SQLite connection holding mod_lcr's tables from ``path`` (database file or SQL dump)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ConfigError(path, 0, "cannot read the file: %s" % (exc.strerror or exc)) from None
    if head == b"SQLite format 3\x00":
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    db = sqlite3.connect(":memory:")
    try:
        with open(path, encoding="utf-8") as handle:
            db.executescript(handle.read())
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise ConfigError(path, 0, "not an SQLite database, and SQLite cannot run it as an SQL dump: %s" % exc)
    return db


def import_lcr(path: str, deck_dir: str) -> LcrImport:
    """Write one deck per enabled carrier into ``deck_dir``; return the rules text and the reports."""
    db = open_tables(path)
    reports: List[str] = []
    try:
        carriers = db.execute("SELECT id, carrier_name, enabled FROM carriers ORDER BY id").fetchall()
        gateways = db.execute("SELECT carrier_id, prefix, suffix, codec, enabled FROM carrier_gateway "
                              "ORDER BY id").fetchall()
    except sqlite3.Error as exc:
        raise ConfigError(path, 0, "no mod_lcr tables: %s" % exc)
    os.makedirs(deck_dir, exist_ok=True)
    specs: List[str] = []
    groups: List[Tuple[str, List[str]]] = []
    written: List[str] = []
    for carrier_id, raw_name, enabled in carriers:
        name = _NAME_RE.sub("_", raw_name or "carrier_%d" % carrier_id)[:64]
        if not enabled:
            reports.append("carrier %s (id %d) is disabled: not imported" % (name, carrier_id))
            continue
        targets: List[Tuple[str, str, str]] = []
        for gw_carrier, prefix, suffix, codec, gw_enabled in gateways:
            if gw_carrier != carrier_id:
                continue
            found = _GATEWAY_PREFIX_RE.match(prefix or "")
            if not gw_enabled:
                reports.append("carrier %s: disabled gateway %r not imported" % (name, prefix))
            elif not found or not _AFFIX_RE.match(suffix or ""):
                reports.append("carrier %s: dial string %r...%r is not sofia/gateway/<gw>/: not imported"
                               % (name, prefix, suffix))
            else:
                targets.append((found.group(1), found.group(2), suffix or ""))
                if codec:
                    reports.append("carrier %s: codec %r of gateway %s is not carried over (set it on the "
                                   "gateway or with absolute_codec_string)" % (name, codec, found.group(1)))
        if not targets:
            reports.append("carrier %s has no usable gateway: not imported" % name)
            continue
        deck = os.path.abspath(os.path.join(deck_dir, "%s.csv" % name))
        rows, affixes = _write_deck(db, carrier_id, deck, name, reports)
        written.append(deck)
        before, after = targets[0][1], targets[0][2]
        if len({(t[1], t[2]) for t in targets}) > 1:
            reports.append("carrier %s: its gateways add different digits; using %r...%r for all"
                           % (name, before, after))
        if affixes:
            (row_before, row_after), count = affixes.most_common(1)[0]
            before, after = before + row_before, row_after + after
            if len(affixes) > 1:
                reports.append("carrier %s: %d rows add other digits (lcr.prefix/suffix) than the commonest "
                               "%r...%r: fsroute formats one carrier's numbers one way"
                               % (name, rows - count, row_before, row_after))
        if len(targets) == 1:
            target = "gateway: %s" % _scalar(targets[0][0])
        else:
            group = "%s_gateways" % name
            groups.append((group, [t[0] for t in targets]))
            target = "group: %s" % _scalar(group)
        # '$0' is the looked-up number; digits right after it would read as part of '$0', so only then the
        # old '{number}' form (still read by format 1)
        number = "{number}" if after[:1].isdigit() else "$0"
        specs.append("  %s: {deck: %s, %s, number_format: %s}" % (
            _scalar(name), _scalar(deck), target, _scalar(before + number + after)))
    db.close()
    if not specs:
        raise ConfigError(path, 0, "no carrier could be imported:\n  %s" % "\n  ".join(reports))
    return LcrImport(_rules_text(path, specs, groups), written, reports)


def _write_deck(db: sqlite3.Connection, carrier_id: int, deck: str, name: str, reports: List[str]
                ) -> Tuple[int, Counter[Tuple[str, str]]]:
    """The carrier's enabled rows as a deck; (rows, Counter of (prefix, suffix) the rows add)."""
    skipped: Counter[str] = Counter()
    affixes: Counter[Tuple[str, str]] = Counter()
    rows = 0
    query = ("SELECT digits, rate, date_start, date_end, lead_strip, trail_strip, prefix, suffix, enabled, "
             "lcr_profile, intrastate_rate, intralata_rate, lrn FROM lcr WHERE carrier_id = ? "
             "ORDER BY digits, date_start")
    with open(deck + ".tmp", "w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["prefix", "rate", "effective_from", "effective_to"])
        for (digits, rate, start, end, lead, trail, before, after, enabled, profile,
             intrastate, intralata, lrn) in db.execute(query, (carrier_id,)):
            if not enabled:
                skipped["disabled"] += 1
                continue
            if lead or trail:
                skipped["lead_strip/trail_strip"] += 1
            if profile:
                skipped["lcr_profile other than 0 (imported all the same)"] += 1
            if intrastate is not None or intralata is not None:
                skipped["intrastate/intralata rates (not carried over)"] += 1
            if lrn:
                skipped["lrn (not carried over)"] += 1
            affixes[(before or "", after or "")] += 1
            out.writerow([digits, rate, _date(start), _date(end)])
            rows += 1
    os.replace(deck + ".tmp", deck)
    for what, count in sorted(skipped.items()):
        reports.append("carrier %s: %d rows with %s" % (name, count, what))
    return rows, affixes


def _date(value: Optional[object]) -> str:
    """mod_lcr's DATETIME as an ISO date/time for a deck ("" for none)."""
    return str(value).strip().replace(" ", "T") if value else ""


def _rules_text(path: str, specs: List[str], groups: List[Tuple[str, List[str]]]) -> str:
    out = ["# fsroute rules imported by `fsroute import --lcr` from mod_lcr's tables in %s" % path,
           "# Carriers are listed in mod_lcr's id order: on equal rates the earlier one goes first",
           "# (mod_lcr's order_by quality/reliability is not carried over).",
           "version: 1"]
    if groups:
        out.append("groups:")
        for group, members in groups:
            out.append("  %s:" % _scalar(group))
            out.append("    strategy: priority")
            out.append("    gateways: [%s]" % ", ".join(_scalar(m) for m in members))
    out.append("carriers:")
    out.extend(specs)
    names = [spec.split(":", 1)[0].strip() for spec in specs]
    out += ["routes:",
            "  - name: lcr",
            "    match: {destination_number: '^(\\d+)$'}",
            "    lcr: {carriers: [%s]}" % ", ".join(names)]
    return "\n".join(out) + "\n"
