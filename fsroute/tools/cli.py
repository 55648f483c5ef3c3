"""The fsroute command: check, simulate, import and compare rules files, rank lcr carriers, outside FreeSWITCH."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import fsroute
from fsroute.core import loader
from fsroute.core.acl import parse_address
from fsroute.core.causes import CAUSES
from fsroute.core.gatewaycheck import check_gateways, gateway_places
from fsroute.migrate.didtable import FOLD_AT
from fsroute.migrate.legacy import ConfigError
from fsroute.core.model import NAME_RE, VARIABLE_RE, RulesError
from fsroute.core.timespec import SpecError, read_at
from fsroute.tools.lint import warnings
from fsroute.tools.deckcli import add_deck_commands, add_replay_command, run_deck, run_replay
from fsroute.tools.simulate import UnknownGateways

AT_HELP = ("the call's time: ISO 8601 date or date-time, or epoch seconds; without a UTC offset it is read in "
           "the rules' defaults.tz, else UTC (the output says which)")
IMPORT_NEEDS = "give at least one of --dialplan, --distributor, --acl, or --lcr DB (with --decks DIR)"
# Variables --src-ip sets: giving them with --var as well would silently override it.
SOURCE_VARIABLES = ("network_addr", "sip_network_ip")


class _Parser(argparse.ArgumentParser):
    """argparse with bad arguments reported on one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, "%s: error: %s\n" % (self.prog, message))


class _Once(argparse.Action):
    """An option that may be given once: a second value is refused, not silently kept instead."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        if getattr(namespace, self.dest) is not None:
            raise argparse.ArgumentError(self, "give it once (simulate routes one destination per run; "
                                         "run it again, or use fsroute compare for several)")
        setattr(namespace, self.dest, values)


def _address(text: str) -> str:
    if parse_address(text) is None:
        raise argparse.ArgumentTypeError("%r is not an IP address (no port, no brackets)" % text)
    return text


def _pair(text: str, what: str, value_ok: Callable[[str, str], object]) -> Tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value_ok(name, value):
        raise argparse.ArgumentTypeError("%r is not %s" % (text, what))
    return name, value


def _variable(text: str) -> Tuple[str, str]:
    return _pair(text, "NAME=VALUE", lambda n, v: VARIABLE_RE.match(n))


def _failure(text: str) -> Tuple[str, str]:
    name, cause = _pair(text, "GATEWAY=CAUSE with a FreeSWITCH cause",
                        lambda n, v: NAME_RE.match(n) and v.upper() in CAUSES and v.upper() != "SUCCESS")
    return name, cause.upper()


def _gateways(text: str) -> List[str]:
    names = [n for n in text.split(",") if n]
    if not names or not all(NAME_RE.match(n) for n in names):
        raise argparse.ArgumentTypeError("%r is not a comma-separated list of gateway names" % text)
    return names


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10000000:
        raise argparse.ArgumentTypeError("%r is not a whole number from 1 to 10000000" % text)
    return value


def _instant(text: str) -> str:
    """--at of lcr, simulate and compare: checked here, read with the rules' defaults.tz by the command."""
    try:
        read_at(text, None)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc))
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 86400 * 365:
        raise argparse.ArgumentTypeError("%r is not a positive number (of seconds, or calls per second)" % text)
    return value


def _profile(text: str) -> str:
    if not NAME_RE.match(text):
        raise argparse.ArgumentTypeError("%r is not a sofia profile name" % text)
    return text


def _legacy_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dialplan", action="append", default=[], metavar="FILE",
                        help="an XML dialplan file (repeat, in the order FreeSWITCH reads them)")
    parser.add_argument("--distributor", metavar="FILE", help="distributor.conf.xml")
    parser.add_argument("--acl", metavar="FILE", help="acl.conf.xml")
    parser.add_argument("--vars", metavar="FILE",
                        help="vars.xml: its X-PRE-PROCESS set lines resolve $${name} in the dialplan and are "
                             "global variables (read by ${name} when a call does not set it)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fsroute", description=__doc__)
    parser.add_argument("--version", action="version", version="fsroute %s" % fsroute.__version__)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    check = commands.add_parser(
        "check", help="validate rules files",
        description="Validate rules files: exit 0 and one OK line per file, or exit 1 and one "
        "FILE:LINE:COL: line per problem. Warnings (a file without routes, a catch-all route "
        "ahead of other routes) go to stderr and do not change the exit status unless --strict.")
    check.add_argument("rules", nargs="+", metavar="RULES", help="a rules file; '-' reads standard input")
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check.add_argument("--sofia-conf", metavar="DIR",
                       help="FreeSWITCH's conf directory: every gateway the rules name must be defined "
                            "in its sip_profiles, on the profile the rules read")
    check.set_defaults(parser=check)

    rank = commands.add_parser("lcr", help="rank the carriers of a least-cost route for a number",
                               description="Rank the carriers of the least-cost route a number reaches, cheapest "
                               "first, with each one's prefix, rate and dial string, as a call at --at would "
                               "(time conditions included). Exit 1 when the number reaches no least-cost route.")
    rank.add_argument("rules", help="the rules file")
    rank.add_argument("number", help="destination_number, as a call would bring it")
    rank.add_argument("--at", type=_instant, metavar="INSTANT", help=AT_HELP + "; default: now")
    rank.add_argument("--sell", metavar="NAME", help="the sell deck (one of sell_decks) the call names, as its "
                      "channel variable would; default: the route's sell default")
    rank.add_argument("--account", metavar="ACCOUNT", help="the call's account (accounts:), whose row may name its "
                      "sell deck when --sell is not given")
    rank.set_defaults(parser=rank)

    sim = commands.add_parser(
        "simulate", help="route calls through the real handler with a fake switch",
        description="Route calls through fsroute's real call handling on an emulated switch: one call's "
        "result, route, number and bridge attempts, or with --calls N a summary. Gateways are up unless --down; "
        "bridges answer unless --fail. Exit 0 whatever the calls' result; 1 for bad rules, 2 for bad arguments.")
    sim.add_argument("rules", help="the rules file")
    sim.add_argument("--dest", required=True, action=_Once, metavar="NUMBER", help="destination_number (once)")
    sim.add_argument("--src-ip", type=_address, metavar="IP", help="network_addr of the caller (one address)")
    sim.add_argument("--caller", metavar="NUMBER", help="caller_id_number")
    sim.add_argument("--var", type=_variable, action="append", default=[], metavar="NAME=VALUE",
                     help="any other channel variable (network_addr and sip_network_ip only without --src-ip)")
    sim.add_argument("--down", type=_gateways, action="append", default=[], metavar="GW[,GW...]",
                     help="gateways that gwlist reports DOWN")
    sim.add_argument("--fail", type=_failure, action="append", default=[], metavar="GW=CAUSE",
                     help="that gateway's bridge fails with CAUSE")
    sim.add_argument("--calls", type=_count, default=1, metavar="N", help="route this many calls and summarise")
    sim.add_argument("--cps", type=_seconds, metavar="R",
                     help="the calls come R per second, in simulated time (default: all at once); max_cps, "
                          "breaker windows and cooldowns see that time")
    sim.add_argument("--hold", type=_seconds, default=0.0, metavar="SECONDS",
                     help="an answered call stays up SECONDS of simulated time, counting in max_calls "
                          "(default: it ends at once)")
    sim.add_argument("--at", type=_instant, metavar="INSTANT", help=AT_HELP + "; default: now")
    sim.add_argument("--account", metavar="A",
                     help="the calls' account: the variable the accounts key names, else the source address")
    sim.add_argument("--json", action="store_true", help="print JSON")
    sim.add_argument("--explain", action="store_true",
                     help="say why: the ACL node that decided, and each route's first condition that failed")
    sim.set_defaults(parser=sim)

    imp = commands.add_parser(
        "import", help="write a rules file (stdout) from an XML dialplan, "
        "distributor.conf.xml and acl.conf.xml; what it cannot carry over goes to stderr",
        description="Write a rules file to stdout from the classic setup: XML dialplan files, "
        "distributor.conf.xml and acl.conf.xml, or from mod_lcr's tables with --lcr (decks to --decks). "
        "What cannot be carried over is reported on stderr. " + IMPORT_NEEDS[0].upper() + IMPORT_NEEDS[1:] + ".")
    _legacy_files(imp)
    imp.set_defaults(parser=imp)
    imp.add_argument("--profile", type=_profile, default="external",
                     help="sofia profile of the gateways (default: external)")
    imp.add_argument("--lcr", metavar="DB", help="instead: mod_lcr's lcr, carriers and carrier_gateway tables "
                     "(an SQLite file or an SQL dump); one deck per carrier goes to --decks")
    imp.add_argument("--decks", metavar="DIR", help="where --lcr writes the decks")
    imp.add_argument("--dids-table", metavar="DIR", help="write each run of %d or more per-DID extensions "
                     "(one literal destination to a gateway, group or hangup) as one number table in DIR, "
                     "routed by one table route" % FOLD_AT)
    imp.add_argument("--blacklist", metavar="FILE", help="instead: mod_blacklist's configuration "
                     "(mod_blacklist.conf.xml) or one of its list files: each list becomes a blocklist table "
                     "checked on the caller ID")

    cmp = commands.add_parser(
        "compare", help="show the old XML setup's pick next to fsroute's, per call (exit 1 unless every row matches)",
        description="Route each destination through the old XML setup (emulated from --dialplan, "
        "--distributor, --acl) and through fsroute's real handler with the rules file, and say per call "
        "whether they dial the same. Exit 0 when every row matches, 1 otherwise.")
    cmp.add_argument("rules", help="the rules file (as written by fsroute import)")
    _legacy_files(cmp)
    cmp.add_argument("--dest", action="extend", nargs="+", required=True, metavar="NUMBER",
                     help="destination_number(s) to compare")
    cmp.add_argument("--src-ip", action="extend", nargs="+", default=[], metavar="IP",
                     help="network_addr(s) of the caller; every destination is tried from each")
    cmp.add_argument("--caller", help="caller_id_number")
    cmp.add_argument("--keep-xml", action="append", default=[], metavar="FILE",
                     help="an XML dialplan file whose extensions stay ahead of the fsroute extension "
                          "in the new setup (the hybrid): calls they take never reach fsroute")
    cmp.add_argument("--context", default="public", help="dialplan context of the call (default: public)")
    cmp.add_argument("--var", type=_variable, action="append", default=[], metavar="NAME=VALUE",
                     help="any other channel variable")
    cmp.add_argument("--at", type=_instant, metavar="INSTANT",
                     help=AT_HELP + "; time-of-day conditions are evaluated then (without it, rows that depend "
                     "on them are '?')")
    cmp.add_argument("--json", action="store_true", help="print JSON")
    cmp.set_defaults(parser=cmp)
    add_deck_commands(commands, _instant, AT_HELP)
    add_replay_command(commands, _variable)

    table = commands.add_parser("table", help="look a number up in one of the rules' number tables",
                                description="fsroute table lookup RULES TABLE NUMBER: the row of table TABLE "
                                "for NUMBER (its whole number or longest prefix) at --at and what it does "
                                "to a call. Exit 1 when the table has no row for it.")
    table.add_argument("action", choices=["lookup"], help="lookup")
    table.add_argument("rules", help="the rules file")
    table.add_argument("table", help="the table's name under tables:")
    table.add_argument("number", help="the number looked up, as the route gives it")
    table.add_argument("--at", type=_instant, metavar="INSTANT", help=AT_HELP + "; default: now")
    table.set_defaults(parser=table)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    command: _Parser = args.parser  # errors about a subcommand's arguments say "fsroute NAME: error: ..."
    if extra:
        command.error("unrecognized arguments: %s" % " ".join(extra))
    if args.command == "simulate" and args.src_ip:
        clash = [name for name, _ in args.var if name in SOURCE_VARIABLES]
        if clash:
            command.error("--var %s would override --src-ip; give one of them" % clash[0])
    try:
        if args.command == "check":
            return check(args.rules, args.strict, args.sofia_conf)
        if args.command == "import":
            return import_config(args)
        if args.command == "compare":
            return compare(args)
        if args.command == "lcr":
            return rank_carriers(args)
        if args.command == "deck":
            return run_deck(args)
        if args.command == "replay":
            return run_replay(args)
        if args.command == "table":
            return table_lookup(args)
        return simulate(args)
    except UnknownGateways as exc:
        command.error(str(exc))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1


def check(paths: Sequence[str], strict: bool = False, sofia_conf: Optional[str] = None) -> int:
    """Check each file and the rate decks its carriers name; 1 when any has problems (or, with
    ``strict``, warnings, or with ``sofia_conf``, gateways that configuration does not define)."""
    from .lcrtool import load_decks
    from .tabletool import load_tables

    status = 0
    defined = None
    if sofia_conf is not None:
        from fsroute.migrate.sofia_conf import gateways_by_name, read_sofia_conf
        defined = gateways_by_name(read_sofia_conf(sofia_conf))
    for path in paths:
        try:
            if path == "-":
                path = "<stdin>"
                data = sys.stdin.buffer.read(loader.MAX_FILE_BYTES + 1)
            else:
                data = loader.read(path)
            ruleset = loader.parse(data, path)
            decks = load_decks(ruleset)
            bound = load_tables(ruleset)
        except RulesError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = 1
            continue
        if defined is not None:
            missing = check_gateways(ruleset, gateway_places(data.decode("utf-8")), defined,
                                     "the sofia configuration at %s" % sofia_conf)
            for gap in missing:
                print(gap, file=sys.stderr)
            if missing:
                status = 1
                continue
        found = warnings(ruleset)
        for warning in found:
            print(warning, file=sys.stderr)
        if found and strict:
            status = 1
        print("OK: %s: %d routes, %d groups, %d acls, %d gateways, sha=%s%s"
              % (path, len(ruleset.routes), len(ruleset.groups), len(ruleset.acls),
                 len(ruleset.gateway_names()), ruleset.sha,
                 ", %d warning%s" % (len(found), "" if len(found) == 1 else "s") if found else ""))
        for deck_path, deck in sorted(decks.items()):
            print("OK: %s: %d rows" % (deck_path, len(deck)))
        for name, table in bound.items():
            print("OK: %s: table '%s', %d rows" % (table.table.filename, name, len(table.table)))
    return status


def rank_carriers(args: argparse.Namespace) -> int:
    from .lcrtool import ranking_text

    ranked, text = ranking_text(args.rules, args.number, args.at, args.sell, args.account)
    sys.stdout.write(text)
    return 0 if ranked else 1


def table_lookup(args: argparse.Namespace) -> int:
    from .tabletool import lookup_text

    found, text = lookup_text(args.rules, args.table, args.number, args.at)
    sys.stdout.write(text)
    return 0 if found else 1


def simulate(args: argparse.Namespace) -> int:
    from .simulate import simulate as run

    down = [name for names in args.down for name in names]
    report = run(args.rules, args.dest, args.src_ip, args.caller, dict(args.var), down,
                 dict(args.fail), args.calls, explain=args.explain, at=args.at, cps=args.cps, hold=args.hold,
                 account=args.account)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.calls == 1:
        _print_call(report)
    else:
        _print_summary(report)
    if "levels" in report and not args.json:
        print("fraud levels reached:" if report["levels"] else "fraud levels reached: none")
        for line in report["levels"]:
            print("  " + line)
    if args.explain and not args.json:
        print("why:")
        for line in report["explanation"]:
            print("  " + line)
    return 0


def import_config(args: argparse.Namespace) -> int:
    from fsroute.migrate.importer import import_files

    if args.lcr:
        return import_lcr(args)
    if args.blacklist:
        from fsroute.migrate.blacklist import import_blacklist

        if args.dialplan or args.distributor or args.acl:
            print("fsroute import: --blacklist goes alone", file=sys.stderr)
            return 2
        return _write_import(import_blacklist(args.blacklist))
    if not (args.dialplan or args.distributor or args.acl):
        print("fsroute import: %s" % IMPORT_NEEDS, file=sys.stderr)
        return 2
    return _write_import(import_files(args.dialplan, args.distributor, args.acl, args.profile, args.vars,
                                      args.dids_table))


def import_lcr(args: argparse.Namespace) -> int:
    from fsroute.migrate.lcrimport import import_lcr as run

    if not args.decks or args.dialplan or args.distributor or args.acl:
        print("fsroute import: --lcr needs --decks DIR and goes alone", file=sys.stderr)
        return 2
    return _write_import(run(args.lcr, args.decks))


def _write_import(result: Any) -> int:
    """An import's rules (or decks' rules) to stdout, what did not carry over to stderr."""
    for report in result.reports:
        print(report, file=sys.stderr)
    sys.stdout.write(result.text)
    return 0


def compare(args: argparse.Namespace) -> int:
    from fsroute.migrate.compare import compare as run, format_rows
    from fsroute.migrate.legacy import read_legacy

    legacy = read_legacy(args.dialplan, args.distributor, args.acl)
    kept = read_legacy(args.keep_xml, args.distributor, args.acl) if args.keep_xml else None
    rows = run(args.rules, legacy, args.dest, args.src_ip or [None], args.caller, args.context, dict(args.var),
               kept=kept, at=args.at, vars_file=args.vars)
    if args.json:
        print(json.dumps([row._asdict() for row in rows], indent=2))
    else:
        print(format_rows(rows, args.rules))
    return 0 if all(row.verdict == "match" for row in rows) else 1


def _print_call(report: Dict[str, Any]) -> None:
    if "at" in report:
        print("at:      %s" % report["at"])
    print("result:  %s" % report["result"])
    print("route:   %s" % (report["route"] or "-"))
    print("number:  %s" % (report["number"] or "-"))
    print("hangup:  %s" % (report["hangup_cause"] or "-"))
    if "transfer" in report:
        print("transfer: %s" % report["transfer"])
    if report["attempts"]:
        print("%-3s %-40s %s" % ("#", "dial string", "outcome"))
        for i, attempt in enumerate(report["attempts"], 1):
            print("%-3d %-40s %s" % (i, attempt["dialstring"], attempt["outcome"]))


def _print_summary(report: Dict[str, Any]) -> None:
    calls = report["calls"]
    print("%d calls%s" % (calls, " at %s" % report["at"] if "at" in report else ""))
    print("%-16s %8s %7s" % ("result", "calls", "share"))
    for result, count in sorted(report["results"].items()):
        print("%-16s %8d %6.1f%%" % (result, count, 100.0 * count / calls))
    print("%-16s %8s %8s %7s  %s" % ("gateway", "attempts", "bridged", "share", "skipped"))
    skipped = report["skipped"]
    for gateway in sorted(set(report["attempts"]) | set(skipped)):
        bridged = report["gateways"].get(gateway, 0)
        print("%-16s %8d %8d %6.1f%%  %s" % (
            gateway, report["attempts"].get(gateway, 0), bridged, 100.0 * bridged / calls,
            ", ".join("%s %d" % why for why in skipped.get(gateway, {}).items()) or "-"))

