"""A gateway flapping UP/DOWN every few seconds under load (issue 21): no call goes to a gateway the
last reading has DOWN, and the log gets a few lines, not one per change; metrics and events count all."""

import re

from fsroute import ctl, route
from fsroute.runtime import process
from fsroute.runtime.events import GATEWAY
from fsroute.runtime.flaplog import BURST, WINDOW
from fsroute.runtime.poller import Poller
from fsroute.testing import StubSession


def no_thread(name, target):
    pass


def flap(fake_freeswitch, down):
    fake_freeswitch.set_gateways("external", up=["gw2"] + ([] if down else ["gw1"]), down=["gw1"] if down else [])


def gw1_lines(fake_freeswitch):
    return [m for m in fake_freeswitch.log_lines() if m.startswith("fsroute: gateway gw1 ")]


def test_a_flapping_gateway_logs_a_few_lines_and_its_state_once_a_window(fake_freeswitch, clock):
    flap(fake_freeswitch, down=False)
    poller = Poller(clock=clock, start=no_thread)
    poller.watch("a.yaml", ["external"], [], period=2, timeout=1)
    for n in range(60):  # two minutes, a change every 2 s: DOWN, UP, DOWN...
        clock.advance(2)
        flap(fake_freeswitch, down=n % 2 == 0)
        poller.poll()
    lines = gw1_lines(fake_freeswitch)
    assert lines[:BURST] == ["fsroute: gateway gw1 (external) is down (was up)",
                             "fsroute: gateway gw1 (external) is up (was down)"] * (BURST // 2)
    assert lines[BURST] == ("fsroute: gateway gw1 (external) is flapping (5 changes in 60s): is down now; its "
                            "state is logged once per 60s while it changes (metrics and events count every change)")
    # a window after it began to flap (at 10 s): where it is at 70 s, and the changes of 12..70 s
    assert lines[BURST + 1:] == ["fsroute: gateway gw1 (external) is down (30 changes not logged in the last 60s)"]
    assert len(fake_freeswitch.fired(GATEWAY)) == 60  # every change is an event...
    page = ctl.command("metrics")  # ...and a count
    for state in ("down", "up"):
        assert re.search(r'fsroute_gateway_state_changes_total\{gateway="gw1",profile="external",state="%s"\} 30'
                         % state, page), page

    flap(fake_freeswitch, down=True)  # it settles DOWN: said within a window, then quiet
    for _ in range(int(2 * WINDOW / 2) + 1):
        clock.advance(2)
        poller.poll()
    assert gw1_lines(fake_freeswitch)[len(lines):] == [
        "fsroute: gateway gw1 (external) is down (26 changes not logged in the last 60s)"]
    flap(fake_freeswitch, down=False)  # a window without a change: its next change is a line again
    clock.advance(2)
    poller.poll()
    assert gw1_lines(fake_freeswitch)[-1] == "fsroute: gateway gw1 (external) is up (was down)"


def test_no_call_goes_to_a_gateway_the_last_reading_has_down(write_rules, fake_freeswitch, clock):
    flap(fake_freeswitch, down=False)
    path = write_rules("""\
        version: 1
        defaults: {status_ttl: 1}
        groups: {g: {strategy: weighted_round_robin, gateways: [gw1, gw2]}}
        routes: [{name: r, match: {destination_number: '^(\\d+)$'}, group: g}]
        """)
    process.store_for(path, clock)
    down = {"now": False}

    class Ringing(StubSession):
        """A call whose first attempt rings while the poller reads again (gw1 changes meanwhile)."""

        def execute(self, app, data=None):
            if app == "bridge":
                assert not (down["now"] and "/gw1/" in data), data  # never dialled while read DOWN
                self.dialled.append(data)
                down["now"] = not down["now"]
                flap(fake_freeswitch, down["now"])
                process.poller().poll()
            super().execute(app, data)

    dialled = []
    for n in range(200):
        session = Ringing({"destination_number": "100%d" % n, "network_addr": "127.0.0.1"},
                          {"gw1": "NORMAL_TEMPORARY_FAILURE"} if n % 3 == 0 else None, fake=fake_freeswitch)
        session.dialled = dialled
        route.handler(session, path)
        assert session.variables["fsroute_result"] == "bridged"
    assert any("/gw1/" in d for d in dialled) and any("/gw2/" in d for d in dialled)
    assert len(gw1_lines(fake_freeswitch)) == BURST + 1  # then held back: less than a window passed
