"""What a plain bridged call asks of its session: each a SWIG call inside FreeSWITCH (about 10 us of the
call's thread each, docs/performance.md), so the list is pinned here and cannot grow unnoticed.

A plain call reads each channel variable once (``originate_disposition`` twice: before the bridge,
whether something left it set, and after it, what the bridge left), and sets only fsroute's documented
variables and ``continue_on_fail`` (set for the bridge, then put back). Features the rules do not use
(ACLs, accounts, fraud, quality, limits, tables, time conditions, least-cost routes) add none.
"""

from collections import Counter

from fsroute import route
from fsroute.testing import StubSession

PLAIN = """
version: 1
defaults: {status_ttl: 60%s}
groups:
  g: {strategy: weighted_round_robin, gateways: [{name: gw1, weight: 1}, {name: gw2, weight: 2}]}
routes:
  - {name: intl, match: {destination_number: '^0030(\\d+)$'}, number: '$1', group: g}
  - {name: last, match: {destination_number: '^(\\d+)$'}, group: g}
"""

ALWAYS = Counter({
    "getVariable uuid": 1, "getVariable fsroute_trace": 1, "getVariable destination_number": 1,
    "getVariable caller_id_number": 1, "getVariable caller_id_name": 1,  # no control characters to the carrier
    "getVariable continue_on_fail": 1, "getVariable originate_disposition": 2,
    "setVariable fsroute_rules_sha": 1, "setVariable fsroute_route": 1, "setVariable fsroute_number": 1,
    "setVariable continue_on_fail": 2, "setVariable fsroute_gateway": 1, "setVariable fsroute_attempts": 1,
    "setVariable fsroute_result": 1, "ready": 1, "execute bridge": 1,
})


class CountingSession(StubSession):
    """A StubSession that counts what fsroute asks of it, by method and variable (or application); not
    what the emulated switch does inside an application it runs."""

    def __init__(self, *args, **kwargs):
        self.asked = Counter()
        self._inside = False
        super().__init__(*args, **kwargs)

    def _count(self, what):
        if not self._inside:
            self.asked[what] += 1

    def getVariable(self, name):
        self._count("getVariable " + name)
        return super().getVariable(name)

    def setVariable(self, name, value):
        self._count("setVariable " + name)
        return super().setVariable(name, value)

    def execute(self, app, data=None):
        self._count("execute " + app)
        self._inside = True
        try:
            return super().execute(app, data)
        finally:
            self._inside = False

    def ready(self):
        self._count("ready")
        return super().ready()


def _plain_call(write_rules, fake_freeswitch, options):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules(PLAIN % options)
    route.handler(StubSession({"destination_number": "1"}, fake=fake_freeswitch), path)  # loads the rules
    session = CountingSession({"destination_number": "5551234", "network_addr": "192.0.2.1",
                               "caller_id_number": "1000"}, fake=fake_freeswitch)
    route.handler(session, path)
    assert session.variables["fsroute_result"] == "bridged"
    return session.asked


def test_a_plain_bridged_call_asks_its_session_19_things(write_rules, fake_freeswitch):
    asked = _plain_call(write_rules, fake_freeswitch, "")
    assert asked == ALWAYS + Counter({"getVariable network_addr": 1})  # for the route event's source
    assert sum(asked.values()) == 19


def test_without_events_nor_acls_the_source_address_is_not_read(write_rules, fake_freeswitch):
    asked = _plain_call(write_rules, fake_freeswitch, ", events: false")
    assert asked == ALWAYS
    assert sum(asked.values()) == 18
