"""The ``fsroute deck`` commands (diff, import) and ``fsroute replay``: their arguments and what they print."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Iterable, Optional, Tuple

from fsroute.core import decks
from fsroute.core.lcr import DEFAULT_EXPECTED_SECONDS
from fsroute.core.timespec import read_at

FORMATS = ("text", "csv", "json")


def add_deck_commands(commands: Any, instant: Callable[[str], str], at_help: str) -> None:
    """``fsroute deck diff`` and ``fsroute deck import`` under ``commands`` (the CLI's subparsers)."""
    deck = commands.add_parser("deck", help="compare rate decks, import carriers' rate sheets",
                               description="Rate deck tooling: diff two versions of a deck, import a carrier's "
                               "own sheet (CSV or XLSX) into fsroute's deck format.")
    deck.set_defaults(parser=deck)
    subcommands = deck.add_subparsers(dest="deck_command", parser_class=type(deck), metavar="DECK_COMMAND")
    diff = subcommands.add_parser(
        "diff", help="what a new deck changes, from when, and what it would lose",
        description="Compare two versions of a rate deck: increases and decreases (by how much, from when), other "
        "terms (fee, increments), new and removed prefixes, changes dated before --at (retroactive re-rating), "
        "and with --sell the prefixes whose expected call would cost more than it sells for, from their date. "
        "Exit 0: no difference; 3: differences, none a risk; 4: a risk (an increase, a removed prefix, a "
        "retroactive change or a losing prefix); 1: a deck cannot be read; 2: bad arguments.")
    diff.add_argument("old", help="the deck in force")
    diff.add_argument("new", help="the deck that arrived")
    diff.add_argument("--sell", metavar="DECK", help="a sell deck: report the prefixes that would lose money")
    diff.add_argument("--seconds", type=int, default=DEFAULT_EXPECTED_SECONDS, metavar="N",
                      help="the expected call priced on both sides with --sell (default %d)" % DEFAULT_EXPECTED_SECONDS)
    diff.add_argument("--at", type=instant, metavar="INSTANT", help=at_help + "; default: now (changes dated "
                      "before it are retroactive)")
    diff.add_argument("--format", choices=FORMATS, default="text", help="text (default), csv or json")
    diff.set_defaults(parser=diff)
    imp = subcommands.add_parser(
        "import", help="turn a carrier's rate sheet (CSV, XLSX) into an fsroute deck",
        description="Read a carrier's own rate sheet and write an fsroute deck (stdout, or -o FILE). --map names "
        "the sheet's header of each deck column (prefix and rate required); the header row is found among the "
        "first rows. Every bad row is reported as FILE:ROW:COL and nothing is written (exit 1). XLSX needs "
        "openpyxl (pip install 'fsroute[xlsx]').")
    imp.add_argument("file", help="the carrier's sheet: .csv/.tsv/.txt, or .xlsx")
    imp.add_argument("--map", action="append", required=True, metavar="COLUMN=HEADER[,...]",
                     help="e.g. prefix=Code,rate='Rate/min',effective_from='Effective Date',increments=Billing,"
                          "description=Destination,connect_fee=Setup")
    imp.add_argument("--date-format", metavar="FMT", help="strptime format of the sheet's dates, e.g. %%d/%%m/%%Y "
                     "(default: ISO 8601; XLSX date cells need none)")
    imp.add_argument("--rate-unit", choices=("minute", "second", "hour"), default="minute",
                     help="what the sheet's rate is per (default: minute)")
    imp.add_argument("--rate-scale", type=float, default=1.0, metavar="F",
                     help="multiply rates and fees by F (0.01: the sheet's amounts are in cents)")
    imp.add_argument("--sheet", metavar="NAME", help="XLSX: the worksheet (default: the first)")
    imp.add_argument("-o", "--output", metavar="FILE", help="write the deck here (default: stdout)")
    imp.set_defaults(parser=imp)


def add_replay_command(commands: Any, variable: Callable[[str], Tuple[str, str]]) -> None:
    """``fsroute replay CDRS --rules NEW [--against OLD]``."""
    rep = commands.add_parser(
        "replay", help="route real CDRs through draft rules and report what changes, cost and margin",
        description="Route every call of FreeSWITCH CDRs (mod_cdr_csv's Master.csv, default template 'example' "
        "or --template; mod_json_cdr's JSON files or a directory of them) through the --rules (and --against "
        "rules, else compare with the fsroute_route / fsroute_lcr_carrier the calls recorded), every gateway up, "
        "at each call's start time. Reports calls whose route or first carrier changes, cost and margin by "
        "carrier, destination and day before and after, and calls the new rules would not route. Exit 0; 1 for "
        "bad rules, decks or CDRs.")
    rep.add_argument("cdrs", help="Master.csv, a .json CDR file, or a directory of JSON CDRs")
    rep.add_argument("--rules", required=True, metavar="NEW.yaml", help="the draft rules")
    rep.add_argument("--against", metavar="OLD.yaml", help="the rules in force, to compare with")
    rep.add_argument("--template", metavar="TEMPLATE",
                     help="the cdr_csv.conf.xml template the Master.csv was written with (default: FreeSWITCH's "
                          "'example'), e.g. '\"${destination_number}\",\"${start_epoch}\",...'")
    rep.add_argument("--tz", metavar="ZONE", help="the switch's time zone, for start_stamp and the days "
                     "(default: the rules' defaults.tz, else this machine's local time)")
    rep.add_argument("--var", type=variable, action="append", default=[], metavar="NAME=VALUE",
                     help="a channel variable for every call that its CDR lacks (network_addr for ACLs, "
                          "fsroute_sell_deck...)")
    rep.add_argument("--shift", type=int, default=0, metavar="DAYS",
                     help="route each call as if it came DAYS later (28 keeps the weekdays): last month's traffic "
                          "at next month's rates; the report's days are the shifted ones")
    rep.add_argument("--html", metavar="FILE", help="also write a single-file HTML report with charts")
    rep.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="replay a Master.csv in N processes (split at line ends; default 1)")
    rep.add_argument("--quiet", action="store_true", help="no progress on stderr")
    rep.set_defaults(parser=rep)


def run_replay(args: argparse.Namespace) -> int:
    """Run ``fsroute replay``: the text summary to stdout, progress to stderr, the HTML report to a file."""
    from fsroute.core.timespec import zone_of
    from . import cdrs
    from .replay import Replayer, replay, text

    new = Replayer(args.rules)
    against = Replayer(args.against) if args.against else None
    zone_name = args.tz or new.rules.defaults.tz
    tz = zone_of(zone_name) if zone_name else None
    size = os.path.getsize(args.cdrs) if os.path.isfile(args.cdrs) else 0
    began = time.perf_counter()

    def progress(rows: int, read: int) -> None:
        if not args.quiet:
            sys.stderr.write("fsroute replay: %d calls, %d%% of %s, %.1f s\n" % (
                rows, 100 * read // size if size else 0, args.cdrs, time.perf_counter() - began))

    extra = dict(args.var)
    shift = args.shift * 86400

    def edit(calls: Iterable[cdrs.Cdr]) -> Iterable[cdrs.Cdr]:
        """The calls with --var's variables (where the CDR lacks them) and --shift's later start."""
        if extra:
            calls = (cdr._replace(variables={**extra, **cdr.variables}) for cdr in calls)
        if shift:
            calls = (cdr._replace(start=cdr.start + shift) for cdr in calls)
        return calls

    try:
        if args.jobs > 1 and size and not args.cdrs.endswith(".json"):
            from .replay_jobs import replay_in_parts

            def done(finished: int, parts: int) -> None:
                if not args.quiet:
                    sys.stderr.write("fsroute replay: part %d of %d done, %.1f s\n" % (
                        finished, parts, time.perf_counter() - began))

            report = replay_in_parts(args.cdrs, args.template or cdrs.EXAMPLE_TEMPLATE, tz, new, against, args.jobs,
                                     edit, done)
        else:
            report = replay(edit(cdrs.read(args.cdrs, args.template, tz, progress)), new, against, args.cdrs, tz)
    except cdrs.CdrError as exc:
        print("fsroute replay: %s" % exc, file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # a CDR file that cannot be read, JSON that is not JSON
        print("fsroute replay: %s: %s" % (args.cdrs, getattr(exc, "strerror", None) or exc), file=sys.stderr)
        return 1
    lines = text(report)
    print("\n".join(lines))
    if not args.quiet:
        sys.stderr.write("fsroute replay: %d calls in %.1f s (%d calls/s)\n" % (
            report.calls, report.seconds, report.calls / report.seconds if report.seconds else 0))
    if args.html:
        from .replay_html import html

        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(html(report, lines))
    return 0


def run_deck(args: argparse.Namespace) -> int:
    """Run ``fsroute deck diff`` or ``fsroute deck import``."""
    if args.deck_command == "diff":
        return _diff(args)
    if args.deck_command == "import":
        return _import(args)
    args.parser.print_help(sys.stderr)
    return 2


def _diff(args: argparse.Namespace) -> int:
    from .deckdiff import diff, render, status

    now = int(read_at(args.at, None)[0]) if args.at else int(time.time())
    old, new = decks.load(args.old), decks.load(args.new)
    sell: Optional[decks.Deck] = decks.load(args.sell) if args.sell else None
    changes = diff(old, new, now, sell, args.seconds)
    sys.stdout.write(render(changes, args.format, args.seconds, now))
    return status(changes)


def _import(args: argparse.Namespace) -> int:
    from .deckimport import DeckMap, convert, parse_map

    try:
        columns = parse_map(args.map)
    except ValueError as exc:
        args.parser.error(str(exc))
    text = convert(args.file, DeckMap(columns, args.date_format, args.rate_unit, args.rate_scale, args.sheet))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0
