#!/usr/bin/env python3
"""fsroute against the classic XML dialplan + mod_distributor + mod_acl recipe, in a real FreeSWITCH.

    FSROUTE_FREESWITCH=/tmp/fsb python benchmarks/realfs.py [--quick] [--only table|breakdown|profile]

Every measurement runs on a fresh private FreeSWITCH (tests/integration/
harness) on loopback with two fake gateways that answer at once; SIPp (the
bundle's bin/sipp) places the calls and hangs up as soon as they answer.
fsroute is preloaded by the start-up script and the first reload is awaited,
so no call pays for loading.

1. table: for N = 0, 1,000, 10,000 and 100,000 never-matching prefix routes
   ahead of the one that matches (the XML side: N extensions ahead of the
   recipe's), each recipe on its own switch:
   - max cps carried: the offered rate is halved until a step is carried
     (< 1 % failed, >= 95 % of the offered rate achieved), then raised by a
     quarter until a step is not, within --cps-bound seconds;
   - CPU s per 1000 calls: utime+stime of the FreeSWITCH process
     (/proc/PID/stat) over --calls calls at --rate cps (or half the max cps
     if lower), minus what the idle switch used over an equal period just
     before; median (min-max) over --rounds interleaved rounds.
2. breakdown at N = 0: the XML recipe, handlers written into the switch's
   script dir that only bridge (the mod_python3 floor) or also set ten
   variables and log a line, and fsroute with one part at a time taken out
   (gateway-state read, store reload check, log line, channel variables, the
   package entry module). In each round all of them run at once, one switch
   each, so they share the machine's ups and downs; each is compared with
   the XML recipe of the same round.
3. profile at N = 0: per call, on the call thread's CPU clock, inside the
   switch: the entry module's reload, the handler, the bridge within it, and
   the Python left (handler less bridge); counted after warm-up calls, for
   each handler of the breakdown and for fsroute 0.1.0 (commit 2a7c7f3, from
   this clone's history) in place of this tree's fsroute, as the reference.

--quick skips the XML recipe at 100,000 (minutes to start), uses fewer calls
and shorter rate steps. Progress goes to stderr, the tables to stdout.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.integration.harness import FakeGateway, Switch  # noqa: E402
from tests.integration.harness.switch import clean_env, find_binary, install_fsroute  # noqa: E402
from run import reference_package  # noqa: E402

DEST = "5551234"
GROUP = [("gw1", 1), ("gw2", 2)]
TICK = os.sysconf("SC_CLK_TCK")

RULES_HEAD = """\
version: 1
acls:
  trunk_peers:
    default: deny
    nodes: [{allow: 127.0.0.0/8}]
groups:
  gw_group_1:
    strategy: weighted_round_robin
    gateways: [{name: gw1, weight: 1}, {name: gw2, weight: 2}]
routes:
"""
RULES_TAIL = """\
  - name: default
    acl: trunk_peers
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    group: gw_group_1
"""

XML_RECIPE = """\
    <extension name="default">
      <condition field="${acl(${network_addr} trunk_peers)}" expression="^true$"/>
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="bridge" data="sofia/gateway/${expand(distributor gw_group_1 \
${sofia(profile external gwlist down)})}/$1"/>
      </condition>
    </extension>
"""
PYTHON_EXTENSION = """\
    <extension name="default">
      <condition field="destination_number" expression="^(\\d+)$">
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="python" data="%s %s"/>
      </condition>
    </extension>
"""

# Handlers of the breakdown, written into the switch's script dir.
# mod_python3 re-executes the named module on every call (DESIGN fact 2).
HANDLERS = {
    "bench_bridge": '''
def handler(session, args):
    session.execute("bridge", "sofia/gateway/gw1/" + session.getVariable("destination_number"))
''',
    "bench_vars_log": '''
import freeswitch

def handler(session, args):
    number = session.getVariable("destination_number")
    session.execute("bridge", "sofia/gateway/gw1/" + number)
    for i in range(10):
        session.setVariable("bench_var_%d" % i, number)
    freeswitch.consoleLog("info", "bench uuid=%s result=bridged number=%s\\n"
                          % (session.getVariable("uuid"), number))
''',
    # fsroute through a top-level entry module instead of the package's fsroute.route
    "bench_fsroute": '''
from fsroute.runtime.call import handle as handler  # noqa: F401
''',
    "bench_no_reload_check": '''
from fsroute.runtime import call, process

class _Fixed:
    def __init__(self, loaded):
        self.loaded = loaded

    def current(self):
        return self.loaded

def _store_for(path, _cache={}):
    fixed = _cache.get(path)
    if fixed is None:
        fixed = _cache[path] = _Fixed(process.store_for(path).current())
    return fixed

if not hasattr(call, "_bench_store_for"):
    call._bench_store_for = _store_for
call.store_for = call._bench_store_for
handler = call.handle
''',
    "bench_no_log": '''
from fsroute.runtime import call, logline
logline.log = lambda level, message: None
handler = call.handle
''',
    "bench_no_vars": '''
from fsroute.runtime import call

class _NoSet:
    """The session with setVariable of fsroute_* and continue_on_fail dropped."""
    def __init__(self, session):
        self._s = session

    def setVariable(self, name, value):
        if name == "originate_disposition":
            self._s.setVariable(name, value)

    def __getattr__(self, name):
        return getattr(self._s, name)

def handler(session, args):
    session.setVariable("continue_on_fail", "true")
    call.handle(_NoSet(session), args)
''',
    # Times another handler on the call thread's CPU clock: "bench_timed MODULE RULES".
    "bench_timed": '''
import importlib, resource, sys, time
import freeswitch

state = sys.modules.setdefault("bench_timed_state", type(sys)("bench_timed_state"))
if not hasattr(state, "calls"):
    state.calls, state.reload_s, state.handler_s, state.execute_s = 0, 0.0, 0.0, 0.0
    state.usage = [0.0, 0.0, 0]  # the handler less its bridge: user s, system s, minor page faults
    execute = freeswitch.CoreSession.execute

    def usage():
        u = resource.getrusage(resource.RUSAGE_THREAD)
        return u.ru_utime, u.ru_stime, u.ru_minflt

    def timed_execute(self, *args):
        t0, u0 = time.thread_time(), usage()
        try:
            return execute(self, *args)
        finally:
            state.execute_s += time.thread_time() - t0
            state.usage = [a - (b - c) for a, b, c in zip(state.usage, usage(), u0)]

    state.usage_of = usage
    freeswitch.CoreSession.execute = timed_execute

def handler(session, args):
    name, _, rest = args.partition(" ")
    t0 = time.thread_time()
    module = importlib.reload(importlib.import_module(name))
    t1, u1 = time.thread_time(), state.usage_of()
    module.handler(session, rest)
    t2, u2 = time.thread_time(), state.usage_of()
    state.calls += 1
    state.reload_s += t1 - t0
    state.handler_s += t2 - t1
    state.usage = [a + (b - c) for a, b, c in zip(state.usage, u2, u1)]

def fsapi(session, stream, env, args):
    if args == "reset":  # after warm-up calls: count only what follows
        state.calls, state.reload_s, state.handler_s, state.execute_s = 0, 0.0, 0.0, 0.0
        state.usage = [0.0, 0.0, 0]
        stream.write("reset\\n")
        return
    n = max(state.calls, 1)
    user, system, faults = state.usage
    stream.write("calls=%d reload_us=%.1f handler_us=%.1f execute_us=%.1f python_us=%.1f "
                 "python_user_us=%.1f python_system_us=%.1f python_minor_faults=%.1f\\n" % (
        state.calls, state.reload_s / n * 1e6, state.handler_s / n * 1e6, state.execute_s / n * 1e6,
        (state.handler_s - state.execute_s) / n * 1e6, user / n * 1e6, system / n * 1e6, faults / n))
''',
    # Profiles another handler call by call on the thread's CPU clock: "bench_cprofile MODULE RULES".
    "bench_cprofile": '''
import cProfile, importlib, io, pstats, sys, time

state = sys.modules.setdefault("bench_cprofile_state", type(sys)("bench_cprofile_state"))
if not hasattr(state, "stats"):
    state.stats = None
    state.calls = 0

def handler(session, args):
    name, _, rest = args.partition(" ")
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    importlib.reload(importlib.import_module(name)).handler(session, rest)
    profiler.disable()
    stats = pstats.Stats(profiler)
    if state.stats is None:
        state.stats = stats
    else:
        state.stats.add(stats)
    state.calls += 1

def fsapi(session, stream, env, args):
    out = io.StringIO()
    state.stats.stream = out
    state.stats.sort_stats(args or "tottime").print_stats(30)
    stream.write("calls=%d\\n%s" % (state.calls, out.getvalue()))
''',
}


def log(message):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def cpu_seconds(pid):
    """utime + stime of process ``pid`` (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rules_text(n):
    lines = ["  - {name: r%d, match: {destination_number: '^77%06d(\\d+)$'}, number: '$1', gateway: gw1}\n"
             % (i, i) for i in range(n)]
    return RULES_HEAD + "".join(lines) + RULES_TAIL


def xml_extensions(n):
    never = ('    <extension name="r%d"><condition field="destination_number" expression="^77%06d(\\d+)$">'
             '<action application="bridge" data="sofia/gateway/gw1/$1"/></condition></extension>\n')
    return "".join(never % (i, i) for i in range(n)) + XML_RECIPE


class Bench:
    def __init__(self, bundle, workroot, gateways):
        self.bundle = bundle
        self.workroot = workroot
        self.gateways = gateways
        self.sipp = os.path.join(bundle, "bin", "sipp")
        self.scripts = os.path.join(workroot, "scripts-template")
        install_fsroute(self.scripts)
        freeswitch_py = find_binary(bundle)[2]
        if freeswitch_py:
            shutil.copy(os.path.join(freeswitch_py, "freeswitch.py"), self.scripts)
        for name, text in HANDLERS.items():
            with open(os.path.join(self.scripts, name + ".py"), "w") as f:
                f.write(text.lstrip())
        self.runs = 0

    def reference_scripts(self):
        """The scripts dir with fsroute 0.1.0 (commit 2a7c7f3, from this clone's history) in place of
        this tree's fsroute; None when the clone does not have it."""
        target = os.path.join(self.workroot, "scripts-0.1.0")
        if not os.path.isdir(target):
            package = reference_package(self.workroot)
            if package is None:
                return None
            shutil.copytree(self.scripts, target)
            shutil.rmtree(os.path.join(target, "fsroute"))
            shutil.copytree(os.path.join(package, "fsroute"), os.path.join(target, "fsroute"))
        return target

    def switch(self, n, handler, scripts=None):
        """A fresh FreeSWITCH whose default extension runs ``handler`` ("xml" or a module name), its
        scripts from ``scripts`` (default: this tree's fsroute and the handlers; another fsroute there
        is not preloaded: its first call loads the rules)."""
        self.runs += 1
        workdir = os.path.join(self.workroot, "fs%d" % self.runs)
        shutil.copytree(scripts or self.scripts, os.path.join(workdir, "scripts"))
        fs = Switch(self.bundle, workdir, self.gateways, rules_text(n if handler != "xml" else 0),
                    install=False)
        base = 20000 + (self.runs % 60) * 500  # RTP ports apart from the other switches of this run
        fs.rtp_range = (base, base + 399)
        if handler == "xml":
            extensions = xml_extensions(n)
        else:
            extensions = PYTHON_EXTENSION % (handler, fs.rules_path)
        fs.write_config(acl_lists={"trunk_peers": ("deny", [("allow", "127.0.0.0/8")])},
                        extra_extensions=extensions, distributor_lists={"gw_group_1": GROUP})
        started = time.monotonic()
        fs.start(timeout=1800)
        try:
            fs.wait_gateways(down=(), timeout=30)
            if scripts is None:
                self._wait_preload(fs)
        except BaseException:
            self.stop(fs)
            raise
        log("switch %s N=%d up in %.1f s (pid %d)" % (handler, n, time.monotonic() - started, fs.pid))
        return fs

    def _wait_preload(self, fs, timeout=120):
        deadline = time.monotonic() + timeout
        while "fsroute: loaded" not in fs.log_text(since_start=True):
            if time.monotonic() > deadline:
                raise RuntimeError("the start-up preload did not load %s" % fs.rules_path)
            time.sleep(0.2)

    def stop(self, fs):
        fs.stop()
        shutil.rmtree(fs.workdir, ignore_errors=True)

    def place(self, fs, calls, rate, timeout):
        """SIPp places ``calls`` calls at ``rate`` cps; returns (succeeded, failed, seconds of placing).

        The seconds of placing are SIPp's wall time less its mean call length:
        about the time from the first INVITE to the last.

        At most ``rate`` calls (10 at least) are up at once, so an overloaded
        switch slows the calls down instead of piling up a backlog.
        """
        stat = os.path.join(fs.workdir, "sipp-%d.csv" % time.monotonic_ns())
        host, port = fs.sip_address
        cmd = [self.sipp, "%s:%d" % (host, port), "-sn", "uac", "-s", DEST, "-i", "127.0.0.1",
               "-r", str(rate), "-m", str(calls), "-l", str(max(10, rate)), "-d", "0", "-nostdin", "-recv_timeout", "5000",
               "-timeout", "%ds" % timeout, "-trace_stat", "-stf", stat, "-fd", "1"]
        started = time.monotonic()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
                       timeout=timeout + 30)
        wall = time.monotonic() - started
        with open(stat) as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
        row = dict(zip(rows[0], rows[-1]))
        ok, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
        hours, minutes, seconds, micros = (int(x) for x in row["CallLength(C)"].split(":"))
        length = hours * 3600 + minutes * 60 + seconds + micros / 1e6
        return ok, failed + (calls - ok - failed), max(wall - length, 1e-3)

    def drain(self, fs, timeout=30):
        """Wait until the switch has no channels left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if fs.api("show channels count").strip().startswith("0 total"):
                return
            time.sleep(0.1)

    def cpu_per_1000(self, switches, calls, rate, tail=3.0):
        """FreeSWITCH CPU seconds per 1000 calls of each switch, net of idle over an equal period before.

        The switches are loaded at the same time, so that they share the
        machine's ups and downs (other processes, frequency, caches).
        """
        def each(func, *args):
            threads = [threading.Thread(target=lambda fs=fs: results.__setitem__(fs, func(fs, *args)))
                       for fs in switches]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        results = {}
        each(self.place, max(3, min(100, 2 * rate)), rate, 120)  # warm-up: first calls, first gwlist reading
        for fs in switches:
            self.drain(fs)
        time.sleep(tail)
        period = calls / float(rate) + tail
        idle0 = {fs: cpu_seconds(fs.pid) for fs in switches}
        time.sleep(period)
        idle = {fs: cpu_seconds(fs.pid) - idle0[fs] for fs in switches}
        started, cpu0 = time.monotonic(), {fs: cpu_seconds(fs.pid) for fs in switches}
        each(self.place, calls, rate, int(calls / rate) + 60)
        for fs in switches:
            self.drain(fs)
        time.sleep(max(0.0, started + period - time.monotonic()))
        span = time.monotonic() - started
        out = []
        for fs in switches:
            ok, failed, _ = results[fs]
            net = cpu_seconds(fs.pid) - cpu0[fs] - idle[fs] * span / period
            if failed:
                log("  %d of %d calls failed" % (failed, calls))
            out.append(net / max(ok, 1) * 1000.0)
        return out

    def max_cps(self, fs, start, step_seconds, bound):
        """The highest offered rate carried (< 1 % failed, >= 95 % of it achieved).

        Halves the rate from ``start`` until a step is carried, then steps
        up by a quarter until one is not or ``bound`` seconds have passed.
        """
        rate, best, deadline = start, 0, time.monotonic() + bound
        while rate >= 1 and time.monotonic() + step_seconds < deadline:
            calls = max(int(rate * step_seconds), 3)
            ok, failed, seconds = self.place(fs, calls, rate, step_seconds * 3 + 30)
            self.drain(fs, timeout=120)
            achieved = ok / seconds
            carried = failed < 0.01 * calls and achieved >= 0.95 * rate
            log("  %d cps offered: %d ok, %d failed, %.1f cps achieved%s"
                % (rate, ok, failed, achieved, "" if carried else ": not carried"))
            if carried:
                best = rate
                rate = int(rate * 1.25) + 5
            elif best:
                break
            else:
                rate //= 2
            time.sleep(2)
        return best


def spread(values):
    return "%.2f (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))


def versions(bundle):
    done = subprocess.run([os.path.join(bundle, "bin", "freeswitch"), "-version"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=clean_env())
    fs_version = done.stdout.decode(errors="replace").strip().splitlines()[-1]
    python = subprocess.run(["/usr/bin/python3", "-V"], stdout=subprocess.PIPE).stdout.decode().strip()
    return fs_version, python


def header(bundle):
    fs_version, embedded = versions(bundle)
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return ["machine: %s, %d cores, %s" % (cpu, os.cpu_count(), platform.platform()),
            "date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "FreeSWITCH: %s; embedded Python: %s; benchmark Python: %s"
            % (fs_version, embedded, platform.python_version())]


def main_table(bench, sizes, args):
    """CPU per 1000 calls (interleaved rounds) and max cps, per N and recipe.

    The max cps is searched in the first round; the CPU is measured at
    ``--rate`` or at half the max cps if that is lower, for at most
    ``--cpu-seconds`` seconds of calls.
    """
    cpu, cps, rates = {}, {}, {}
    for round_no in range(args.rounds):
        for n in sizes:
            for recipe in ("xml", "fsroute.route"):
                if recipe == "xml" and n >= 100000 and args.quick:
                    continue
                fs = bench.switch(n, recipe)
                try:
                    if round_no == 0:
                        # a larger N starts the search at half what the previous N carried
                        smaller = [cps[(m, recipe)] for m in sizes if m < n and (m, recipe) in cps]
                        start = max(1, smaller[-1] // 2) if smaller else args.cps_start
                        cps[(n, recipe)] = bench.max_cps(fs, start, args.step_seconds, args.cps_bound)
                    rate = max(1, min(args.rate, cps[(n, recipe)] // 2))
                    calls = min(args.calls, rate * args.cpu_seconds)
                    rates[(n, recipe)] = rate
                    per, = bench.cpu_per_1000([fs], calls, rate)
                    cpu.setdefault((n, recipe), []).append(per)
                    log("round %d N=%d %s: %.2f s per 1000 calls (%d calls at %d cps)"
                        % (round_no + 1, n, recipe, per, calls, rate))
                finally:
                    bench.stop(fs)
    lines = ["%-8s %-28s %-26s %-12s %s" % ("N", "recipe", "CPU s per 1000 calls", "at cps", "max cps carried")]
    for n in sizes:
        for recipe in ("xml", "fsroute.route"):
            if (n, recipe) not in cpu:
                lines.append("%-8s %-28s %-26s %-12s %s" % ("{:,}".format(n), NAMES[recipe], "skipped (--quick)", "-", "-"))
                continue
            lines.append("%-8s %-28s %-26s %-12s %s" % ("{:,}".format(n), NAMES[recipe], spread(cpu[(n, recipe)]),
                                                        rates[(n, recipe)], cps[(n, recipe)] or "< 1"))
    return lines


NAMES = {
    "xml": "XML + distributor + acl",
    "fsroute.route": "fsroute",
    "bench_bridge": "python: bridge only (floor)",
    "bench_vars_log": "python: bridge + 10 vars + log",
    "bench_fsroute": "fsroute, top-level entry",
    "bench_no_reload_check": "fsroute - reload check",
    "bench_no_log": "fsroute - log line",
    "bench_no_vars": "fsroute - channel variables",
}


PYTHON_HANDLERS = ["bench_bridge", "bench_vars_log", "fsroute.route", "bench_fsroute",
                   "bench_no_reload_check", "bench_no_log", "bench_no_vars"]


def breakdown(bench, args):
    """CPU per 1000 calls of each handler (at N = 0, or N given as HANDLER@N); all at once in each round."""
    handlers = ["xml"] + (args.handlers.split(",") if args.handlers else PYTHON_HANDLERS)
    cpu, ratio = {}, {}
    for round_no in range(args.rounds):
        switches = []
        try:
            for handler in handlers:
                name, _, n = handler.partition("@")
                switches.append(bench.switch(int(n or 0), name))
            costs = bench.cpu_per_1000(switches, args.calls, args.breakdown_rate)
        finally:
            for fs in switches:
                bench.stop(fs)
        for handler, per in zip(handlers, costs):
            cpu.setdefault(handler, []).append(per)
            ratio.setdefault(handler, []).append((per / costs[0] - 1) * 100)
        log("round %d: %s" % (round_no + 1, ", ".join("%s %.2f" % (h, c) for h, c in zip(handlers, costs))))
    lines = ["%-34s %-26s %s" % ("handler (N = 0 unless given)", "CPU s per 1000 calls", "vs XML in the same round, %")]
    for handler in handlers:
        name, _, n = handler.partition("@")
        label = NAMES[name] + (", N = {:,}".format(int(n)) if n else "")
        lines.append("%-34s %-26s %s" % (label, spread(cpu[handler]),
                                         "%+.1f (%+.1f..%+.1f)" % (statistics.median(ratio[handler]),
                                                                    min(ratio[handler]), max(ratio[handler]))))
    return lines


def profile(bench, args):
    """Python time per call on the call's thread (CPU clock): module reload, handler, bridge excluded."""
    lines = ["%-34s %s" % ("handler (N = 0), thread CPU per call", "reload us, handler us, of it bridge us, "
                                                                     "Python us (of it user, system us; "
                                                                     "minor page faults)")]
    reference = bench.reference_scripts()
    runs = [(NAMES[h], h, None) for h in PYTHON_HANDLERS] + (
        [("fsroute 0.1.0 (reference)", "fsroute.route", reference)] if reference else [])
    for name, handler, scripts in runs:
        fs = bench.switch(0, "bench_timed " + handler, scripts)
        try:
            warm = max(10, args.rate)  # first calls: the module imports (and 0.1.0's first load)
            bench.place(fs, warm, args.rate, int(warm / args.rate) + 60)
            bench.drain(fs)
            fs.api("python bench_timed reset")
            bench.place(fs, args.calls, args.rate, int(args.calls / args.rate) + 60)
            bench.drain(fs)
            answer = fs.api("python bench_timed")
        finally:
            bench.stop(fs)
        log("%s: %s" % (name, answer.strip()))
        fields = dict(word.split("=") for word in answer.split())
        lines.append("%-34s %s" % (name, ", ".join(
            fields[k] for k in ("reload_us", "handler_us", "execute_us", "python_us", "python_user_us",
                                "python_system_us", "python_minor_faults"))))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--freeswitch", default=os.environ.get("FSROUTE_FREESWITCH", ""),
                        help="extracted bundle or install prefix (default $FSROUTE_FREESWITCH)")
    parser.add_argument("--quick", action="store_true", help="skip XML at 100,000; fewer calls")
    parser.add_argument("--calls", type=int, help="calls per CPU measurement")
    parser.add_argument("--rate", type=int, default=50, help="cps of the CPU measurement")
    parser.add_argument("--rounds", type=int, help="interleaved rounds")
    parser.add_argument("--breakdown-rate", type=int, default=10, help="cps per handler in the breakdown")
    parser.add_argument("--handlers", help="comma-separated handlers of the breakdown, HANDLER[@N] "
                        "(default: all, N = 0)")
    parser.add_argument("--sizes", help="comma-separated N (default 0,1000,10000,100000)")
    parser.add_argument("--cps-start", type=int, default=40, help="first offered rate of the max-cps search")
    parser.add_argument("--cpu-seconds", type=int, default=60, help="seconds of calls per CPU measurement, at most")
    parser.add_argument("--step-seconds", type=int, help="seconds per offered-rate step")
    parser.add_argument("--cps-bound", type=int, help="seconds at most per max-cps search")
    parser.add_argument("--only", choices=("table", "breakdown", "profile"))
    args = parser.parse_args()
    if not args.freeswitch:
        parser.error("set FSROUTE_FREESWITCH or --freeswitch to an extracted FreeSWITCH bundle")
    args.calls = args.calls or (300 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 2)
    args.step_seconds = args.step_seconds or (3 if args.quick else 10)
    args.cps_bound = args.cps_bound or (30 if args.quick else 120)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [0, 1000, 10000, 100000]
    bundle = os.path.abspath(args.freeswitch)
    workroot = tempfile.mkdtemp(prefix="fsroute-realfs-")
    gateways = {name: FakeGateway(name).start() for name, _ in GROUP}
    out = header(bundle)
    try:
        bench = Bench(bundle, workroot, gateways)
        if args.only in (None, "table"):
            out += ["", "calls at %d cps, %d calls per measurement, %d round(s); CPU: median (min-max)"
                    % (args.rate, args.calls, args.rounds)] + main_table(bench, sizes, args)
        if args.only in (None, "breakdown"):
            out += [""] + breakdown(bench, args)
        if args.only in (None, "profile"):
            out += [""] + profile(bench, args)
    finally:
        for gw in gateways.values():
            gw.stop()
        shutil.rmtree(workroot, ignore_errors=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
