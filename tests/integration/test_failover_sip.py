"""failover_on by SIP status in a real FreeSWITCH: the failed leg's status is read from
last_bridge_proto_specific_hangup_cause, and a callee's own rejection is never tried on another carrier
unless the rules name it (issue 23)."""

import pytest

from .test_health import fields_of

RULES = """\
version: 1
defaults: {status_ttl: 0.5}
groups:
  ordered: {strategy: priority, gateways: [gw2, gw1]}
  classed: {strategy: priority, gateways: [gw2, gw1], failover_on: ['sip:5xx']}
routes:
  - {name: by_default, match: {destination_number: '^1(\\d+)$'}, number: '$1', group: ordered}
  - {name: only_503, match: {destination_number: '^2(\\d+)$'}, number: '$1', group: ordered,
     failover_on: ['sip:503']}
  - {name: by_group, match: {destination_number: '^3(\\d+)$'}, number: '$1', group: classed,
     failover_on: [GATEWAY_DOWN]}
"""

BUSY_REASON = "Q.850;cause=17;text=\"User busy\""


@pytest.mark.parametrize("prefix, code, reason, cause, goes_on", [
    ("1", 486, None, "USER_BUSY", False),
    ("1", 503, None, "NORMAL_TEMPORARY_FAILURE", True),
    ("1", 503, BUSY_REASON, "USER_BUSY", False),
    ("1", 603, None, "CALL_REJECTED", False),
    ("1", 603, "Q.850;cause=41", "NORMAL_TEMPORARY_FAILURE", False),  # a decline, whatever its Reason says
    ("1", 408, None, "RECOVERY_ON_TIMER_EXPIRE", True),
    ("2", 503, "Q.850;cause=34", "NORMAL_CIRCUIT_CONGESTION", True),  # the status named, not the cause
    ("2", 408, None, "RECOVERY_ON_TIMER_EXPIRE", False),
    ("2", 503, BUSY_REASON, "USER_BUSY", False),
    ("3", 500, "Q.850;cause=34", "NORMAL_CIRCUIT_CONGESTION", True),  # the group's sip:5xx over the route's
    ("3", 486, None, "USER_BUSY", False),
])
def test_failover_on_by_sip_status(fs, prefix, code, reason, cause, goes_on):
    fs.use_rules(RULES)
    gw2 = fs.gateways["gw2"]
    gw2.mode, gw2.reject_code, gw2.reject_reason = "reject", code, reason
    result = fs.call(prefix + "5564001")
    fields = fields_of(fs.switch, fs.log_mark, result)
    if goes_on:
        assert fields["tried"] == "gw2:%s,gw1:SUCCESS" % cause
        assert result.code == 200 and fs.invites()["gw1"] == 1
    else:
        assert fields["tried"] == "gw2:%s" % cause
        assert fields["result"] == "failed" and fs.invites()["gw1"] == 0
    assert fs.invites()["gw2"] == 1



BUDGET = """\
version: 1
defaults: {status_ttl: 0.5}
groups:
  three: {strategy: priority, gateways: [gw2, gw3, gw1]}
routes:
  - {name: budget, match: {destination_number: '^1(\\d+)$'}, number: '$1', group: three,
     failover_on: [ALLOTTED_TIMEOUT, GATEWAY_DOWN], max_seconds: 3, leg: {leg_timeout: 2}}
  - {name: unlimited, match: {destination_number: '^2(\\d+)$'}, number: '$1', group: three,
     failover_on: [ALLOTTED_TIMEOUT, GATEWAY_DOWN], leg: {leg_timeout: 2}}
"""


def test_max_seconds_stops_failover_once_the_caller_has_waited_that_long(fs):
    fs.use_rules(BUDGET)
    fs.gateways["gw2"].mode = fs.gateways["gw3"].mode = "ring"  # each rings 2 s: leg_timeout gives ALLOTTED_TIMEOUT
    unlimited = fs.call("25565001")
    assert unlimited.code == 200 and fs.invites() == {"gw1": 1, "gw2": 1, "gw3": 1, "gw4": 0}
    budget = fs.call("15565002")  # 2 s on gw2, 2 s on gw3: 4 s > 3 s, so gw1 is not tried
    fields = fields_of(fs.switch, fs.log_mark, budget)
    assert fields["tried"] == "gw2:ALLOTTED_TIMEOUT,gw3:ALLOTTED_TIMEOUT"
    assert fs.invites() == {"gw1": 1, "gw2": 2, "gw3": 2, "gw4": 0}
    assert fields["result"] == "failed"
