"""Route actions, leg variables and number formats in a real FreeSWITCH: what callers and gateways saw."""

import pytest

from .harness.switch import fsroute_lines, parse_line
from .test_events import Subscriber, metrics_page, value

ACTION_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
routes:
  - name: premium
    match: {destination_number: '^1900\\d{7}$'}
    hangup: CALL_REJECTED
  - name: busy here
    match: {destination_number: '^1901\\d{7}$'}
    hangup: USER_BUSY
  - name: back through the prefix route
    match: {destination_number: '^8(10[01][0-9])$'}
    transfer: '9$1 XML public'
  - name: through a variable
    match: {destination_number: '^76(10[01][0-9])$'}
    transfer: '${sip_from_user}$1 XML public'
  - name: prefix
    match: {destination_number: '^9(10[01][0-9])$'}
    number: '$1'
    gateway: gw1
"""


def line_of(fs, cdr):
    [line] = fsroute_lines(fs.switch.log_since(fs.log_mark), cdr["uuid"])
    return parse_line(line)


def test_a_blocked_number_gets_the_causes_sip_code_and_no_gateway_sees_it(fs):
    fs.use_rules(ACTION_RULES)
    rejected, busy = fs.call("19001234567"), fs.call("19011234567")
    assert (rejected.code, busy.code) == (603, 486)  # CALL_REJECTED, USER_BUSY
    assert sum(fs.invites().values()) == 0
    cdr = fs.cdr(rejected)
    assert (cdr["fsroute_result"], cdr["fsroute_route"], cdr["hangup_cause"]) == \
        ("blocked", "premium", "CALL_REJECTED")
    fields = line_of(fs, cdr)
    assert (fields["result"], fields["tried"], fields["hangup"]) == ("blocked", "-", "CALL_REJECTED")


def test_a_transfer_runs_the_target_extension(fs):
    fs.use_rules(ACTION_RULES)
    result = fs.call("81001")
    assert result.code == 200
    assert fs.gateways["gw1"].uri_users() == ["1001"]
    cdr = fs.cdr(result)  # written when the call is over, after both log lines
    assert (cdr["fsroute_result"], cdr["fsroute_route"]) == ("bridged", "prefix")
    lines = [parse_line(line) for line in fsroute_lines(fs.switch.log_since(fs.log_mark))]
    assert [(f["result"], f["route"]) for f in lines] == [
        ("transferred", "back through the prefix route"), ("bridged", "prefix")]


def test_a_transfer_extension_takes_the_calls_variables(fs):
    # ${var} in a transfer extension loaded, then was filled in as '': the call went to '1001'
    fs.use_rules(ACTION_RULES)
    result = fs.call("761001", from_user="9")
    assert result.code == 200
    assert fs.gateways["gw1"].uri_users() == ["1001"]
    assert fs.cdr(result)["fsroute_route"] == "prefix"  # written when the call is over, after both log lines
    lines = [parse_line(line) for line in fsroute_lines(fs.switch.log_since(fs.log_mark))]
    assert [(f["result"], f["route"], f["number"]) for f in lines] == [
        ("transferred", "through a variable", "91001"), ("bridged", "prefix", "1001")]


CONTINUE_RULES = ACTION_RULES + """\
  - name: hand back
    match: {destination_number: '^77(\\d+)$'}
    continue: true
"""


def continue_extension(rules_path):
    """Calls to 77<digits>: fsroute first, then the dialplan's own bridge to gw4."""
    return """    <extension name="fsroute-then-dialplan">
      <condition field="destination_number" expression="^77(\\d+)$">
        <action application="python" data="fsroute.route %s"/>
        <action application="set" data="hangup_after_bridge=true"/>
        <action application="bridge" data="sofia/gateway/gw4/fallback$1"/>
      </condition>
    </extension>""" % rules_path


def test_continue_hands_the_call_back_to_the_dialplans_next_action(fs):
    fs.use_rules(CONTINUE_RULES)
    fs.switch.write_config(extra_extensions=continue_extension(fs.switch.rules_path))
    fs.switch.api("reloadxml")
    try:
        result = fs.call("7712345")
        assert result.code == 200
        assert fs.invites() == {"gw1": 0, "gw2": 0, "gw3": 0, "gw4": 1}
        assert fs.gateways["gw4"].uri_users() == ["fallback12345"]
        cdr = fs.cdr(result)
        assert (cdr["fsroute_result"], cdr["fsroute_route"]) == ("continued", "hand back")
        fields = line_of(fs, cdr)
        assert (fields["result"], fields["route"], fields["tried"], fields["hangup"]) == \
            ("continued", "hand back", "-", "-")
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")

CARRIER_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  strict_gateways: true
gateways:
  gw1:
    number: '1234#$0'
    strip: 2
    leg: {sip_h_X-Account: 'acc,7|b', leg_timeout: 5}
    caller_id: {match: '^(\\d+)$', number: '+49$1'}
  gw2:
    number: '+$0'
    strip: 2
groups:
  both: {strategy: priority, gateways: [gw1, gw2]}
routes:
  - name: intl
    match: {destination_number: '^00(\\d+)$'}
    number: '00$1'
    group: both
"""


def test_a_carrier_gets_its_number_format_leg_header_and_caller_id(fs):
    fs.use_rules(CARRIER_RULES)
    result = fs.call("004930123")
    assert result.code == 200
    [invite] = fs.gateways["gw1"].invites
    assert fs.gateways["gw1"].uri_users() == ["1234#4930123"]
    assert invite.header("x-account") == "acc,7|b"
    assert invite.from_user == "+491000"


def test_the_next_carrier_gets_its_own_format(fs):
    fs.use_rules(CARRIER_RULES)
    fs.gateways["gw1"].mode, fs.gateways["gw1"].reject_code = "reject", 503
    result = fs.call("004930123")
    assert result.code == 200
    assert fs.gateways["gw2"].uri_users() == ["+4930123"]
    assert fs.cdr(result)["fsroute_attempts"] == "2"


def test_ctl_check_finds_a_mistyped_gateway_and_says_which_are_up(fs):
    fs.use_rules(ACTION_RULES.replace("gateway: gw1", "gateway: gwl"))
    answer = fs.switch.api("python fsroute.ctl check %s" % fs.switch.rules_path)
    lines = answer.splitlines()
    assert lines[0].startswith("-ERR %s:" % fs.switch.rules_path)
    assert "gateway 'gwl' is not defined in the running switch" in lines[0]
    assert "  gwl (external): not defined" in lines
    fs.use_rules(ACTION_RULES)
    answer = fs.switch.api("python fsroute.ctl check %s" % fs.switch.rules_path)
    assert answer.splitlines()[0].startswith("+OK")
    assert "  gw1 (external): UP on external" in answer.splitlines()


def test_an_exported_variable_reaches_the_outbound_leg(fs):
    fs.use_rules(ACTION_RULES.replace("    gateway: gw1\n", "    gateway: gw1\n"
                                      "    export: {sip_h_X-Route: 'r-$1-${caller_id_number}'}\n"
                                      "    set: {route_tag: 'tag-$1'}\n"))
    result = fs.call("91001")
    assert result.code == 200
    [invite] = fs.gateways["gw1"].invites
    assert invite.header("x-route") == "r-1001-1000"
    assert fs.cdr(result)["fsroute_result"] == "bridged"


def test_a_header_the_dialplan_set_comes_back_for_the_next_gateway(fs):
    # gw1's export overrides the dialplan's X-Tag; gw1 refuses, and gw2, which sets none, gets the
    # dialplan's header again (it went out with none before the fix)
    fs.use_rules("""\
version: 1
defaults: {status_ttl: 0.5}
gateways:
  gw1: {export: {sip_h_X-Tag: one}}
groups:
  both: {strategy: priority, gateways: [gw1, gw2]}
routes:
  - {name: tagged, match: {destination_number: '^66(\\d+)$'}, number: '$1', group: both}
""")
    fs.switch.write_config(extra_extensions="""    <extension name="tag-then-fsroute">
      <condition field="destination_number" expression="^66(\\d+)$">
        <action application="set" data="sip_h_X-Tag=dialplan"/>
        <action application="python" data="fsroute.route %s"/>
      </condition>
    </extension>""" % fs.switch.rules_path)
    fs.switch.api("reloadxml")
    fs.gateways["gw1"].mode, fs.gateways["gw1"].reject_code = "reject", 503
    try:
        result = fs.call("6691001")
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")
    assert result.code == 200
    [first], [second] = fs.gateways["gw1"].invites, fs.gateways["gw2"].invites
    assert (first.header("x-tag"), second.header("x-tag")) == ("one", "dialplan")
    assert fs.cdr(result)["fsroute_attempts"] == "2"


@pytest.fixture
def subscriber(fs):
    listening = Subscriber(fs.switch.ports["esl"])
    yield listening
    listening.close()


def test_events_and_metrics_carry_the_built_dial_string_and_the_actions(fs, subscriber):
    fs.use_rules(CARRIER_RULES.replace("routes:\n", "routes:\n  - name: premium\n"
                                       "    match: {destination_number: '^1900\\d{7}$'}\n"
                                       "    hangup: CALL_REJECTED\n"))
    before = value(metrics_page(fs), "fsroute_calls_total", result="blocked", route="premium")
    fs.gateways["gw1"].mode, fs.gateways["gw1"].reject_code = "reject", 503
    bridged, blocked = fs.call("004930123"), fs.call("19001234567")
    assert (bridged.code, blocked.code) == (200, 603)
    event = subscriber.route_event(fs.cdr(bridged)["uuid"])
    assert (event["fsroute-attempt-1-gateway"], event["fsroute-attempt-2-gateway"]) == ("gw1", "gw2")
    assert event["fsroute-attempt-1-dialstring"] == (
        "[sip_h_X-Account=acc\\,7\\|b,leg_timeout=5,origination_caller_id_number=+491000]"
        "sofia/gateway/gw1/1234#4930123")
    assert event["fsroute-attempt-2-dialstring"] == "sofia/gateway/gw2/+4930123"
    refused = subscriber.route_event(fs.cdr(blocked)["uuid"])
    assert (refused["fsroute-result"], refused["fsroute-route"], refused["fsroute-hangup-cause"],
            refused["fsroute-attempts"]) == ("blocked", "premium", "CALL_REJECTED", "0")
    page = metrics_page(fs)
    assert value(page, "fsroute_calls_total", result="blocked", route="premium") == before + 1


def test_a_limited_carrier_gets_the_built_dial_string_through_limit_execute(fs):
    """health's limit_execute wraps the dial string actions build: the leg header, the number format
    and the caller ID still reach the gateway, and the attempt is counted while the call lasts."""
    fs.use_rules(CARRIER_RULES.replace("  gw1:\n", "  gw1:\n    max_calls: 5\n"))
    result = fs.call("004930123")
    assert result.code == 200
    [invite] = fs.gateways["gw1"].invites
    assert fs.gateways["gw1"].uri_users() == ["1234#4930123"]
    assert invite.header("x-account") == "acc,7|b"
    assert invite.from_user == "+491000"
    assert fs.cdr(result)["fsroute_result"] == "bridged"
