"""Calls through a real FreeSWITCH: what callers, gateways and the switch saw."""

from .harness.switch import fsroute_lines, parse_line


def test_prefix_route_rewrites_the_number(fs):
    result = fs.call("91001")
    assert result.code == 200 and result.acked and result.bye_code == 200
    assert fs.invites() == {"gw1": 1, "gw2": 0, "gw3": 0, "gw4": 0}
    assert fs.gateways["gw1"].uri_users() == ["1001"]
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_route"], cdr["fsroute_number"], cdr["fsroute_gateway"],
            cdr["fsroute_attempts"]) == ("bridged", "prefix", "1001", "gw1", "1")
    [line] = fsroute_lines(fs.switch.log_since(fs.log_mark), cdr["uuid"])
    fields = parse_line(line)
    assert (fields["result"], fields["route"], fields["number"], fields["tried"], fields["hangup"]) == \
        ("bridged", "prefix", "1001", "gw1:SUCCESS", "-")
    assert fields["sha"] == cdr["fsroute_rules_sha"]
