"""What cause a carrier's rejection gives in a real FreeSWITCH, and that the default failover_on acts on it."""

import pytest

from .test_health import fields_of
from .test_routing import PRIORITY_RULES


@pytest.mark.parametrize("code, reason, cause", [
    (503, None, "NORMAL_TEMPORARY_FAILURE"),
    (503, 'Q.850;cause=34;text="No circuit/channel available"', "NORMAL_CIRCUIT_CONGESTION"),
    (503, "Q.850;cause=42", "SWITCH_CONGESTION"),
])
def test_a_congested_carrier_is_failed_over_by_default(fs, code, reason, cause):
    fs.use_rules(PRIORITY_RULES)
    gw2 = fs.gateways["gw2"]
    gw2.mode, gw2.reject_code, gw2.reject_reason = "reject", code, reason
    result = fs.call("5563001")
    fields = fields_of(fs.switch, fs.log_mark, result)
    print("\n%s %s -> tried=%s" % (code, reason, fields["tried"]))
    assert fields["tried"] == "gw2:%s,gw1:SUCCESS" % cause
    assert result.code == 200 and fs.invites() == {"gw1": 1, "gw2": 1, "gw3": 0, "gw4": 0}


def test_a_gateway_that_never_rings_within_leg_progress_timeout_is_failed_over_by_default(fs):
    # the switch ends such an attempt PROGRESS_TIMEOUT; the default failover_on did not name it, and the
    # call ended there instead of trying the next gateway
    fs.use_rules(PRIORITY_RULES.replace("defaults: {status_ttl: 0.5}\n", "defaults: {status_ttl: 0.5}\n"
                                        "gateways:\n  gw2: {leg: {leg_progress_timeout: 1}}\n"))
    fs.gateways["gw2"].ring_delay = 4.0  # 100 Trying, then nothing for 4 s
    result = fs.call("5563002")
    fields = fields_of(fs.switch, fs.log_mark, result)
    assert fields["tried"] == "gw2:PROGRESS_TIMEOUT,gw1:SUCCESS"
    assert result.code == 200 and fs.invites() == {"gw1": 1, "gw2": 1, "gw3": 0, "gw4": 0}
