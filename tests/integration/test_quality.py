"""Routing on measured quality in a real FreeSWITCH: a gateway answering 20 % of calls is moved last, then
left out, then probed and brought back; PDD and ACD come from the times the switch keeps; a destination
class read from a number table is judged on its own figures (issue 23)."""

import os
import re
import time

from .test_health import eventually, fields_of, wait_for_log
from .test_margin import use_rules_with_decks

RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  quality: {window: 600, min_samples: 10, probe_every: 2, warn: {asr: 0.5}, critical: {asr: 0.15}}
groups:
  pair: {strategy: priority, gateways: [gw2, gw1]}
routes:
  - {name: pair, match: {destination_number: '^(\\d+)$'}, group: pair}
"""


def quality_line(switch, name):
    status = switch.api("python fsroute.ctl status %s" % switch.rules_path)
    return next(line for line in status.splitlines() if line.startswith("  %s: attempts " % name))


def observed(switch, name, attempts):
    """Wait until the windows hold ``attempts`` of ``name``: the caller sees its call end a moment before
    fsroute publishes the call's record."""
    return eventually(lambda: quality_line(switch, name).startswith("  %s: attempts %d " % (name, attempts)), True)


def test_a_gateway_answering_one_call_in_five_is_demoted_then_left_out_then_probed_back(fs):
    fs.use_rules(RULES)
    gw1, gw2 = fs.gateways["gw1"], fs.gateways["gw2"]
    gw2.reject_code = 503
    for i in range(10):  # gw2 answers 1 call in 5: 20 %, below warn (50 %), above critical (15 %)
        gw2.mode = "answer" if i % 5 == 0 else "reject"
        assert fs.call("55700%02d" % i).code == 200
    assert (gw2.invite_count(), gw1.invite_count()) == (10, 8)
    assert observed(fs.switch, "gw2", 10)
    result = fs.call("5570100")  # gw2 is last now: gw1 takes the call
    assert result.code == 200 and gw2.invite_count() == 10
    assert wait_for_log(fs.switch, fs.log_mark, "fsroute: gateway gw2 for route 'pair' quality warn (was ok): "
                        "asr 20% below warn 50% over 10 attempts")
    assert fields_of(fs.switch, fs.log_mark, result)["tried"] == "gw1:SUCCESS"

    gw1.mode, gw1.reject_code = "reject", 503  # gw1 fails 4 calls: gw2 gets them as second and fails them
    gw2.mode = "reject"
    for i in range(4):
        assert fs.call("55702%02d" % i).code == 503
    assert gw2.invite_count() == 14  # 2 answered of 14: 14 %, below critical
    assert observed(fs.switch, "gw2", 14)
    left_out = fs.call("5570300")  # gw1 fails again: gw2 is left out, not tried at all
    assert left_out.code == 503 and gw2.invite_count() == 14
    fields = fields_of(fs.switch, fs.log_mark, left_out)
    assert (fields["tried"], fields["skipped"]) == ("gw1:NORMAL_TEMPORARY_FAILURE", "gw2:quality")
    assert wait_for_log(fs.switch, fs.log_mark, "fsroute: gateway gw2 for route 'pair' quality critical (was warn)")

    gw1.mode, gw2.mode = "answer", "answer"  # gw2 recovers; after probe_every one probe call reaches it
    assert observed(fs.switch, "gw1", 14)
    time.sleep(2.1)
    probe = fs.call("5570400")
    assert probe.code == 200 and gw2.invite_count() == 15
    assert fields_of(fs.switch, fs.log_mark, probe)["tried"] == "gw2:SUCCESS"  # kept in its place, first
    assert observed(fs.switch, "gw2", 15)
    gw1.mode = "reject"  # back in the order (last): it takes the calls gw1 fails
    assert fs.call("5570500").code == 200 and gw2.invite_count() == 16
    assert wait_for_log(fs.switch, fs.log_mark, "fsroute: gateway gw2 for route 'pair' quality warn (was critical)")

    line = quality_line(fs.switch, "gw1")  # the switch's times give PDD and ACD
    found = re.search(r"acd ([0-9.]+)s pdd ([0-9.]+)s", line)
    assert found, line
    acd, pdd = float(found.group(1)), float(found.group(2))
    print("\n%s" % line)
    assert 0.2 < acd < 1.0 and 0.0 <= pdd < 0.5  # calls held 0.3 s; the fake gateway rings at once


def test_pdd_and_acd_are_the_gateways_ring_and_talk_times(fs):
    fs.use_rules(RULES)
    gw2 = fs.gateways["gw2"]
    gw2.ring_delay, gw2.answer_delay = 0.6, 0.5  # 180 at 0.6 s, 200 at 1.1 s; the caller talks 1 s
    for i in range(3):
        assert fs.call("55710%02d" % i, hold=1.0).code == 200
    assert observed(fs.switch, "gw2", 3)
    line = quality_line(fs.switch, "gw2")
    print("\n%s" % line)
    found = re.search(r"acd ([0-9.]+)s pdd ([0-9.]+)s", line)
    assert found, line
    acd, pdd = float(found.group(1)), float(found.group(2))
    assert 0.5 <= pdd <= 0.9 and 0.8 <= acd <= 1.5


PRE_ANSWER_EXTENSION = """    <extension name="pre-answer" continue="true">
      <condition field="${sip_h_X-Pre-Answer}" expression="^yes$">
        <action application="pre_answer"/>
      </condition>
    </extension>"""


def test_a_call_with_early_media_before_fsroute_gives_its_gateway_no_pdd(fs):
    # the dialplan's pre_answer stamps only progress_media_time, once per channel: it was taken for the
    # gateway's first ring, a PDD of 0 s
    fs.use_rules(RULES)
    fs.switch.write_config(extra_extensions=PRE_ANSWER_EXTENSION)
    fs.switch.api("reloadxml")
    try:
        gw2 = fs.gateways["gw2"]
        gw2.ring_delay, gw2.answer_delay = 0.6, 0.5
        for i in range(2):
            assert fs.call("55720%02d" % i, hold=0.5, headers=[("X-Pre-Answer", "yes")]).code == 200
        assert observed(fs.switch, "gw2", 2)
        line = quality_line(fs.switch, "gw2")
        assert " pdd - " in line, line  # not known: the channel had early media before the INVITE
    finally:
        fs.switch.write_config()
        fs.switch.api("reloadxml")


TABLE_CLASS_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  quality:
    min_samples: 10
    probe_every: 600
    critical: {asr: 0.15}
    class_tables: [{table: regions, column: region}]
tables:
  regions: {file: regions.csv, key: prefix, columns: {key: prefix}, action: continue}
groups:
  pair: {strategy: priority, gateways: [gw2, gw1]}
routes:
  - {name: pair, match: {destination_number: '^(\\d+)$'}, group: pair}
"""


def test_a_class_read_from_a_table_is_judged_on_its_own_figures(fs):
    with open(os.path.join(os.path.dirname(fs.switch.rules_path), "regions.csv"), "w") as handle:
        handle.write("prefix,region\n49,de\n4930,de_berlin\n")
    fs.use_rules(TABLE_CLASS_RULES)
    gw1, gw2 = fs.gateways["gw1"], fs.gateways["gw2"]
    gw2.reject_code = 503
    for i in range(10):  # gw2 answers the rest of Germany, fails Berlin (gw1 takes those calls)
        gw2.mode = "answer"
        assert fs.call("494000%02d" % i).code == 200
        gw2.mode = "reject"
        assert fs.call("493000%02d" % i).code == 200
    assert (gw2.invite_count(), gw1.invite_count()) == (20, 10)
    assert observed(fs.switch, "gw2", 20)  # 50 % overall: no verdict; Berlin 0 of 10: critical
    berlin = fs.call("4930009999")
    assert berlin.code == 200 and gw2.invite_count() == 20
    assert fields_of(fs.switch, fs.log_mark, berlin)["skipped"] == "gw2:quality"
    gw2.mode = "answer"
    assert fs.call("4940009999").code == 200 and gw2.invite_count() == 21  # class de: gw2 first
    status = fs.switch.api("python fsroute.ctl status %s" % fs.switch.rules_path)
    assert "  gw2 class de_berlin: attempts 10 answered 0 " in status
    assert "  gw2 class de_berlin for route 'pair': critical" in status


LCR_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  quality: {window: 600, min_samples: 3, classes: {de: ['49']}}
carriers:
  fee: {deck: acd_fee.csv, gateway: gw1}
  flat: {deck: acd_flat.csv, gateway: gw2}
routes:
  - {name: intl, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [fee, flat]}}
"""
# a 180 s call: fee 0.05 + 0.03 = 0.08, flat 0.09; a 1 s call: fee 0.050167, flat 0.0005
ACD_DECKS = {"acd_fee.csv": "prefix,rate,connect_fee\n49,0.010,0.050\n", "acd_flat.csv": "prefix,rate\n49,0.030\n"}


def test_an_lcr_route_prices_at_the_acd_the_switch_measured_for_the_destination(fs):
    use_rules_with_decks(fs, LCR_RULES, ACD_DECKS)
    first = [fs.call("00491570%02d" % i, hold=1.0) for i in range(3)]  # priced as 180 s calls: fee
    assert [c.code for c in first] == [200, 200, 200]
    assert [fs.cdr(c)["fsroute_lcr_carrier"] for c in first] == ["fee", "fee", "fee"]
    assert observed(fs.switch, "gw1", 3)  # 3 answered calls of class de, about 1 s each
    fourth = fs.call("0049157099", hold=1.0)
    row = fs.cdr(fourth)
    print("\n%s; 4th call: %s at %s" % (quality_line(fs.switch, "gw1"), row["fsroute_lcr_carrier"],
                                        row["fsroute_lcr_cost"]))
    assert (fourth.code, row["fsroute_lcr_carrier"]) == (200, "flat")  # priced at the ACD, 1 or 2 s
    assert row["fsroute_lcr_cost"] in ("0.0005", "0.001")
    assert fs.invites()["gw1"] == 3 and fs.invites()["gw2"] == 1


WEIGHTED_RULES = """\
version: 1
defaults:
  status_ttl: 0.5
  quality: {window: 600, min_samples: 3, probe_every: 600, critical: {asr: 0.25}}
groups:
  trio: {strategy: weighted_round_robin, gateways: [gw1, gw2, gw3]}
routes:
  - {name: trio, match: {destination_number: '^(\\d+)$'}, group: trio}
"""


def test_a_critical_gateway_takes_no_part_in_the_weighted_pick(fs):
    # it was left out after the round robin had picked it, and its picks went to the next gateway of the
    # failover order: gw1 took twice gw2's share of a 1:1 pair
    fs.use_rules(WEIGHTED_RULES)
    gw3 = fs.gateways["gw3"]
    gw3.mode, gw3.reject_code = "reject", 503
    while gw3.invite_count() < 3:  # gw3 fails the calls it gets (they go on to the others): ASR 0, critical
        assert fs.call("5573000").code == 200
    assert observed(fs.switch, "gw3", 3)
    before = fs.invites()
    for i in range(20):
        assert fs.call("55731%02d" % i).code == 200
    after = fs.invites()
    assert (after["gw1"] - before["gw1"], after["gw2"] - before["gw2"], after["gw3"] - before["gw3"]) == (10, 10, 0)
