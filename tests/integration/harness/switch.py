"""Start and stop a private FreeSWITCH: its own work dir, config, ports, and fsroute installed.

``Switch(bundle, workdir, gateways, rules_text).start()`` installs fsroute
with ``pip install --target`` into the switch's scripts dir (as the README
tells operators), writes the configuration, starts FreeSWITCH with a clean
PATH (DESIGN fact 13) and waits until sofia runs. ``stop()`` shuts it down
by PID (SIGTERM, then SIGKILL).
"""

import csv
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import config
from .esl import ESL, ESLError
from .net import free_port, free_range

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIRS = ("conf", "log", "db", "run", "temp", "storage", "cache", "certs", "recordings", "scripts")


class SwitchError(RuntimeError):
    """FreeSWITCH could not be found, installed into, or started."""


def find_binary(prefix):
    """(freeswitch binary, module dir, dir holding freeswitch.py or None) of a bundle or install prefix."""
    binary = os.path.join(prefix, "bin", "freeswitch")
    if not os.access(binary, os.X_OK):
        raise SwitchError("no executable bin/freeswitch under FSROUTE_FREESWITCH=%s" % prefix)
    mods = [os.path.join(prefix, p) for p in ("lib/freeswitch/mod", "mod", "lib64/freeswitch/mod")]
    mod_dir = next((m for m in mods if os.path.exists(os.path.join(m, "mod_sofia.so"))), None)
    if mod_dir is None:
        raise SwitchError("no mod_sofia.so under %s/lib/freeswitch/mod" % prefix)
    scripts = [os.path.join(prefix, "share/freeswitch/scripts"), "/usr/share/freeswitch/scripts"]
    freeswitch_py = next((s for s in scripts if os.path.exists(os.path.join(s, "freeswitch.py"))), None)
    return binary, mod_dir, freeswitch_py


def clean_env(path=CLEAN_PATH):
    """FreeSWITCH's environment: a PATH whose python3 is the distribution's, no Python overrides."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", "PATH")}
    env["PATH"] = path
    return env


# What a build of the work tree must not see: above all an old build/ dir, whose stale
# modules (a file moved to a subpackage since) setuptools would install along.
_NOT_BUILT = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".git", ".venv", ".hypothesis",
                                    ".mypy_cache", ".pytest_cache", "tests", "benchmarks")


def install_fsroute(target, python=None, source=REPO):
    """``python3 -m pip install --target TARGET <work tree>`` with the switch's python3.

    pip builds a copy of the tree (no build/ or egg-info), so what is installed
    is exactly the tree's fsroute/, and the tree is left as it was. ``--upgrade``
    replaces an fsroute installed there before (without it pip keeps the old
    one and only warns: a reused work directory ran stale code).
    """
    python = python or shutil.which("python3", path=CLEAN_PATH)
    if python is None:
        raise SwitchError("no python3 on %s" % CLEAN_PATH)
    with tempfile.TemporaryDirectory(prefix="fsroute-src-") as copy:
        tree = os.path.join(copy, "fsroute-src")
        shutil.copytree(source, tree, ignore=_NOT_BUILT)
        cmd = [python, "-m", "pip", "install", "--quiet", "--no-warn-script-location", "--upgrade",
               "--target", target, tree]
        done = subprocess.run(cmd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=300)
    if done.returncode != 0:
        raise SwitchError("%s failed:\n%s" % (" ".join(cmd), done.stdout.decode(errors="replace")[-3000:]))
    shutil.copy(os.path.join(source, "fs_scripts", "fsroute_startup.py"), target)


class Switch:
    """One FreeSWITCH process on 127.0.0.1 with ports chosen free at construction."""

    def __init__(self, prefix, workdir, gateways, rules_text=None, rules_path=None,
                 preload=True, path=CLEAN_PATH, log_level="info", install=True, scripts_from=None,
                 extra_modules=(), extra_config=""):
        self.prefix = prefix
        self.binary, self.mod_dir, self.freeswitch_py = find_binary(prefix)
        self.workdir = os.path.abspath(workdir)
        self.gateways = gateways  # {name: FakeGateway or (host, port)}
        self.rules_path = rules_path or os.path.join(self.workdir, "rules.yaml")
        self.preload = preload
        self.path = path
        self.log_level = log_level
        self.extra_modules, self.extra_config = tuple(extra_modules), extra_config
        self.ports = {"sip": free_port(also_tcp=True), "esl": free_port(kind=socket.SOCK_STREAM)}
        rtp_start = free_range(400)
        self.rtp_range = (rtp_start, rtp_start + 399)
        self.process = None
        self.esl = None
        for d in DIRS:
            os.makedirs(os.path.join(self.workdir, d), exist_ok=True)
        if rules_text is not None:
            self.write_rules(rules_text)
        if scripts_from:  # another Switch's scripts dir: fsroute is installed already
            shutil.copytree(scripts_from, self.dir("scripts"), dirs_exist_ok=True)
        elif install:
            install_fsroute(self.dir("scripts"))
            if self.freeswitch_py:
                shutil.copy(os.path.join(self.freeswitch_py, "freeswitch.py"), self.dir("scripts"))
        self.write_config()

    # -- files ------------------------------------------------------------------------
    def dir(self, name):
        return os.path.join(self.workdir, name)

    @property
    def sip_address(self):
        return ("127.0.0.1", self.ports["sip"])

    @property
    def log_path(self):
        return os.path.join(self.dir("log"), "freeswitch.log")

    @property
    def cdr_path(self):
        return os.path.join(self.dir("log"), "cdr-csv", "Master.csv")

    def write_rules(self, text, path=None):
        """Replace the rules file the way an editor does: write a temp file, rename it over."""
        path = path or self.rules_path
        tmp = "%s.tmp%d" % (path, os.getpid())
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def write_config(self, acl_lists=None, extra_extensions="", distributor_lists=None):
        gws = {}
        for name, gw in self.gateways.items():
            gws[name] = (gw.host, gw.port) if hasattr(gw, "port") else tuple(gw)
        startup = ("fsroute_startup " + self.rules_path) if self.preload else None
        conf = self.dir("conf")
        with open(os.path.join(conf, "freeswitch.xml"), "w") as f:
            f.write(config.freeswitch_xml(self.ports, gws, self.rtp_range, self.dir("log"),
                                          startup, self.log_level, distributor_lists,
                                          self.extra_modules, self.extra_config))
        self.write_acl(acl_lists)
        with open(os.path.join(conf, "dialplan.xml"), "w") as f:
            f.write(config.dialplan_xml(self.rules_path, extra_extensions))

    def write_acl(self, lists):
        with open(os.path.join(self.dir("conf"), "acl.conf.xml"), "w") as f:
            f.write(config.acl_xml(lists))

    # -- process --------------------------------------------------------------------------
    def command(self):
        cmd = [self.binary, "-mod", self.mod_dir, "-scripts", self.dir("scripts"),
               "-nf", "-nc", "-nonat", "-nonatmap", "-base", self.workdir]
        for d in DIRS[:-1]:
            cmd += ["-" + d, self.dir(d)]
        return cmd

    def start(self, timeout=60.0):
        """Start FreeSWITCH and wait until its event socket answers and sofia's profile runs."""
        if self.process is not None:
            raise SwitchError("already running")
        self._log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        out = open(os.path.join(self.workdir, "stdout.log"), "ab")
        self.process = subprocess.Popen(self.command(), cwd=self.workdir, env=clean_env(self.path),
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise SwitchError("FreeSWITCH exited with %s at start; see %s" % (
                        self.process.returncode, os.path.join(self.workdir, "stdout.log")))
                if time.monotonic() > deadline:
                    raise SwitchError("FreeSWITCH did not come up within %.0f s; log: %s" % (timeout, self.log_path))
                if self.esl is None:
                    try:
                        self.esl = ESL(self.ports["esl"])
                    except (OSError, ESLError):
                        time.sleep(0.2)
                        continue
                if self.api("status").startswith("UP") and \
                        "RUNNING" in self.api("sofia status"):
                    return self
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout=15.0):
        """Shut FreeSWITCH down by PID: ``shutdown`` over ESL, then SIGTERM, then SIGKILL."""
        process, self.process = self.process, None
        if self.esl is not None:
            try:
                self.esl.sock.settimeout(2)
                self.esl.api("fsctl shutdown")
            except (OSError, ESLError):
                pass
            try:
                self.esl.sock.close()
            except OSError:
                pass
            self.esl = None
        if process is None:
            return
        for sig, wait in ((None, timeout), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if sig is not None and process.poll() is None:
                os.kill(process.pid, sig)
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def restart(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    # -- talking to it -------------------------------------------------------------------
    def api(self, command):
        """An API command over the event socket (one connection, reused)."""
        if self.esl is None:
            raise SwitchError("not running")
        return self.esl.api(command)

    def fs_cli(self, command, timeout=30):
        """``fs_cli -x COMMAND`` as an operator types it; returns its stdout."""
        fs_cli = os.path.join(self.prefix, "bin", "fs_cli")
        done = subprocess.run([fs_cli, "-H", "127.0.0.1", "-P", str(self.ports["esl"]), "-p", "ClueCon",
                               "-x", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, env=clean_env())
        return done.stdout.decode("utf-8", "replace")

    def gateways_down(self, profile="external"):
        """The gateways sofia has DOWN (what fsroute reads)."""
        return set(self.api("sofia profile %s gwlist down" % profile).split())

    def wait_gateways(self, down=(), timeout=20.0, profile="external"):
        """Wait until exactly ``down`` of our gateways are DOWN in sofia's gwlist."""
        want = set(down)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.gateways_down(profile) & set(self.gateways)
            if seen == want:
                return
            if time.monotonic() > deadline:
                raise SwitchError("gateways down: %s, wanted %s" % (sorted(seen), sorted(want)))
            time.sleep(0.25)

    # -- what it wrote -------------------------------------------------------------------
    def log_text(self, since_start=False):
        """The FreeSWITCH log (since this start, if asked)."""
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self._log_start)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10.0, since_start=True, mark=None):
        """Wait until ``text`` is in the log (since ``mark`` if given, else since this start); returns the
        log's lines holding it. FreeSWITCH writes its log from a queue: a line can follow an API's answer."""
        deadline = time.monotonic() + timeout
        while True:
            text_so_far = self.log_since(mark) if mark is not None else self.log_text(since_start)
            lines = [l for l in text_so_far.splitlines() if text in l]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def log_mark(self):
        """A position in the log; ``log_since(mark)`` reads what came after."""
        return os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0

    def log_since(self, mark):
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def cdrs(self):
        """Every A-leg CDR so far, as dicts keyed by config.CDR_FIELDS."""
        try:
            with open(self.cdr_path, newline="") as f:
                return [dict(zip(config.CDR_FIELDS, row)) for row in csv.reader(f) if row]
        except FileNotFoundError:
            return []

    def cdr_for(self, call_id, timeout=5.0):
        """The CDR of the call with SIP Call-ID ``call_id`` (written when the channel is destroyed)."""
        deadline = time.monotonic() + timeout
        while True:
            for row in self.cdrs():
                if row["sip_call_id"] == call_id:
                    return row
            if time.monotonic() > deadline:
                raise SwitchError("no CDR for Call-ID %s" % call_id)
            time.sleep(0.05)


def fsroute_lines(log_text, uuid=None):
    """fsroute's per-call log lines (``fsroute uuid=... result=...``), of one call if ``uuid`` is given."""
    marker = "fsroute uuid=%s " % uuid if uuid else "fsroute uuid="
    return [line[line.index(marker):] for line in log_text.splitlines() if marker in line]


def parse_line(line):
    """The key=value fields of an fsroute log line (route names with spaces are quoted)."""
    import shlex
    try:
        words = shlex.split(line)
    except ValueError:  # an unbalanced quote in the trailing "(detail)"
        words = line.split()
    fields = {}
    for word in words:
        name, sep, value = word.partition("=")
        if sep:
            fields[name] = value
    return fields
