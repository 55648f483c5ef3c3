"""``fsroute replay``: FreeSWITCH CDRs through draft rules, what changes, cost and margin before and after."""

import datetime
import json
import random
import re
import urllib.parse

import pytest

from fsroute.tools import cdrs, replay
from fsroute.tools.cli import main

RULES = """\
version: 1
carriers:
  flat: {deck: flat.csv, gateway: gw_flat}
  late: {deck: %s, gateway: gw_late}
sell_decks:
  retail: sell.csv
routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr:
      carriers: [flat, late]
      sell: {default: retail}
      min_margin: {amount: 0}
  - name: local
    match: {destination_number: '^1\\d{3}$'}
    gateway: pbx
"""
DECKS = {"flat.csv": "prefix,rate\n49,0.020\n44,0.004\n",
         "late.csv": "prefix,rate,increments\n49,0.019,60/6\n",
         "late_risen.csv": "prefix,rate,increments\n49,0.030,60/6\n",
         "sell.csv": "prefix,rate\n49,0.05\n44,0.003\n"}
# mod_cdr_csv's default template ('example'): no header row, every field quoted
MASTER = """\
"Alice","1001","004930111","public","2026-06-01 10:00:00","2026-06-01 10:00:05","2026-06-01 10:01:05","65","60","NORMAL_CLEARING","u1","","","PCMA","PCMA"
"Bob","1002","004930222","public","2026-06-01 11:00:00","","2026-06-01 11:00:20","20","0","NO_ANSWER","u2","","","PCMA","PCMA"
"Carol","1003","004930111","public","2026-06-02 09:30:00","2026-06-02 09:30:02","2026-06-02 09:32:02","122","120","NORMAL_CLEARING","u3","","","PCMA","PCMA"
"Dan","1004","0033111","public","2026-06-02 09:40:00","","2026-06-02 09:40:01","1","0","NO_ROUTE_DESTINATION","u4","","","PCMA","PCMA"
"Eve","1005","004420111","public","2026-06-02 09:50:00","2026-06-02 09:50:01","2026-06-02 09:51:01","61","60","NORMAL_CLEARING","u5","","","PCMA","PCMA"
"Fay","1006","1234","public","2026-06-02 09:55:00","2026-06-02 09:55:01","2026-06-02 09:56:01","61","60","NORMAL_CLEARING","u6","","","PCMA","PCMA"
"""


@pytest.fixture
def files(tmp_path):
    for name, text in DECKS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "old.yaml").write_text(RULES % "late.csv")
    (tmp_path / "new.yaml").write_text(RULES % "late_risen.csv")
    (tmp_path / "Master.csv").write_text(MASTER)
    return lambda name: str(tmp_path / name)


def test_master_csv_in_the_default_template_is_read_in_the_switchs_zone(files):
    calls = list(cdrs.read(files("Master.csv"), tz=datetime.timezone(datetime.timedelta(hours=2))))
    assert len(calls) == 6
    first = calls[0]
    assert (first.variables["destination_number"], first.variables["caller_id_number"], first.billsec) == (
        "004930111", "1001", 60)
    assert first.start == datetime.datetime(2026, 6, 1, 8, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert "bleg_uuid" not in first.variables  # an empty field is an unset variable
    assert cdrs.template_columns(cdrs.EXAMPLE_TEMPLATE)[:3] == ["caller_id_name", "caller_id_number",
                                                                "destination_number"]


def json_cdr(destination, start, billsec, **variables):
    """A mod_json_cdr object as the module writes it (values url-encoded)."""
    values = {"start_epoch": str(start), "billsec": str(billsec), "uuid": "u-%s" % start}
    values.update(variables)
    return {"core-uuid": "c", "switchname": "fs", "channel_data": {"direction": "inbound"},
            "variables": {k: urllib.parse.quote(v) for k, v in values.items()},
            "callflow": [{"dialplan": "XML", "caller_profile": {
                "destination_number": destination, "caller_id_number": "1001", "network_addr": "127.0.0.1"}}]}


def test_json_cdrs_are_read_from_a_file_or_a_directory(tmp_path):
    directory = tmp_path / "json"
    directory.mkdir()
    (directory / "a.cdr.json").write_text(json.dumps(json_cdr("004930111", 1780308000, 42, fsroute_route="inter%national")))
    (directory / "b.cdr.json").write_text(json.dumps(json_cdr("1234", 1780308060, 0)))
    calls = list(cdrs.read(str(directory)))
    assert [(c.variables["destination_number"], c.variables["network_addr"], c.start, c.billsec) for c in calls] == [
        ("004930111", "127.0.0.1", 1780308000.0, 42), ("1234", "127.0.0.1", 1780308060.0, 0)]
    assert calls[0].variables["fsroute_route"] == "inter%national"  # url-decoded once
    lines = tmp_path / "lines.json"
    lines.write_text("\n".join(json.dumps(json_cdr("1234", 1780308000 + i, i)) for i in range(3)) + "\n")
    assert [c.billsec for c in cdrs.read(str(lines))] == [0, 1, 2]


def test_replay_against_the_old_rules_reports_changes_cost_and_margin(files):
    report = replay.replay(cdrs.read(files("Master.csv"), tz=datetime.timezone.utc), replay.Replayer(files("new.yaml")),
                           replay.Replayer(files("old.yaml")), "Master.csv")
    lines = replay.text(report)
    assert lines[1:8] == [
        "rules: %s against %s" % (files("new.yaml"), files("old.yaml")),
        # the three calls to 49: late (0.019 60/6: 0.057 for 180 s) loses to flat (0.06) once late's rate rises
        "route or first carrier changes: 3 calls",
        # 44: flat costs 0.004, sells at 0.003: it breaks min_margin 0 in both; 33: no carrier serves it
        "new rules would not route: 2 calls (no_carrier 1, no_margin 1), 1 of them answered",
        # late billed 60 s (0.019) and 120 s (0.038); flat 60 s (0.02) and 120 s (0.04); the unanswered one costs 0
        "cost: before 0.057, after 0.06 (+0.003)",
        "revenue: before 0.15, after 0.15 (+0)",
        "margin: before 0.093, after 0.09 (-0.003)",
        "by carrier (calls, cost, margin: before -> after):"]
    assert lines[8:10] == ["  flat: 0 -> 3 calls, cost 0 -> 0.06, margin 0 -> 0.09",
                           "  late: 3 -> 0 calls, cost 0.057 -> 0, margin 0.093 -> 0"]
    assert "changes, most calls first (calls: destination: before route/carrier -> after):" in lines
    assert "  3: 49: international/late -> international/flat" in lines
    assert report.after.by_day["2026-06-01"].cost == 20000 and report.after.by_day["2026-06-02"].cost == 40000


def test_replay_without_against_compares_with_what_the_calls_recorded(files, tmp_path):
    took = [json_cdr("004930111", 1780308000, 60, fsroute_route="international", fsroute_lcr_carrier="late",
                     fsroute_result="bridged"),
            json_cdr("004930111", 1780308100, 30, fsroute_route="international", fsroute_lcr_carrier="flat",
                     fsroute_result="bridged"),
            json_cdr("1234", 1780308200, 10, fsroute_route="local", fsroute_result="bridged")]
    path = tmp_path / "cdrs.json"
    path.write_text(json.dumps(took))
    report = replay.replay(cdrs.read(str(path)), replay.Replayer(files("old.yaml")), None, str(path))
    assert report.before is not None and report.before.label == "what the calls recorded"
    assert (report.calls, report.changed) == (3, 1)  # the old rules send 49 to late: the second call changes
    assert list(report.changes.items()) == [(("49", "international", "flat", "international", "late"), 1)]


def test_cached_decisions_are_the_walks_own(files):
    """A call reuses a decision only when the walk would read the same values in the same span of deck dates."""
    rng = random.Random(7)
    dated = files("dated.csv")
    with open(dated, "w") as handle:
        handle.write("prefix,rate,effective_from,effective_to\n49,0.010,,2026-06-02\n49,0.090,2026-06-02,\n"
                     "4930,0.001,,\n")
    with open(files("new.yaml"), "w") as handle:
        handle.write(RULES.replace("late: {deck: %s", "late: {deck: dated.csv") +
                     "  - name: by caller\n"
                     "    match: {destination_number: '^9(\\d+)$', caller_id_number: '^7'}\n"
                     "    number: '$1'\n"
                     "    gateway: seven\n")
    replayer, fresh = replay.Replayer(files("new.yaml")), replay.Replayer(files("new.yaml"))
    for _ in range(400):
        variables = {"destination_number": rng.choice(["00", "9", "1"]) + rng.choice(["4930", "49", "44", "123"]) +
                     str(rng.randint(0, 1)), "caller_id_number": rng.choice(["7001", "8001"])}
        start = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc).timestamp() + rng.randint(0, 2 * 86400)
        cdr = cdrs.Cdr(variables, start, rng.randint(0, 300))
        assert replayer.route(cdr) == fresh._decide(variables.get, start)[0]
    assert fresh.walks == 400 and replayer.walks <= 96  # 48 calls tell apart, in 2 spans of deck dates


def test_fsroute_replay_prints_the_summary_and_writes_the_html_report(files, capsys, tmp_path):
    report = tmp_path / "report.html"
    assert main(["replay", files("Master.csv"), "--rules", files("new.yaml"), "--against", files("old.yaml"),
                 "--tz", "UTC", "--html", str(report)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("replayed 6 calls (4 answered, 300 billed seconds) from %s, 2026-06-01T10:00:00Z .. "
                      "2026-06-02T09:55:00Z" % files("Master.csv"))
    assert out[2] == "route or first carrier changes: 3 calls"
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text and "http" not in text.split("</style>")[1]
    assert "<td data-figure='cost-after'>0.06</td>" in text


def test_replay_lets_the_cdrs_lack_variables_be_given(files, capsys, tmp_path):
    acl = tmp_path / "acl.yaml"
    acl.write_text(RULES.replace("version: 1\n", "version: 1\nacls:\n  peers: {default: deny, nodes: [{allow: 10.0.0.0/8}]}\n"
                                 "ingress_acl: peers\n") % "late.csv")
    assert main(["replay", files("Master.csv"), "--rules", str(acl), "--tz", "UTC", "--quiet"]) == 0
    assert "new rules would not route: 6 calls (denied 6), 4 of them answered" in capsys.readouterr().out
    assert main(["replay", files("Master.csv"), "--rules", str(acl), "--tz", "UTC", "--var", "network_addr=10.1.1.1"]) == 0
    assert "new rules would not route: 2 calls (no_carrier 1, no_margin 1), 1 of them answered" in capsys.readouterr().out


def test_a_broken_cdr_file_says_where(files, tmp_path, capsys):
    broken = tmp_path / "Master.csv"
    broken.write_text(MASTER + '"x","1","2"\n')
    assert main(["replay", str(broken), "--rules", files("new.yaml"), "--tz", "UTC"]) == 1
    assert capsys.readouterr().err == "fsroute replay: %s:7: 3 fields, the template has 15\n" % broken


def test_replaying_in_parts_gives_the_same_report(files, tmp_path, capsys):
    big = tmp_path / "Big.csv"
    big.write_text(MASTER * 50)  # 300 calls, split in three parts at line ends
    argv = ["replay", str(big), "--rules", files("new.yaml"), "--against", files("old.yaml"), "--tz", "UTC",
            "--shift", "7", "--var", "fsroute_sell_deck=retail", "--quiet"]
    assert main(argv) == 0
    alone = capsys.readouterr().out
    assert main(argv + ["--jobs", "3"]) == 0
    assert capsys.readouterr().out == alone
    assert "route or first carrier changes: 150 calls" in alone and "2026-06-08T10:00:00Z" in alone
    broken = tmp_path / "Broken.csv"
    broken.write_text(MASTER * 50 + '"x","1","2"\n')
    assert main(["replay", str(broken), "--rules", files("new.yaml"), "--tz", "UTC", "--jobs", "2", "--quiet"]) == 1
    assert capsys.readouterr().err == "fsroute replay: %s:301: 3 fields, the template has 15\n" % broken


def test_rules_with_time_conditions_are_decided_call_by_call(files, tmp_path, capsys):
    timed = tmp_path / "timed.yaml"
    timed.write_text((RULES % "late.csv").replace(
        "  - name: international\n", "  - name: mornings\n    match: {destination_number: '^00(\\d+)$'}\n"
        "    time: {hour: 9-10, tz: UTC}\n    hangup: CALL_REJECTED\n  - name: international\n"))
    replayer = replay.Replayer(str(timed))
    routed = [replayer.route(cdr) for cdr in cdrs.read(files("Master.csv"), tz=datetime.timezone.utc)]
    # 10:00 and 11:00 on the 1st, 09:30, 09:40, 09:50 on the 2nd: the 09:xx calls (and 10:00) are blocked
    assert [(r.result, r.route) for r in routed[:5]] == [
        ("blocked", "mornings"), ("routed", "international"), ("blocked", "mornings"), ("blocked", "mornings"),
        ("blocked", "mornings")]
    assert replayer.walks == 6
    assert routed[0] is routed[2]  # one Routed per distinct decision: the report groups calls by it


def test_progress_on_a_large_file_goes_to_stderr(files, tmp_path, capsys):
    big = tmp_path / "Big.csv"
    big.write_text(MASTER * 12000)  # 72,000 calls
    assert main(["replay", str(big), "--rules", files("new.yaml"), "--tz", "UTC"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("replayed 72000 calls")
    progress, done = captured.err.splitlines()
    assert re.match(r"fsroute replay: 65536 calls, 9[01]%% of %s, \d+\.\d s\Z" % re.escape(str(big)), progress), progress
    assert re.match(r"fsroute replay: 72000 calls in \d+\.\d s \(\d+ calls/s\)\Z", done), done


def test_an_unreadable_cdr_file_is_one_line(files, tmp_path, capsys):
    missing = tmp_path / "nothing.csv"
    assert main(["replay", str(missing), "--rules", files("new.yaml"), "--quiet"]) == 1
    assert capsys.readouterr().err == "fsroute replay: %s: No such file or directory\n" % missing
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["replay", str(bad), "--rules", files("new.yaml"), "--quiet"]) == 1
    assert capsys.readouterr().err.startswith("fsroute replay: %s: Expecting property name" % bad)


def test_least_cost_decisions_are_reused_across_numbers_with_the_same_rows(files):
    """Calls to other numbers reuse a least-cost decision only when the walk would take the same route, look
    up a number of the same length and find the same row in every deck it asks, at the call's instant."""
    rng = random.Random(11)
    with open(files("dated.csv"), "w") as handle:
        handle.write("prefix,rate,effective_from,effective_to\n49,0.010,,2026-06-02\n49,0.090,2026-06-02,\n"
                     "4930,0.001,,\n49301,0.030,,\n")
    with open(files("new.yaml"), "w") as handle:
        handle.write(RULES.replace("late: {deck: %s", "late: {deck: dated.csv")
                     .replace("  - name: international\n", "  - name: short\n"
                              "    match: {destination_number: '^00(\\d{5})$'}\n    number: '$1'\n"
                              "    lcr: {carriers: [late, flat]}\n  - name: international\n"))
    replayer, fresh = replay.Replayer(files("new.yaml")), replay.Replayer(files("new.yaml"))
    for _ in range(600):
        number = rng.choice(["4930", "49301", "49", "44", "4", "33"]) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(0, 3)))
        variables = {"destination_number": "00" + number, "caller_id_number": "1001"}
        if rng.random() < 0.3:
            variables["fsroute_sell_deck"] = rng.choice(["retail", "none"])
        start = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc).timestamp() + rng.randint(0, 2 * 86400)
        assert replayer.route(cdrs.Cdr(variables, start, 60)) == fresh._decide(variables.get, start).routed
    assert fresh.walks == 600 and replayer.walks < 150  # far fewer than the distinct numbers and instants
