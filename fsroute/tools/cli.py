"""The ``fsroute`` command: check, simulate, import and compare rules files outside FreeSWITCH."""

import argparse
import json
import sys
import time

from fsroute.core import loader
from fsroute.core.causes import CAUSES
from fsroute.migrate.legacy import ConfigError
from fsroute.core.model import NAME_RE, VARIABLE_RE, RulesError


class _Parser(argparse.ArgumentParser):
    """argparse with bad arguments reported on one line (exit 2)."""

    def error(self, message):
        self.exit(2, "%s: error: %s\n" % (self.prog, message))


def _pair(text, what, value_ok):
    name, sep, value = text.partition("=")
    if not sep or not name or not value_ok(name, value):
        raise argparse.ArgumentTypeError("%r is not %s" % (text, what))
    return name, value


def _variable(text):
    return _pair(text, "NAME=VALUE", lambda n, v: VARIABLE_RE.match(n))


def _failure(text):
    name, cause = _pair(text, "GATEWAY=CAUSE with a FreeSWITCH cause",
                        lambda n, v: NAME_RE.match(n) and v.upper() in CAUSES and v.upper() != "SUCCESS")
    return name, cause.upper()


def _gateways(text):
    names = [n for n in text.split(",") if n]
    if not names or not all(NAME_RE.match(n) for n in names):
        raise argparse.ArgumentTypeError("%r is not a comma-separated list of gateway names" % text)
    return names


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10000000:
        raise argparse.ArgumentTypeError("%r is not a whole number from 1 to 10000000" % text)
    return value


def _instant(text):
    from .lcrtool import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an ISO date/time or epoch seconds" % text)


def _profile(text):
    if not NAME_RE.match(text):
        raise argparse.ArgumentTypeError("%r is not a sofia profile name" % text)
    return text


def _legacy_files(parser):
    parser.add_argument("--dialplan", action="append", default=[], metavar="FILE",
                        help="an XML dialplan file (repeat, in the order FreeSWITCH reads them)")
    parser.add_argument("--distributor", metavar="FILE", help="distributor.conf.xml")
    parser.add_argument("--acl", metavar="FILE", help="acl.conf.xml")


def build_parser():
    parser = _Parser(prog="fsroute", description=__doc__)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser("check", help="validate a rules file")
    check.add_argument("rules")

    rank = commands.add_parser("lcr", help="rank the carriers of a least-cost route for a number")
    rank.add_argument("rules")
    rank.add_argument("number", help="destination_number, as a call would bring it")
    rank.add_argument("--at", type=_instant, help="the call's time: ISO date/time (UTC unless it says) or "
                      "epoch seconds (default: now)")

    sim = commands.add_parser("simulate", help="route calls through the real handler with a fake switch")
    sim.add_argument("rules")
    sim.add_argument("--dest", required=True, help="destination_number")
    sim.add_argument("--src-ip", help="network_addr of the caller")
    sim.add_argument("--caller", help="caller_id_number")
    sim.add_argument("--var", type=_variable, action="append", default=[], metavar="NAME=VALUE",
                     help="any other channel variable")
    sim.add_argument("--down", type=_gateways, action="append", default=[], metavar="GW[,GW...]",
                     help="gateways that gwlist reports DOWN")
    sim.add_argument("--fail", type=_failure, action="append", default=[], metavar="GW=CAUSE",
                     help="that gateway's bridge fails with CAUSE")
    sim.add_argument("--calls", type=_count, default=1, help="route this many calls and summarise")
    sim.add_argument("--json", action="store_true", help="print JSON")

    imp = commands.add_parser("import", help="write a rules file (stdout) from an XML dialplan, "
                              "distributor.conf.xml and acl.conf.xml; what it cannot carry over goes to stderr")
    _legacy_files(imp)
    imp.add_argument("--profile", type=_profile, default="external",
                     help="sofia profile of the gateways (default: external)")
    imp.add_argument("--lcr", metavar="DB", help="instead: mod_lcr's lcr, carriers and carrier_gateway tables "
                     "(an SQLite file or an SQL dump); one deck per carrier goes to --decks")
    imp.add_argument("--decks", metavar="DIR", help="where --lcr writes the decks")

    cmp = commands.add_parser("compare", help="show the old XML setup's pick next to fsroute's, per call "
                              "(exit 1 unless every row matches)")
    cmp.add_argument("rules")
    _legacy_files(cmp)
    cmp.add_argument("--dest", action="extend", nargs="+", required=True, metavar="NUMBER",
                     help="destination_number(s) to compare")
    cmp.add_argument("--src-ip", action="extend", nargs="+", default=[], metavar="IP",
                     help="network_addr(s) of the caller; every destination is tried from each")
    cmp.add_argument("--caller", help="caller_id_number")
    cmp.add_argument("--context", default="public", help="dialplan context of the call (default: public)")
    cmp.add_argument("--var", type=_variable, action="append", default=[], metavar="NAME=VALUE",
                     help="any other channel variable")
    cmp.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return check(args.rules)
        if args.command == "import":
            return import_config(args)
        if args.command == "compare":
            return compare(args)
        if args.command == "lcr":
            return rank_carriers(args)
        return simulate(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1


def check(path):
    from .lcrtool import load_decks

    ruleset = loader.load(path)
    loaded = load_decks(ruleset)
    print("OK: %s: %d routes, %d groups, %d acls, %d gateways, sha=%s"
          % (path, len(ruleset.routes), len(ruleset.groups), len(ruleset.acls),
             len(ruleset.gateway_names()), ruleset.sha))
    for deck_path, deck in sorted(loaded.items()):
        print("OK: %s: %d rows" % (deck_path, len(deck)))
    return 0


def rank_carriers(args):
    from .lcrtool import ranking_text

    sys.stdout.write(ranking_text(args.rules, args.number, args.at if args.at is not None else int(time.time())))
    return 0


def simulate(args):
    from .simulate import simulate as run

    down = [name for names in args.down for name in names]
    report = run(args.rules, args.dest, args.src_ip, args.caller, dict(args.var), down,
                 dict(args.fail), args.calls)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.calls == 1:
        _print_call(report)
    else:
        _print_summary(report)
    return 0


def import_config(args):
    from fsroute.migrate.importer import import_files

    if args.lcr:
        return import_lcr(args)
    if not (args.dialplan or args.distributor or args.acl):
        print("fsroute import: give at least one of --dialplan, --distributor, --acl", file=sys.stderr)
        return 2
    result = import_files(args.dialplan, args.distributor, args.acl, args.profile)
    for report in result.reports:
        print(report, file=sys.stderr)
    sys.stdout.write(result.text)
    return 0


def import_lcr(args):
    from fsroute.migrate.lcrimport import import_lcr as run

    if not args.decks or args.dialplan or args.distributor or args.acl:
        print("fsroute import: --lcr needs --decks DIR and goes alone", file=sys.stderr)
        return 2
    result = run(args.lcr, args.decks)
    for report in result.reports:
        print(report, file=sys.stderr)
    sys.stdout.write(result.text)
    return 0


def compare(args):
    from fsroute.migrate.compare import compare as run, format_rows
    from fsroute.migrate.legacy import read_legacy

    legacy = read_legacy(args.dialplan, args.distributor, args.acl)
    rows = run(args.rules, legacy, args.dest, args.src_ip or [None], args.caller, args.context, dict(args.var))
    if args.json:
        print(json.dumps([row._asdict() for row in rows], indent=2))
    else:
        print(format_rows(rows, args.rules))
    return 0 if all(row.verdict == "match" for row in rows) else 1


def _print_call(report):
    print("result:  %s" % report["result"])
    print("route:   %s" % (report["route"] or "-"))
    print("number:  %s" % (report["number"] or "-"))
    print("hangup:  %s" % (report["hangup_cause"] or "-"))
    if report["attempts"]:
        print("%-3s %-40s %s" % ("#", "dial string", "outcome"))
        for i, attempt in enumerate(report["attempts"], 1):
            print("%-3d %-40s %s" % (i, attempt["dialstring"], attempt["outcome"]))


def _print_summary(report):
    calls = report["calls"]
    print("%d calls" % calls)
    print("%-16s %8s %7s" % ("result", "calls", "share"))
    for result, count in sorted(report["results"].items()):
        print("%-16s %8d %6.1f%%" % (result, count, 100.0 * count / calls))
    print("%-16s %8s %7s" % ("bridged via", "calls", "share"))
    for gateway, count in report["gateways"].items():
        print("%-16s %8d %6.1f%%" % (gateway, count, 100.0 * count / calls))

