"""Number tables in a real FreeSWITCH: a DID table routes calls to gateways, a blocklist hangs up its callers."""

import os

TABLE_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
tables:
  dids:
    file: dids.csv
    key: exact
    columns: {key: did, target: trunk, number: rewrite}
  blocked:
    file: blocked.list
    key: exact
    header: false
    action: hangup:CALL_REJECTED
routes:
  - name: blocked callers
    number: '${caller_id_number}'
    table: blocked
  - name: did
    table: dids
  - name: the rest
    match: {destination_number: '^(\\d+)$'}
    gateway: gw4
"""
DIDS = "did,trunk,rewrite\n5551001,gw1,\n5551002,gw2,+1$0\n5551003,hangup:USER_BUSY,\n"
BLOCKED = "6660001\n+6660002\n"


def use_table_rules(fs):
    directory = os.path.dirname(fs.switch.rules_path)
    for name, text in (("dids.csv", DIDS), ("blocked.list", BLOCKED)):
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(text)
    fs.use_rules(TABLE_RULES)  # ctl reload loads the tables too


def test_a_did_table_routes_calls_to_its_gateways_and_passes_the_others_on(fs):
    use_table_rules(fs)
    first, second, other = fs.call("5551001"), fs.call("5551002"), fs.call("5559999")
    assert (first.code, second.code, other.code) == (200, 200, 200)
    assert fs.gateways["gw1"].uri_users() == ["5551001"]
    assert fs.gateways["gw2"].uri_users() == ["+15551002"]
    assert fs.gateways["gw4"].uri_users() == ["5559999"]
    assert (fs.cdr(first)["fsroute_route"], fs.cdr(other)["fsroute_route"]) == ("did", "the rest")
    # an E.164 destination finds the same row, and its template's $0 is the digits looked up
    assert fs.call("+5551002").code == 200
    assert fs.gateways["gw2"].uri_users() == ["+15551002", "+15551002"]


def test_a_row_hangs_up_with_its_cause_and_a_blocklisted_caller_gets_the_blocklists(fs):
    use_table_rules(fs)
    busy = fs.call("5551003")
    blocked = fs.call("5551001", from_user="6660002")
    assert (busy.code, blocked.code) == (486, 603)  # USER_BUSY, CALL_REJECTED
    assert sum(fs.invites().values()) == 0
    cdr = fs.cdr(blocked)
    assert (cdr["fsroute_result"], cdr["fsroute_route"], cdr["hangup_cause"]) == \
        ("blocked", "blocked callers", "CALL_REJECTED")
