"""The ``fsroute deck`` commands (diff, import) and ``fsroute replay``: their arguments and what they print."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Optional

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
