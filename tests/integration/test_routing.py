"""Calls through a real FreeSWITCH: what callers, gateways and the switch saw."""

import threading
import time

from .harness.switch import fsroute_lines, parse_line


def call_many(fs, destinations, source="127.0.0.1", concurrency=10, **options):
    """Place calls with at most ``concurrency`` in flight; results in order."""
    caller = fs.caller(source)
    results = [None] * len(destinations)
    slots = threading.Semaphore(concurrency)
    pending = []
    for i, dest in enumerate(destinations):
        slots.acquire()
        call = caller.start_call(dest, **options)
        call.done_hook = threading.Thread(target=lambda c=call, i=i: (c.wait(30), results.__setitem__(i, c.result),
                                                                       slots.release()))
        call.done_hook.start()
        pending.append(call.done_hook)
    for thread in pending:
        thread.join(60)
    return results


def line_of(fs, cdr):
    [line] = fsroute_lines(fs.switch.log_since(fs.log_mark), cdr["uuid"])
    return parse_line(line)


def test_prefix_route_rewrites_the_number(fs):
    result = fs.call("91001")
    assert result.code == 200 and result.acked and result.bye_code == 200
    assert fs.invites() == {"gw1": 1, "gw2": 0, "gw3": 0, "gw4": 0}
    assert fs.gateways["gw1"].uri_users() == ["1001"]
    assert fs.gateways["gw1"].invites[0].from_user == "1000"
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_route"], cdr["fsroute_number"], cdr["fsroute_gateway"],
            cdr["fsroute_attempts"]) == ("bridged", "prefix", "1001", "gw1", "1")
    fields = line_of(fs, cdr)
    assert (fields["result"], fields["route"], fields["number"], fields["tried"], fields["hangup"]) == \
        ("bridged", "prefix", "1001", "gw1:SUCCESS", "-")
    assert fields["sha"] == cdr["fsroute_rules_sha"]


def test_an_unquoted_number_dials_as_written(fs):
    # YAML 1.1 reads 0044 as the octal number 36: the carrier got '36'
    fs.use_rules("version: 1\ndefaults: {status_ttl: 0.5}\nroutes:\n"
                 "  - {name: fixed, match: {destination_number: '^7000$'}, number: 0044, gateway: gw1}\n")
    assert fs.call("7000").code == 200
    assert fs.gateways["gw1"].uri_users() == ["0044"]


def test_weighted_split_is_exact_over_300_calls(fs):
    results = call_many(fs, ["5551%03d" % i for i in range(300)])
    assert [r.code for r in results] == [200] * 300
    assert fs.invites() == {"gw1": 100, "gw2": 200, "gw3": 0, "gw4": 0}
    users = fs.gateways["gw1"].uri_users() + fs.gateways["gw2"].uri_users()
    assert sorted(users) == sorted("5551%03d" % i for i in range(300))  # every number dialled once, as is


def test_down_gateway_is_left_out_and_all_down_gets_on_all_down(fs):
    fs.gateways["gw2"].close()
    fs.switch.wait_gateways(down=["gw2"])
    results = call_many(fs, ["5552%03d" % i for i in range(30)])
    assert [r.code for r in results] == [200] * 30
    assert fs.invites() == {"gw1": 30, "gw2": 0, "gw3": 0, "gw4": 0}
    status = fs.switch.api("python fsroute.ctl status")
    assert "gw2 (external): DOWN" in status and "gw1 (external): up" in status

    fs.gateways["gw1"].close()
    fs.switch.wait_gateways(down=["gw1", "gw2"])
    time.sleep(0.6)  # past fsroute's status_ttl of 0.5 s (the minimum)
    result = fs.call("5553000")
    assert result.code == 503  # on_all_down: NORMAL_TEMPORARY_FAILURE
    assert fs.invites()["gw1"] == 30
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["hangup_cause"]) == ("all_down", "NORMAL_TEMPORARY_FAILURE")
    fields = line_of(fs, cdr)
    assert (fields["result"], fields["tried"], fields["hangup"]) == ("all_down", "-", "NORMAL_TEMPORARY_FAILURE")


ACL_RULES = """\
version: 1
acls:
  peers:
    default: deny
    nodes: [{allow: 127.0.0.0/8}, {deny: 127.0.0.99/32}]
ingress_acl: peers
routes:
  - {name: all, match: {destination_number: '^(\\d+)$'}, gateway: gw1}
"""


def test_acl_denies_a_second_loopback_address(fs):
    fs.use_rules(ACL_RULES)
    denied = fs.call("5554000", source="127.0.0.99")
    allowed = fs.call("5554001", source="127.0.0.1")
    assert (denied.code, allowed.code) == (603, 200)  # on_denied: CALL_REJECTED
    assert fs.gateways["gw1"].uri_users() == ["5554001"]
    cdr = fs.cdr(denied)
    assert (cdr["network_addr"], cdr["fsroute_result"], cdr["hangup_cause"]) == \
        ("127.0.0.99", "denied", "CALL_REJECTED")
    assert line_of(fs, cdr)["result"] == "denied"


PRIORITY_RULES = """\
version: 1
defaults: {status_ttl: 0.5}
groups:
  ordered:
    strategy: priority
    gateways: [gw2, gw1]
routes:
  - {name: ordered, match: {destination_number: '^(\\d+)$'}, group: ordered}
"""


def test_failover_from_a_gateway_that_rejects_with_503(fs):
    fs.use_rules(PRIORITY_RULES)
    fs.gateways["gw2"].mode = "reject"
    fs.gateways["gw2"].reject_code = 503
    result = fs.call("5555000")
    assert result.code == 200
    assert fs.gateways["gw2"].invites[0].final == 503
    assert (fs.gateways["gw2"].uri_users(), fs.gateways["gw1"].uri_users()) == (["5555000"], ["5555000"])
    assert "gw2" not in fs.switch.gateways_down()  # it still answers OPTIONS: sofia keeps it UP
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_gateway"], cdr["fsroute_attempts"]) == ("bridged", "gw1", "2")
    assert line_of(fs, cdr)["tried"] == "gw2:NORMAL_TEMPORARY_FAILURE,gw1:SUCCESS"


def test_caller_cancel_while_the_first_gateway_rings_stops_failover(fs):
    fs.use_rules(PRIORITY_RULES)
    fs.gateways["gw2"].mode = "ring"
    result = fs.call("5556000", cancel_after=0.3)
    assert result.cancelled and result.code == 487 and result.cancel_code == 200
    time.sleep(1.0)  # a second attempt would have reached gw1 by now
    assert fs.invites() == {"gw1": 0, "gw2": 1, "gw3": 0, "gw4": 0}
    assert fs.gateways["gw2"].invites[0].cancelled  # FreeSWITCH passed the CANCEL on
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_attempts"]) == ("failed", "1")
    fields = line_of(fs, cdr)
    assert fields["tried"] == "gw2:ORIGINATOR_CANCEL"


def reload_version(gateway, digit):
    return """\
version: 1
defaults: {reload_check: 0.2, status_ttl: 1}
routes:
  - {name: v%s, match: {destination_number: '^(\\d+)$'}, number: '%s$1', gateway: %s}
""" % (digit, digit, gateway)


def test_hot_reload_while_calls_flow(fs):
    import hashlib
    versions = [reload_version("gw1", "1"), reload_version("gw2", "2")]
    shas = {hashlib.sha256(v.encode()).hexdigest()[:12] for v in versions}
    broken = versions[0].replace("gateway: gw1", "gateway: gw1, group: nope")
    flips = [versions[0], broken, versions[1], broken]
    fs.use_rules(versions[0])
    caller = fs.caller()
    calls = []
    start = time.monotonic()
    n = 0
    while n < 400 and time.monotonic() - start < 30:  # 20 calls/s for 20 s
        due = start + n * 0.05
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        if n % 15 == 0:  # a new file every 0.75 s: valid, broken, the other valid, broken...
            fs.switch.write_rules(flips[(n // 15) % len(flips)])
        calls.append(caller.start_call("70%05d" % n))
        n += 1
    results = [c.wait(20) for c in calls]
    assert n == 400 and [r.code for r in results] == [200] * 400
    gw1, gw2 = fs.gateways["gw1"].uri_users(), fs.gateways["gw2"].uri_users()
    assert len(gw1) + len(gw2) == 400 and gw1 and gw2  # both versions carried calls
    assert all(u.startswith("170") for u in gw1) and all(u.startswith("270") for u in gw2)
    assert sorted(u[1:] for u in gw1 + gw2) == sorted("70%05d" % i for i in range(400))
    for result in results[::20]:
        assert fs.cdr(result)["fsroute_rules_sha"] in shas
