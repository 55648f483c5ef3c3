"""A real FreeSWITCH gives every max_calls count back, however the call ends (limit_usage back to 0)."""

import time

from .test_health import eventually

RULES = """\
version: 1
defaults: {status_ttl: 0.5}
gateways:
  gw1: {max_calls: 5}
  gw2: {max_calls: 5, set: {x_tag: '${sip_subject}'}}
groups:
  ordered:
    strategy: priority
    max_calls: 5
    gateways: [gw1, gw2]
routes:
  - {name: transfer, match: {destination_number: '^77(\\d+)$'}, transfer: '$1'}
  - {name: ordered, match: {destination_number: '^(\\d+)$'}, group: ordered}
"""
RESOURCES = ("fsroute.gw.gw1", "fsroute.gw.gw2", "fsroute.group.ordered")


def usage(fs):
    """{resource: its limit_usage} of the gateways and the group."""
    return {name: fs.switch.api("limit_usage hash fsroute %s" % name) for name in RESOURCES}


def counts(gw1, gw2):
    return {"fsroute.gw.gw1": str(gw1), "fsroute.gw.gw2": str(gw2), "fsroute.group.ordered": str(gw1 + gw2)}


def while_up(fs, started, want):
    """The counts seen once the INVITE reached a gateway (``want``: what they should be meanwhile)."""
    deadline = time.monotonic() + 10
    while sum(fs.invites().values()) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    return eventually(lambda: usage(fs), want)


def test_answered_then_hung_up_by_the_caller(fs):
    fs.use_rules(RULES)
    started = fs.caller().start_call("5564001", hold=1.5)
    assert while_up(fs, started, counts(1, 0)) == counts(1, 0)
    result = started.wait(15)
    assert result.code == 200 and result.bye_sent and not result.remote_bye
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)


def test_answered_then_hung_up_by_the_gateway(fs):
    fs.use_rules(RULES)
    fs.gateways["gw1"].hangup_after = 1.0
    started = fs.caller().start_call("5564002", hold=10.0)
    assert while_up(fs, started, counts(1, 0)) == counts(1, 0)
    result = started.wait(15)
    assert result.code == 200 and result.remote_bye and not result.bye_sent
    assert fs.gateways["gw1"].invites[0].hung_up
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)


def test_the_caller_cancels_while_the_gateway_rings(fs):
    fs.use_rules(RULES)
    fs.gateways["gw1"].mode = "ring"
    started = fs.caller().start_call("5564003", cancel_after=1.0)
    assert while_up(fs, started, counts(1, 0)) == counts(1, 0)
    result = started.wait(15)
    assert result.cancelled and result.code == 487
    assert eventually(lambda: fs.gateways["gw1"].invites[0].cancelled, True)  # the switch passed it on
    assert fs.invites()["gw2"] == 0  # no failover after the caller left
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)
    assert fs.cdr(result)["fsroute_result"] == "failed"


def test_failover_to_a_second_gateway(fs):
    fs.use_rules(RULES)
    fs.gateways["gw1"].mode = "reject"
    started = fs.caller().start_call("5564004", hold=1.5)
    deadline = time.monotonic() + 10
    while fs.invites()["gw2"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert eventually(lambda: usage(fs), counts(0, 1)) == counts(0, 1)  # gw1's count went back at once
    result = started.wait(15)
    assert result.code == 200 and fs.invites() == {"gw1": 1, "gw2": 1, "gw3": 0, "gw4": 0}
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)


def test_a_transfer_route_whose_extension_routes_again(fs):
    fs.use_rules(RULES)
    started = fs.caller().start_call("775564005", hold=1.5)
    assert while_up(fs, started, counts(1, 0)) == counts(1, 0)
    result = started.wait(15)
    assert result.code == 200 and fs.gateways["gw1"].uri_users() == ["5564005"]
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)


def test_the_crash_barrier_after_a_failed_attempt(fs):
    # gw2's set: copies the SIP Subject into a channel variable; a header that is not UTF-8 reaches
    # Python as a lone surrogate that setVariable refuses: the handler raises after gw1's attempt.
    fs.use_rules(RULES)
    fs.gateways["gw1"].mode = "reject"
    result = fs.call("5564006", headers=[("Subject", "caf\udce9")])
    cdr = fs.cdr(result)
    assert (result.code, cdr["fsroute_result"]) == (503, "error")  # on_error: NORMAL_TEMPORARY_FAILURE
    assert fs.invites() == {"gw1": 1, "gw2": 0, "gw3": 0, "gw4": 0}
    assert "result=error" in fs.switch.log_since(fs.log_mark)
    assert eventually(lambda: usage(fs), counts(0, 0)) == counts(0, 0)
