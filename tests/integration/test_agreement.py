"""The stub (fsroute.testing) against the real switch: one table, both sides, the same outcome.

Where they differ the switch is right and the stub gets fixed. The SIP code
a gateway answers is turned into a cause by sofia; GATEWAY_CAUSES below is
that mapping as measured (test_failed_bridge_variables checks it against the
switch), and it is how a table row tells the stub what the gateway did.
"""

import os
import tempfile
import time

import pytest

from fsroute import route
from fsroute.testing import FakeFreeSWITCH, StubSession, reset_state

from .harness.switch import fsroute_lines, parse_line

# gateway behaviour -> (caller's SIP code on a probe bridge, originate_disposition, DIALSTATUS)
BRIDGE_FAILURES = {
    "reject 486": (486, "USER_BUSY", "BUSY"),
    "reject 503": (503, "NORMAL_TEMPORARY_FAILURE", "NORMAL_TEMPORARY_FAILURE"),
    "reject 603": (603, "CALL_REJECTED", "DONTCALL"),
    "reject 404": (404, "UNALLOCATED_NUMBER", "UNALLOCATED_NUMBER"),
    "reject 480": (480, "NO_USER_RESPONSE", "NO_USER_RESPONSE"),
    "reject 502": (502, "NETWORK_OUT_OF_ORDER", "NETWORK_OUT_OF_ORDER"),
    "reject 408": (408, "RECOVERY_ON_TIMER_EXPIRE", "RECOVERY_ON_TIMER_EXPIRE"),
    "ring": (480, "NO_ANSWER", "NOANSWER"),     # rings past call_timeout (3 s, see QUICK_NO_ANSWER)
    "silent": (480, "NO_ANSWER", "NOANSWER"),   # never answers the INVITE at all
    "down": (503, "GATEWAY_DOWN", "GATEWAY_DOWN"),  # port closed, OPTIONS failed
    "invalid": (484, "INVALID_GATEWAY", "INVALID_GATEWAY"),  # no such gateway in sofia
}
GATEWAY_CAUSES = {b: v[1] for b, v in BRIDGE_FAILURES.items()}
QUICK_NO_ANSWER = [("X-Call-Timeout", "3")]  # a ringing gateway fails after 3 s (harness/config.py)


def behave(fs, gateway, behaviour):
    """Make a fake gateway do ``behaviour`` ("answer", "reject 503", "ring", "silent", "down")."""
    gw = fs.gateways[gateway]
    if behaviour.startswith("reject"):
        gw.mode, gw.reject_code = "reject", int(behaviour.split()[1])
    elif behaviour == "down":
        gw.close()
    else:
        gw.mode = behaviour


@pytest.mark.parametrize("behaviour", sorted(BRIDGE_FAILURES))
def test_failed_bridge_variables(fs, behaviour):
    """What a failed bridge leaves: originate_disposition, DIALSTATUS, originate_failed_cause; the stub sets the same."""
    code, disposition, dialstatus = BRIDGE_FAILURES[behaviour]
    gateway = "nosuchgw" if behaviour == "invalid" else "gw3"
    if behaviour != "invalid":
        behave(fs, gateway, behaviour)
    if behaviour == "down":
        fs.switch.wait_gateways(down=["gw3"])
    result = fs.call("probe-%s-4242" % gateway, timeout=20, headers=QUICK_NO_ANSWER)
    cdr = fs.cdr(result)
    assert (result.code, cdr["originate_disposition"], cdr["DIALSTATUS"], cdr["originate_failed_cause"]) == \
        (code, disposition, dialstatus, disposition)
    with FakeFreeSWITCH() as fake:  # the stub, told the same cause
        fake.set_gateways("external", up=["gw3"])
        session = StubSession({"continue_on_fail": "true"}, {"gw3": disposition}, fake=fake)
        session.execute("bridge", "sofia/gateway/gw3/4242")
        assert (session.variables["originate_disposition"], session.variables["DIALSTATUS"],
                session.variables["originate_failed_cause"]) == (disposition, dialstatus, disposition)


def test_cancelled_bridge_variables(fs):
    """The caller hangs up while the gateway rings: ORIGINATOR_CANCEL, DIALSTATUS CANCEL."""
    behave(fs, "gw3", "ring")
    result = fs.call("probe-gw3-4243", cancel_after=0.3)
    cdr = fs.cdr(result)
    assert (result.code, cdr["originate_disposition"], cdr["DIALSTATUS"]) == (487, "ORIGINATOR_CANCEL", "CANCEL")
    session = StubSession({"continue_on_fail": "true"}, hangup_on_bridge="gw3", fake=FakeFreeSWITCH())
    session._fake.set_gateways("external", up=["gw3"])
    session.execute("bridge", "sofia/gateway/gw3/4243")
    assert (session.variables["originate_disposition"], session.variables["DIALSTATUS"]) == \
        ("ORIGINATOR_CANCEL", "CANCEL")


RULES = """\
version: 1
defaults: {status_ttl: 0.5}
acls:
  peers: {default: deny, nodes: [{allow: 127.0.0.0/8}, {deny: 127.0.0.99/32}]}
groups:
  ordered: {strategy: priority, gateways: [gw2, gw1, gw3]}
  ghost: {strategy: priority, gateways: [gw9, gw1]}
routes:
  - {name: prefix, match: {destination_number: '^9(10[01][0-9])$'}, number: '$1', gateway: gw1}
  - {name: guarded, match: {destination_number: '^8(\\d+)$'}, number: '$1', acl: peers, gateway: gw1}
  - {name: ghost, match: {destination_number: '^7(\\d+)$'}, number: '$1', group: ghost}
  - {name: anything, match: {destination_number: '^6(.*)$'}, number: '$1', gateway: gw1}
  - {name: ordered, match: {destination_number: '^(5\\d+)$'}, number: '$1', group: ordered}
"""

# name, {gateway: behaviour}, destination, source, expected (result, [(gateway, cause)], hangup cause)
TABLE = [
    ("prefix route", {}, "91001", "127.0.0.1",
     ("bridged", [("gw1", "SUCCESS")], "NORMAL_CLEARING")),
    ("failover after 503", {"gw2": "reject 503"}, "5550001", "127.0.0.1",
     ("bridged", [("gw2", "NORMAL_TEMPORARY_FAILURE"), ("gw1", "SUCCESS")], "NORMAL_CLEARING")),
    ("failover after 502 then 408", {"gw2": "reject 502", "gw1": "reject 408"}, "5550002", "127.0.0.1",
     ("bridged", [("gw2", "NETWORK_OUT_OF_ORDER"), ("gw1", "RECOVERY_ON_TIMER_EXPIRE"), ("gw3", "SUCCESS")],
      "NORMAL_CLEARING")),
    ("busy stops", {"gw2": "reject 486"}, "5550003", "127.0.0.1",
     ("failed", [("gw2", "USER_BUSY")], "USER_BUSY")),
    ("603 stops", {"gw2": "reject 603"}, "5550004", "127.0.0.1",
     ("failed", [("gw2", "CALL_REJECTED")], "CALL_REJECTED")),
    ("404 stops", {"gw2": "reject 404"}, "5550005", "127.0.0.1",
     ("failed", [("gw2", "UNALLOCATED_NUMBER")], "UNALLOCATED_NUMBER")),
    ("every attempt 503", {"gw2": "reject 503", "gw1": "reject 503", "gw3": "reject 503"}, "5550006",
     "127.0.0.1", ("failed", [("gw2", "NORMAL_TEMPORARY_FAILURE"), ("gw1", "NORMAL_TEMPORARY_FAILURE"),
                              ("gw3", "NORMAL_TEMPORARY_FAILURE")], "NORMAL_TEMPORARY_FAILURE")),
    ("no answer stops", {"gw2": "ring"}, "5550007", "127.0.0.1",
     ("failed", [("gw2", "NO_ANSWER")], "NO_ANSWER")),
    ("invalid gateway fails over", {}, "71234", "127.0.0.1",
     ("bridged", [("gw9", "INVALID_GATEWAY"), ("gw1", "SUCCESS")], "NORMAL_CLEARING")),
    ("acl denies", {}, "81234", "127.0.0.99", ("denied", [], "CALL_REJECTED")),
    ("acl allows", {}, "81234", "127.0.0.1", ("bridged", [("gw1", "SUCCESS")], "NORMAL_CLEARING")),
    ("no route", {}, "41234", "127.0.0.1", ("no_route", [], "NO_ROUTE_DESTINATION")),
    ("invalid number", {}, "6123!4", "127.0.0.1", ("invalid_number", [], "INVALID_NUMBER_FORMAT")),
    ("down gateway skipped", {"gw2": "down"}, "5550008", "127.0.0.1",
     ("bridged", [("gw1", "SUCCESS")], "NORMAL_CLEARING")),
    ("all down", {"gw1": "down", "gw2": "down", "gw3": "down"}, "5550009", "127.0.0.1",
     ("all_down", [], "NORMAL_TEMPORARY_FAILURE")),
]


def run_stub(rules_text, behaviours, destination, source):
    """The row through fsroute.testing, the way docs/testing.md's fixtures do it."""
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(rules_text)
    reset_state()
    try:
        with FakeFreeSWITCH() as fake:
            down = [g for g, b in behaviours.items() if b == "down"]
            fake.set_gateways("external", up=[g for g in ("gw1", "gw2", "gw3", "gw4") if g not in down], down=down)
            outcomes = {g: GATEWAY_CAUSES[b] for g, b in behaviours.items() if b != "down"}
            session = StubSession({"destination_number": destination, "network_addr": source,
                                   "caller_id_number": "1000", "hangup_after_bridge": "true"}, outcomes, fake=fake)
            route.handler(session, path)
    finally:
        reset_state()
        os.remove(path)
    tried = [(dial.split("/")[2], cause) for dial, cause in session.bridges]
    return session.variables.get("fsroute_result"), tried, session.hangup_cause


def run_switch(fs, behaviours, destination, source):
    """The row through the real switch: CDR, fsroute's log line, the gateways' INVITEs."""
    for gateway, behaviour in behaviours.items():
        behave(fs, gateway, behaviour)
    down = [g for g, b in behaviours.items() if b == "down"]
    if down:
        fs.switch.wait_gateways(down=down)
        time.sleep(0.6)  # past fsroute's status_ttl (0.5 s, the minimum)
    result = fs.call(destination, source=source, timeout=20, headers=QUICK_NO_ANSWER)
    cdr = fs.cdr(result)
    [line] = fsroute_lines(fs.switch.log_since(fs.log_mark), cdr["uuid"])
    fields = parse_line(line)
    tried = [tuple(t.rsplit(":", 1)) for t in fields["tried"].split(",")] if fields["tried"] != "-" else []
    invited = sorted((i.when, name) for name, gw in fs.gateways.items() for i in gw.invites)
    assert [name for _, name in invited] == [g for g, _ in tried if g != "gw9"]  # what really reached them
    return cdr["fsroute_result"], tried, cdr["hangup_cause"]


@pytest.mark.parametrize("name, behaviours, destination, source, expected", TABLE, ids=[r[0] for r in TABLE])
def test_stub_and_switch_agree(fs, name, behaviours, destination, source, expected):
    stub = run_stub(RULES, behaviours, destination, source)
    fs.use_rules(RULES)
    switch = run_switch(fs, behaviours, destination, source)
    assert switch == expected
    assert stub == switch
