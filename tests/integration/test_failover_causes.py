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
