"""Fixtures for the real-FreeSWITCH suite; the machinery lives in ``harness/``.

Runs only with ``FSROUTE_FREESWITCH=<dir>`` (an extracted bundle or an
install prefix with bin/freeswitch); otherwise every test here is skipped
with one line saying so, unless ``FSROUTE_REQUIRE_FREESWITCH=1`` asks for
a failure instead (CI).
"""

import os
import shutil
import sys
import tempfile

import pytest

from .harness import Caller, FakeGateway, Switch
from .harness.switch import SwitchError

HOW = "set FSROUTE_FREESWITCH=<dir> to run the real-FreeSWITCH tests: see docs/integration.md"
BUNDLE = os.environ.get("FSROUTE_FREESWITCH", "")
REQUIRED = os.environ.get("FSROUTE_REQUIRE_FREESWITCH", "") not in ("", "0")
GATEWAYS = ("gw1", "gw2", "gw3", "gw4")

# The rules every test starts from (tests replace them with fs.use_rules).
BASE_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  reload_check: 0.5
groups:
  split:
    strategy: weighted_round_robin
    gateways: [{name: gw1, weight: 1}, {name: gw2, weight: 2}]
routes:
  - name: prefix
    match: {destination_number: '^9(10[01][0-9])$'}
    number: '$1'
    gateway: gw1
  - name: default
    match: {destination_number: '^(\\d+)$'}
    number: '$1'
    group: split
"""

_skipped = []


def pytest_collection_modifyitems(config, items):
    if BUNDLE or REQUIRED:
        return
    here = os.path.dirname(__file__)
    marker = pytest.mark.skip(reason=HOW)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(marker)
            _skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line("%d real-FreeSWITCH tests skipped: %s" % (len(_skipped), HOW))


@pytest.fixture(scope="session")
def bundle():
    if not BUNDLE:
        pytest.fail("FSROUTE_REQUIRE_FREESWITCH=1 but FSROUTE_FREESWITCH is not set: " + HOW, pytrace=False)
    return os.path.abspath(BUNDLE)


@pytest.fixture(scope="session")
def gateways():
    gws = {name: FakeGateway(name).start() for name in GATEWAYS}
    yield gws
    for gw in gws.values():
        gw.stop()


@pytest.fixture(scope="session")
def workdirs(request):
    """workdir() -> a new directory of our own (pytest's tmp dirs are pruned by other runs on a
    shared machine); all removed at the end unless a test failed."""
    made = []

    def workdir(name="freeswitch"):
        made.append(tempfile.mkdtemp(prefix="fsroute-it-%s-" % name))
        return made[-1]
    yield workdir
    if request.session.testsfailed:
        sys.stderr.write("\nFreeSWITCH work dirs kept for a look: %s\n" % " ".join(made))
    else:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def switch(bundle, gateways, workdirs):
    """The session's FreeSWITCH; stopped by PID at the end, also when tests fail."""
    fs = None
    try:
        fs = Switch(bundle, workdirs(), gateways, BASE_RULES)
        fs.start()
    except SwitchError as exc:
        if fs is not None:
            fs.stop()
        pytest.fail("the FreeSWITCH at %s did not start: %s" % (bundle, exc), pytrace=False)
    yield fs
    fs.stop()


class Env:
    """One test's view: the switch, its gateways, callers, and rules helpers."""

    def __init__(self, switch, gateways):
        self.switch = switch
        self.gateways = gateways
        self._callers = {}

    def caller(self, source="127.0.0.1"):
        if source not in self._callers:
            self._callers[source] = Caller(self.switch.sip_address, source)
        return self._callers[source]

    def call(self, destination, source="127.0.0.1", **options):
        # A caller that sends BYE the instant it sees 200 can beat the end of the switch's
        # originate: FreeSWITCH then reports ORIGINATOR_CANCEL for a call the caller saw
        # answered (seen in CI). Real callers talk first; hold the call a moment by default.
        options.setdefault("hold", 0.3)
        return self.caller(source).call(destination, **options)

    def use_rules(self, text):
        """Put ``text`` in the rules file and load it now (``python fsroute.ctl reload``)."""
        self.switch.write_rules(text)
        answer = self.switch.api("python fsroute.ctl reload %s" % self.switch.rules_path)
        assert answer.startswith("+OK reloaded"), answer
        return answer.split("sha=")[1].split()[0]

    def cdr(self, result):
        return self.switch.cdr_for(result.call_id)

    def invites(self):
        """INVITE count per gateway."""
        return {name: gw.invite_count() for name, gw in self.gateways.items()}

    def close(self):
        for c in self._callers.values():
            c.close()


@pytest.fixture
def fs(switch, gateways):
    """Per test: gateways answering and UP, counters at zero, the base rules loaded."""
    reopened = False
    for gw in gateways.values():
        gw.mode, gw.reject_code, gw.answer_delay = "answer", 503, 0.0
        gw.reject_reason = gw.hangup_after = None
        gw.ring_delay = 0.0
        if not gw.is_open:
            gw.reopen()
            reopened = True
        gw.reset()
    if reopened or switch.gateways_down() & set(gateways):
        switch.wait_gateways(down=(), timeout=15)
    env = Env(switch, gateways)
    env.use_rules(BASE_RULES)
    env.log_mark = switch.log_mark()
    yield env
    env.close()
