"""The session's switch stopped and started again: start-up preload, a broken file at start, restart."""

import pytest

from .conftest import BASE_RULES
from .harness.switch import fsroute_lines, parse_line

BROKEN = "version: 1\nroutes:\n  - name: x\n    gateway: gw1\n    group: g\n"  # both: refused


@pytest.fixture
def restarted(switch, fs):
    """Stop the switch; the test writes rules and starts it; it is left running on BASE_RULES."""
    switch.stop()
    yield switch
    if switch.process is None:
        switch.write_rules(BASE_RULES)
        switch.start()


def test_startup_preload_loads_before_the_first_call(restarted, fs):
    restarted.write_rules(BASE_RULES)
    restarted.start()
    loads = restarted.wait_log("fsroute: loaded %s sha=" % restarted.rules_path)
    assert len(loads) == 1  # by fsroute_startup (python.conf.xml startup-script), with no call yet
    mark = restarted.log_mark()
    result = fs.call("91002")
    assert result.code == 200 and fs.gateways["gw1"].uri_users() == ["1002"]
    cdr = fs.cdr(result)  # written when the channel is gone, after fsroute's line
    after = restarted.log_since(mark)
    assert "fsroute: loaded" not in after  # the first call found the rules loaded
    [line] = fsroute_lines(after, cdr["uuid"])
    assert parse_line(line)["result"] == "bridged"


def test_broken_rules_at_start_end_calls_with_on_error(restarted, fs):
    restarted.write_rules(BROKEN)
    restarted.start()
    assert restarted.wait_log("[ERR]")  # the start-up preload found the file broken
    mark = restarted.log_mark()
    results = [fs.call("5557000"), fs.call("5557001")]
    assert [r.code for r in results] == [503, 503]  # on_error's default: NORMAL_TEMPORARY_FAILURE
    assert fs.invites() == {"gw1": 0, "gw2": 0, "gw3": 0, "gw4": 0}
    cdr = fs.cdr(results[0]) and fs.cdr(results[1])
    assert (cdr["fsroute_result"], cdr["hangup_cause"]) == ("error", "NORMAL_TEMPORARY_FAILURE")
    log = restarted.log_text(since_start=True)
    at_start = [l for l in log[:len(log) - len(restarted.log_since(mark))].splitlines() if "[ERR]" in l]
    assert len(at_start) == 1 and "%s:3:" % restarted.rules_path in at_start[0], at_start
    per_call = [l for l in restarted.log_since(mark).splitlines() if "[ERR]" in l]
    assert len(per_call) == 2 and all("result=error no usable rules" in l for l in per_call), per_call
    assert "Traceback" not in log


def test_restart_routes_again(restarted, fs):
    restarted.write_rules(BASE_RULES)
    restarted.start()
    restarted.wait_gateways(down=())
    results = [fs.call("91003"), fs.call("5558000")]
    assert [r.code for r in results] == [200, 200]
    assert fs.gateways["gw1"].uri_users()[:1] == ["1003"]
