"""The control API: ``fs_cli -x "python fsroute.ctl <command>"``.

mod_python3 calls ``fsapi(session, stream, env, args)`` with session "na"
from fs_cli; only what is written to ``stream`` reaches the operator.
Commands: ``reload [RULES]``, ``status [RULES]``, ``check [RULES]``,
``test <destination> [<source-ip> [<caller>]] [at=INSTANT]``, ``metrics`` (Prometheus text),
``drain|disable GATEWAY [reason...]``, ``enable GATEWAY`` (runtime.admin). Without RULES,
reload, status and check act on every rules file that calls have loaded (or
the default one before any); test uses the first of them, at INSTANT
(ISO 8601) or now.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import fsroute
from fsroute.core import router
from fsroute.core.decks import rate_text
from fsroute.core import loader
from fsroute.core.gatewaycheck import check_gateways, gateway_places
from fsroute.core.model import VARIABLE_RE, Outcome, RulesError
from fsroute.core.routetable import labels
from fsroute.core.timespec import SpecError, read_at
from fsroute.runtime import fraud, gatewayctl, limits, scrape
from fsroute.runtime.admin import describe as describe_held
from fsroute.runtime.quality import status_lines as quality_lines
from fsroute.runtime.embedded import describe_bare, report_lines
from fsroute.runtime.filecache import LoadedFile
from fsroute.runtime.generation import Generation
from fsroute.runtime.sofia_status import StatusUnreadable, read_gateway_status
from fsroute.runtime.fslog import ERROR, describe, log
from fsroute.runtime.rulespath import default_rules_path
from fsroute.runtime.process import loaded_stores, poller, store_for

USAGE = ("-USAGE: python fsroute.ctl reload [RULES] | status [RULES] | check [RULES] | "
         "test <destination> [<source-ip> [<caller>]] [at=INSTANT] [NAME=VALUE...] | metrics | "
         "drain|disable GATEWAY [reason...] | enable GATEWAY | fraud status | "
         "fraud unblock ACCOUNT  (RULES: a rules file path; "
         "without it: every loaded rules file; test uses the first; INSTANT: ISO 8601, default now; "
         "NAME=VALUE: a channel variable of the call)\n")


def fsapi(session: Any, stream: Any, env: Any, args: Optional[str]) -> None:
    """mod_python3 API entry point; writes the answer to ``stream``."""
    if not hasattr(stream, "write"):  # `import freeswitch` failed: nothing can reach fs_cli, so log it
        log(ERROR, describe_bare(stream, "API stream", "freeswitch.Stream"))
        return
    try:
        stream.write(command(args))
    except Exception as exc:  # an API command must answer, not raise into FreeSWITCH
        try:
            stream.write("-ERR fsroute.ctl failed: %s\n" % describe(exc))
        except Exception:
            pass


def command(args: Optional[str]) -> str:
    """The text answer to one control command line."""
    words = (args or "").split()
    if not words:
        return USAGE
    verb, rest = words[0], words[1:]
    if verb == "reload" and len(rest) <= 1:
        return "".join(reload(path) for path in (rest or _known_paths()))
    if verb == "status" and len(rest) <= 1:
        return "".join(status(path) for path in (rest or _known_paths())) + "\n".join(report_lines()) + "\n"
    if verb == "check" and len(rest) <= 1:
        return "".join(check(path) for path in (rest or _known_paths()))
    if verb == "test":
        settings = [w.split("=", 1) for w in rest if "=" in w]
        rest = [w for w in rest if "=" not in w]
        at = [value for name, value in settings if name == "at"]
        variables = {name: value for name, value in settings if name != "at"}
        if 1 <= len(rest) <= 3 and len(at) <= 1 and all(VARIABLE_RE.match(name) for name in variables):
            destination, source, caller = (rest + [None, None])[:3]
            return test(_known_paths()[0], destination or "", source, caller, at=at[0] if at else None,
                        variables=variables)
    if verb == "metrics" and not rest:
        return scrape.text(loaded_stores(), poller())
    if verb in ("drain", "disable", "enable") and rest and (verb != "enable" or len(rest) == 1):
        return gatewayctl.change([store_for(path) for path in _known_paths()], verb, rest[0], " ".join(rest[1:]))
    if verb == "fraud" and rest == ["status"]:
        return fraud.status_text()
    if verb == "fraud" and len(rest) == 2 and rest[0] == "unblock":
        return fraud.unblock(rest[1])
    return USAGE


def _known_paths() -> List[str]:
    """The rules files calls have used (the dialplan may name its own), else the default one."""
    return [s.path for s in loaded_stores()] or [default_rules_path()]


def reload(path: str) -> str:
    try:
        generation = store_for(path).reload()  # the rules and every deck they name, now
    except RulesError as exc:
        return "-ERR %s\n" % "\n-ERR ".join(str(p) for p in exc.problems)
    rules = generation.rules
    warnings = "".join(str(w) + "\n" for w in rules.warnings)  # e.g. a time condition that never holds
    return "+OK reloaded %s sha=%s routes=%d\n%s" % (path, rules.sha, len(rules.routes), warnings)


def check(path: str) -> str:
    """Every gateway the rules name, against the running switch: defined, on the profile the rules
    read, and UP or DOWN right now."""
    try:
        rules = store_for(path).current().rules
        places = gateway_places(loader.read(path).decode("utf-8"))
    except RulesError as exc:
        return "-ERR %s\n" % str(exc.problems[0])
    try:
        running = read_gateway_status()
    except StatusUnreadable as exc:
        return "-ERR %s\n" % exc
    defined = {name: {state.profile} for name, state in running.items()}
    problems = check_gateways(rules, places, defined, "the running switch")
    lines = ["-ERR %s" % p for p in problems] or ["+OK every gateway %s names is defined in the running switch"
                                                  % path]
    lines.append("gateways:")
    for name in sorted(rules.gateway_names()):
        state = running.get(name)
        lines.append("  %s (%s): %s" % (name, rules.profile_of(name),
                                         "%s on %s" % (state.status, state.profile) if state else "not defined"))
    return "\n".join(lines) + "\n"


def status(path: str) -> str:
    store = store_for(path)
    loaded = store.generation
    if loaded is None:
        try:
            loaded = store.current()
        except RulesError:
            pass
    lines = ["rules: %s" % path]
    if loaded is None:
        lines.append("loaded: never")
    else:
        rules = loaded.rules
        lines += ["sha: %s" % rules.sha,
                  "loaded_at: %s" % time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(loaded.loaded_at)),
                  "routes: %d  groups: %d  acls: %d" % (len(rules.routes), len(rules.groups), len(rules.acls))]
    lines.append("version: fsroute %s" % fsroute.__version__)
    error = store.last_error
    lines.append("last_error: %s" % (str(error.problems[0]) if error else "none"))
    if loaded is not None:
        rules = loaded.rules
        readings = loaded.poller.readings()
        lines.append("gateways:")
        for name in sorted(rules.gateway_names()):
            profile = rules.profile_of(name)
            if profile not in readings:
                lines.append("  %s (%s): not read yet%s" % (name, profile, _health(loaded, name)))
                continue
            down, when, trusted = readings[profile]
            if down is None:
                state = "unknown (gwlist unreadable, taken as up)"
            else:
                state = "DOWN" if name in down else "up"
            lines.append("  %s (%s): %s (read %s%s)%s" % (name, profile, state, time.strftime(
                "%H:%M:%S", time.localtime(when)), "" if trusted else "; stale: every gateway taken as up",
                _health(loaded, name)))
        lines.extend(_deck_lines(loaded))
        if loaded.quality is not None:
            lines.extend(quality_lines(loaded.quality))
        lines.extend(_table_lines(loaded))
        results, routes = loaded.counts()
        lines.append("calls by result: %s" % (_counts(results) or "none"))
        lines.append("calls by route:")
        for name, _ in labels(rules.routes):
            lines.append("  %s: %d" % (name, routes.get(name, 0)))
    return "\n".join(lines) + "\n"


def _deck_lines(generation: Generation) -> List[str]:
    """The rate decks of the generation in force: rows and when each was read."""
    if not generation.rules.carriers:
        return []
    lines = ["decks:"]
    for path in generation.rules.deck_paths():
        lines.append("  %s: %s" % (path, _loaded_text(generation.decks.get(path))))
    return lines


def _loaded_text(loaded: Optional[LoadedFile]) -> str:
    """A deck's or table's rows and when they were read."""
    if loaded is None:
        return "not loaded (see last_error)"
    return "%d rows, loaded %s" % (len(loaded.content), time.strftime("%Y-%m-%d %H:%M:%S",
                                                                      time.localtime(loaded.loaded_at)))


def _table_lines(generation: Generation) -> List[str]:
    """The number tables of the generation in force: rows and when each was read."""
    if not generation.rules.tables:
        return []
    lines = ["tables:"]
    for name, spec in sorted(generation.rules.tables.items()):
        lines.append("  %s (%s): %s" % (name, spec.path, _loaded_text(generation.table_files.get(spec.path))))
    return lines


def test(path: str, destination: str, source: Optional[str] = None, caller: Optional[str] = None,
         at: Optional[str] = None, variables: Optional[Dict[str, str]] = None) -> str:
    """A dry run: what a call would get (at ``at``: timespec.read_at, else now; with these other channel
    ``variables``, e.g. the ``context`` an imported route names), without bridging or moving round-robin
    positions."""
    try:
        loaded = store_for(path).current()
        # one reading: time conditions and rates; at= without an offset is read in defaults.tz, else UTC
        now, shown = read_at(at, loaded.rules.defaults.tz) if at else (loaded.clock.time(), "")
    except RulesError as exc:
        return "-ERR %s\n" % str(exc.problems[0])
    except SpecError as exc:
        return "-ERR at=: %s\n" % exc
    facts = dict(variables or {})
    facts.update((name, value) for name, value in (("destination_number", destination), ("network_addr", source),
                                                   ("caller_id_number", caller)) if value is not None)
    rules = loaded.rules
    decision = router.decide(rules, facts.get, loaded.is_up, loaded.selector.copy(), now, loaded.dry_run(),
                             deck_of=loaded.deck_of, explain=True, table_of=loaded.table_of)
    lines = ["destination: %s  source: %s  caller: %s%s%s" % (
                 destination, source or "-", caller or "-", "  at: %s" % shown if at else "",
                 "".join("  %s=%s" % item for item in sorted((variables or {}).items()))),
             "outcome: %s%s" % (decision.outcome or "route", " (%s)" % decision.detail if decision.detail else ""),
             "route: %s" % (decision.route.name if decision.route else "-"),
             "number: %s" % (decision.number or "-"),
             "gateways: %s" % (" ".join(decision.gateways) or "-")]
    for dial in decision.dials:
        lines.append("  " + dial.text + ("  carrier=%s prefix=%s rate=%s" % (dial.carrier, dial.prefix, rate_text(dial.rate))
                                         if dial.carrier is not None else ""))
    if decision.outcome in (Outcome.DENIED, Outcome.NO_ROUTE, Outcome.NO_CARRIER, Outcome.ALL_DOWN,
                            Outcome.NO_MARGIN):
        lines.append("why:")
        lines += ["  " + line for line in decision.reasons]
    return "\n".join(lines) + "\n"


def _health(loaded: Generation, name: str) -> str:
    """The breaker and limits part of a gateway's status line ("" when it has neither)."""
    parts: List[str] = []
    held = describe_held(loaded.admin, name)
    if held is not None:
        parts.append(held)
    breaker = loaded.breakers.snapshot(name)
    if breaker is not None:
        state, left, recent = breaker
        until = " until %s (%.0fs)" % (time.strftime("%H:%M:%S", time.localtime(time.time() + left)), left) \
            if left is not None else ""
        parts.append("breaker %s%s, %d recent failure%s" % (state, until, recent, "" if recent == 1 else "s"))
    capacity = loaded.rules.settings_of(name).capacity
    if capacity.max_calls is not None:
        count = limits.usage(loaded.rules, name)
        parts.append("calls %s/%d" % ("?" if count is None else count, capacity.max_calls))
    if capacity.max_cps is not None:
        parts.append("max %d calls/%ds" % capacity.max_cps)
    return "; " + "; ".join(parts) if parts else ""


def _counts(counter: Dict[str, int]) -> str:
    return " ".join("%s=%d" % item for item in sorted(counter.items()))


def preload(args: Optional[str] = "") -> None:
    """Load the rules and their rate decks at FreeSWITCH start-up so the first call does not pay for parsing.

    Called from ``fs_scripts/fsroute_startup.py`` (python.conf.xml's
    startup-script); ``args`` may name the rules file.
    """
    path = (args or "").strip() or default_rules_path()
    for line in report_lines():
        if line.startswith("PROBLEM"):
            log(ERROR, "fsroute: " + line)
    try:
        store_for(path).current()  # the rules and every deck they name
    except RulesError:
        pass  # the store logged every problem; calls end with on_error until it is fixed
    except Exception as exc:
        log(ERROR, "fsroute: preloading %s failed: %s: %s" % (path, type(exc).__name__, exc))
