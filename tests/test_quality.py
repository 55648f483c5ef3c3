"""Quality tracking and routing on it (core.quality, runtime.quality; issue 23), with an injected clock."""

import pytest

from fsroute import ctl
from fsroute.core import loader, quality
from fsroute.core.model import RulesError
from fsroute.core.quality import (CRITICAL, OK, PROBE, WARN, QualityRule, Verdict, Window, arrange, class_of,
                                  sample_of, verdict)
from fsroute.runtime import events, process
from fsroute.runtime.call import route_with
from fsroute.runtime.generation import standalone
from fsroute.testing import StubSession


def test_a_window_gives_asr_ner_acd_pdd_and_short_calls_and_forgets_what_is_older_than_it():
    window = Window(100.0, short_call=6.0)
    window.add(0.0, sample_of("SUCCESS", talk=60.0, pdd=2.0))
    window.add(1.0, sample_of("SUCCESS", talk=3.0, pdd=4.0))        # a short call
    window.add(2.0, sample_of("USER_BUSY", talk=None, pdd=1.0))      # the callee's side: NER, not ASR
    window.add(3.0, sample_of("NORMAL_TEMPORARY_FAILURE", talk=None, pdd=None))
    figures = window.figures(50.0)
    assert (figures.attempts, figures.answered, figures.asr, figures.ner) == (4, 2, 0.5, 0.75)
    assert (figures.acd, figures.pdd, figures.short_calls) == (31.5, 7.0 / 3, 0.5)
    window.add(95.0, sample_of("SUCCESS", talk=10.0, pdd=None))
    assert window.figures(105.0).attempts == 1  # the slice of 0-10 s is gone 100 s later
    assert window.figures(205.0).attempts == 0


RULE = QualityRule(min_samples=4, warn=(("asr", 0.5), ("pdd", 5.0)), critical=(("asr", 0.2),))


@pytest.mark.parametrize("answered, pdd, level, why", [
    (3, 1.0, OK, ""),
    (1, 1.0, WARN, "asr 25% below warn 50% over 4 attempts"),
    (0, 1.0, CRITICAL, "asr 0% below critical 20% over 4 attempts"),
    (3, 8.0, WARN, "pdd 8.0s above warn 5.0s over 4 attempts"),
])
def test_the_verdict_names_the_figure_that_decided(answered, pdd, level, why):
    window = Window(100.0, 6.0)
    for i in range(4):
        window.add(float(i), sample_of("SUCCESS" if i < answered else "NORMAL_TEMPORARY_FAILURE", 30.0, pdd))
    assert verdict(window.figures(10.0), RULE) == Verdict(level, why)


def test_no_verdict_below_the_minimum_sample():
    window = Window(100.0, 6.0)
    for i in range(3):
        window.add(float(i), sample_of("NORMAL_TEMPORARY_FAILURE", None, None))
    assert verdict(window.figures(10.0), RULE).level == OK


def test_arrange_moves_warned_gateways_last_leaves_critical_ones_out_but_never_all():
    levels = {"a": Verdict(CRITICAL, "x"), "b": Verdict(WARN, "y"), "c": Verdict(OK, ""), "d": Verdict(PROBE, "p")}
    order, moved = arrange(["a", "b", "c", "d"], str, levels.__getitem__)
    assert order == ["c", "d", "b"] and set(moved) == {"a", "b", "d"}
    order, moved = arrange(["a", "a2"], str, lambda g: Verdict(CRITICAL, "bad"))
    assert order == ["a", "a2"] and all(v.level == PROBE for v in moved.values())


def test_a_destination_class_is_the_longest_prefix():
    classes = (("de", ("49",)), ("de_mobile", ("4915", "4916")))
    assert [class_of(classes, n) for n in ("4915123", "4930123", "4412")] == ["de_mobile", "de", None]


QUALITY = """\
    version: 1
    defaults:
      quality:
        window: 600
        min_samples: 10
        probe_every: 30
        classes: {mobile: ['4915', '4916']}
        warn: {asr: 0.5}
        critical: {asr: 0.25}
    groups:
      pair: {strategy: priority, gateways: [gw1, gw2]}
      strict: {strategy: priority, gateways: [gw1, gw2], quality: {min_samples: 5, critical: {ner: 0.9}}}
    routes:
      - {name: out, match: {destination_number: '^1(\\d+)$'}, number: '$1', group: pair}
      - {name: own, match: {destination_number: '^2'}, group: pair, quality: {warn: {acd: 20, short_calls: 0.2}}}
      - {name: grouped, match: {destination_number: '^3'}, group: strict}
"""


def test_quality_is_read_under_defaults_a_route_and_a_group(write_rules):
    rules = loader.load(write_rules(QUALITY))
    settings = rules.defaults.quality
    assert (settings.window, settings.probe_every, settings.short_call) == (600.0, 30.0, 6.0)
    assert settings.classes == (("mobile", ("4915", "4916")),)
    assert settings.rule == QualityRule(10, (("asr", 0.5),), (("asr", 0.25),))
    assert rules.routes[1].quality == QualityRule(20, (("acd", 20.0), ("short_calls", 0.2)), ())
    assert rules.groups["strict"].quality == QualityRule(5, (), (("ner", 0.9),))


@pytest.mark.parametrize("figure", ["asr", "pdd"])
def test_a_threshold_that_is_not_a_number_is_refused(write_rules, figure):
    # .nan passed the range checks, and a NaN threshold is never passed: it loaded and never fired
    path = write_rules("version: 1\ndefaults: {quality: {warn: {%s: .nan}}}\nroutes: []\n" % figure)
    with pytest.raises(RulesError) as refused:
        loader.load(path)
    assert "defaults.quality.warn.%s must be" % figure in str(refused.value)


def test_a_threshold_out_of_range_is_refused(write_rules):
    path = write_rules("version: 1\ndefaults: {quality: {warn: {asr: 1.5, pdd: -1, speed: 3}}}\nroutes: []\n")
    with pytest.raises(RulesError) as refused:
        loader.load(path)
    text = str(refused.value)
    assert "defaults.quality.warn.asr must be a fraction from 0 to 1" in text
    assert "defaults.quality.warn.pdd must be seconds" in text and "speed" in text


class Switchboard:
    """Calls routed on one generation with a FakeClock; each call's gateways fail or answer as told."""

    def __init__(self, rules_path, clock, fake_freeswitch):
        self.clock = clock
        self.store = process.store_for(rules_path, clock=clock)  # with its decks
        self.fake = fake_freeswitch

    def call(self, number="1000", **outcomes):
        session = StubSession({"destination_number": number, "network_addr": "127.0.0.1", "fsroute_trace": "true"},
                              outcomes, fake=self.fake)
        route_with(session, self.store.current)
        return session

    def dialled(self, number="1000", **outcomes):
        return [d.split("/")[2] for d, _ in self.call(number, **outcomes).bridges]


@pytest.fixture
def board(write_rules, clock, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    return Switchboard(write_rules(QUALITY), clock, fake_freeswitch)


def test_a_poor_gateway_is_moved_last_then_left_out_then_probed_and_back_once_the_window_forgets(
        board, fake_freeswitch):
    for i in range(10):  # gw1 answers 4 calls in 10: ASR 40%, below warn
        assert board.dialled(gw1="SUCCESS" if i < 4 else "sip:503")[0] == "gw1"
    session = board.call()
    assert [d.split("/")[2] for d, _ in session.bridges] == ["gw2"]  # gw1 is last now; gw2 answered
    trace = [m for m in fake_freeswitch.log_lines("notice") if session.uuid in m]
    assert any(m.endswith("quality: gateway gw1 moved to the end: asr 40% below warn 50% over 10 attempts")
               for m in trace)
    for _ in range(7):  # gw2 fails too: gw1 gets the calls as second and fails them: 4 of 17
        assert board.dialled(gw1="sip:503", gw2="sip:503") == ["gw2", "gw1"]
    session = board.call()
    assert [d.split("/")[2] for d, _ in session.bridges] == ["gw2"]
    assert session.variables["fsroute_skipped"] == "gw1:quality"
    changes = [(e["fsroute-quality"], e["fsroute-previous-quality"]) for e in fake_freeswitch.fired(events.GATEWAY)
               if e.get("fsroute-quality")]
    assert changes == [("warn", "ok"), ("critical", "warn")]
    board.clock.advance(29)
    assert board.dialled() == ["gw2"]
    board.clock.advance(1)
    assert "\ngateways: gw2\n" in ctl.command("test 1000")  # a dry run claims no probe call
    assert board.dialled() == ["gw1"]   # one probe call reaches it, in its place
    assert board.dialled() == ["gw2"]   # and then not until the next period
    board.clock.advance(600)            # the window forgets: no verdict until min_samples again
    assert board.dialled() == ["gw1"]


def test_a_destination_class_is_judged_on_its_own_figures_once_it_has_enough(board):
    for _ in range(30):  # other calls answer on gw1, mobile ones fail there
        board.dialled("1300")
    for _ in range(10):
        board.dialled("14915000", gw1="sip:503")
    assert board.dialled("14915000") == ["gw2"]  # mobile: gw1 0% of 10: critical for that class
    assert board.dialled("1300") == ["gw1"]      # gw1 overall: 30 of 40 = 75%: fine for other numbers


def test_a_routes_own_thresholds_apply_to_its_calls(board):
    for _ in range(10):
        board.dialled("1000", gw1="sip:486")  # busy callees: NER fine, ASR 0
    assert board.dialled("1000") == ["gw2"]  # route out: ASR 0 < 25%
    assert board.dialled("3000") == ["gw1"]  # group strict: only NER counts, and busy is the callee's side


def test_ctl_status_and_the_metrics_show_the_figures_and_verdicts(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules(QUALITY)
    for _ in range(10):
        route_with(StubSession({"destination_number": "1000"}, {"gw1": "sip:503"}, fake=fake_freeswitch),
                   lambda: process.store_for(path).current())
    route_with(StubSession({"destination_number": "1000"}, fake=fake_freeswitch),
               lambda: process.store_for(path).current())
    status = ctl.command("status %s" % path)
    assert "quality (window 600s):" in status
    assert "  gw1: attempts 10 answered 0 asr 0% ner 0% acd - pdd - short -" in status
    assert "  gw1 for route 'out': critical" in status
    text = ctl.command("metrics")
    assert 'fsroute_gateway_quality_asr{path="%s",gateway="gw1",class=""} 0' % path in text
    assert 'fsroute_gateway_quality_level{path="%s",gateway="gw1",class="",route="out"} 2' % path in text
    with open(path, "a") as handle:  # a reload keeps what was measured
        handle.write("# changed\n")
    ctl.command("reload %s" % path)
    assert "  gw1: attempts 10 answered 0" in ctl.command("status %s" % path)


def test_the_tracker_is_not_there_without_quality_rules(write_rules, fake_freeswitch):
    generation = standalone(loader.load(write_rules("version: 1\nroutes: [{name: r, gateway: gw1}]\n")), {})
    assert generation.quality is None and generation.quality_judge(generation.rules.routes[0], "1") is None
    assert quality.sample_of("ORIGINATOR_CANCEL", None, None).user_side


LCR = """\
    version: 1
    defaults:
      quality: {min_samples: 5, warn: {asr: 0.6}, critical: {asr: 0.3}}
    carriers:
      cheap: {deck: cheap.csv, gateway: gwa, currency: USD}
      middle: {deck: middle.csv, gateway: gwb, currency: USD}
      dear: {deck: dear.csv, gateway: gwc, currency: USD}
    routes:
      - {name: intl, match: {destination_number: '^00(\\d+)$'}, number: '$1', lcr: {carriers: [cheap, middle, dear]}}
"""


def test_least_cost_takes_the_cheapest_carrier_above_the_quality_floor_and_says_why(tmp_path, clock,
                                                                                    fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gwa", "gwb", "gwc"])
    for name, rate in (("cheap", "0.010"), ("middle", "0.020"), ("dear", "0.030")):
        (tmp_path / ("%s.csv" % name)).write_text("prefix,rate\n49,%s\n" % rate)
    (tmp_path / "rules.yaml").write_text(LCR.replace("\n    ", "\n")[4:])
    clock.advance(5)  # decks are read once they have been still for 2 s
    board = Switchboard(str(tmp_path / "rules.yaml"), clock, fake_freeswitch)
    assert board.dialled("00491000") == ["gwa"]
    for i in range(6):  # cheap answers 2 in 5 (warn: moved last), middle fails every call it gets (critical)
        board.dialled("00491000", gwa="SUCCESS" if i == 0 else "sip:503", gwb="sip:503")
    session = board.call("00491000", gwc="sip:503", gwa="sip:503")
    assert [d.split("/")[2] for d, _ in session.bridges] == ["gwc", "gwa"]  # dear first, cheap last, middle out
    assert session.variables["fsroute_skipped"] == "gwb:quality"
    trace = [m.split(" ", 3)[3] for m in fake_freeswitch.log_lines("notice") if session.uuid in m]
    assert "quality: gateway gwa moved to the end: asr 40% below warn 60% over 5 attempts" in trace
    assert "quality: gateway gwb left out: asr 0% below critical 30% over 5 attempts" in trace


def test_a_reload_forgets_the_verdicts_of_routes_it_no_longer_has(write_rules, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    path = write_rules(QUALITY)
    current = process.store_for(path).current
    for _ in range(11):
        route_with(StubSession({"destination_number": "1000"}, {"gw1": "sip:503"}, fake=fake_freeswitch), current)
    assert "  gw1 for route 'out': critical" in ctl.command("status %s" % path)
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("name: out,", "name: renamed,"))
    ctl.command("reload %s" % path)
    status = ctl.command("status %s" % path)
    assert "route 'out'" not in status and "  gw1: attempts 10 answered 0" in status


TABLE_CLASSES = QUALITY.replace("        classes: {mobile: ['4915', '4916']}\n", """\
        classes: {mobile: ['4915', '4916']}
        class_tables:
          - premium                              # a row: class 'premium', the table's name
          - {table: regions, column: Region}     # a row: its region cell
""").replace("    groups:\n", """\
    tables:
      premium: {file: premium.txt, key: prefix, header: false}
      regions: {file: regions.csv, key: prefix, columns: {key: prefix}, action: continue}
    groups:
""")


@pytest.fixture
def table_board(tmp_path, write_rules, clock, fake_freeswitch):
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2"])
    (tmp_path / "premium.txt").write_text("4490\n")
    (tmp_path / "regions.csv").write_text("prefix,region,note\n49,de,\n4915,,mobile: the prefix list's class\n"
                                          "4930,de_berlin,\n")
    return Switchboard(write_rules(TABLE_CLASSES), clock, fake_freeswitch)


def test_a_class_comes_from_the_first_table_with_a_row_else_from_the_prefix_lists(table_board):
    from fsroute.core.destclass import class_for
    generation = table_board.store.current()
    settings = generation.rules.defaults.quality
    assert [entry[:2] for entry in settings.class_tables] == [("premium", None), ("regions", "region")]
    found = [class_for(settings, number, generation.table_of, 0.0)
             for number in ("449012", "+4930123", "4940123", "4915123", "4412")]
    assert found == ["premium", "de_berlin", "de", "mobile", None]  # 4915's empty cell: the prefix list decides
    assert class_for(settings, "4930123", lambda name: None, 0.0) is None  # tables not loaded: no row


def test_a_class_read_from_a_table_is_judged_on_its_own_figures(table_board):
    for _ in range(30):  # other calls answer on gw1, Berlin ones fail there
        table_board.dialled("14940000")
    for _ in range(10):
        table_board.dialled("14930000", gw1="sip:503")
    assert table_board.dialled("14930000") == ["gw2"]  # class de_berlin: gw1 0% of 10: critical
    assert table_board.dialled("14940000") == ["gw1"]  # class de: 30 of 30
    status = ctl.command("status %s" % table_board.store.path)
    assert "  gw1 class de_berlin: attempts 10 answered 0" in status
    assert "  gw1 class de: attempts 31 answered 31" in status
    assert "  gw1 class de_berlin for route 'out': critical" in status


def test_class_tables_are_checked_against_the_tables(write_rules):
    bad = TABLE_CLASSES.replace("- premium  ", "- premum   ").replace("header: false}", "header: false}\n      "
                                                                      "other: {file: o.txt, key: exact, header: false}") \
        .replace("{table: regions, column: Region}", "{table: other, column: region}")
    with pytest.raises(RulesError) as caught:
        loader.load(write_rules(bad))
    text = str(caught.value)
    assert "defaults.quality.class_tables: no table named 'premum' (did you mean 'premium'?)" in text
    assert "table 'other' is a list without a header: it has no column 'region'" in text


class RingingSession(StubSession):
    """The gateway rings 0.2 s after the INVITE, passed on to the caller's channel (``progress_time``)."""

    def _bridge(self, data):
        import time
        self.variables.setdefault("progress_time", str(int((time.time() + 0.2) * 1e6)))
        super()._bridge(data)


@pytest.mark.parametrize("before, pdd", [
    ({}, 0.2),
    ({"progress_media_time": "-3"}, None),  # the dialplan's pre_answer 3 s before: the switch set only this
    ({"progress_time": "-3"}, None),        # its ring_ready
])
def test_a_channel_that_had_early_media_before_fsroute_gives_no_pdd(write_rules, clock, fake_freeswitch, before, pdd):
    # pre_answer stamps progress_media_time alone, once per channel: it was taken for the gateway's
    # first ring, a PDD of 0 s that pulled the gateway's mean down
    import time
    fake_freeswitch.set_gateways("external", up=["gw1"])
    store = process.store_for(write_rules("version: 1\ndefaults: {quality: {window: 900}}\n"
                                          "routes:\n  - {name: out, gateway: gw1}\n"), clock=clock)
    variables = {name: str(int((time.time() + float(value)) * 1e6)) for name, value in before.items()}
    session = RingingSession(dict(variables, destination_number="1000", network_addr="127.0.0.1"),
                             {"gw1": "USER_BUSY"}, fake=fake_freeswitch)
    route_with(session, store.current)
    [(_, _, figures)] = store.current().quality.snapshot()
    assert figures.pdd == pytest.approx(pdd, abs=0.05) if pdd is not None else figures.pdd is None


def test_a_critical_gateway_takes_no_part_in_a_weighted_pick(write_rules, clock, fake_freeswitch):
    # it was left out after the round robin had picked it: its picks went to the next in the failover
    # order, and gw1 got twice gw2's share of a 1:1 group
    fake_freeswitch.set_gateways("external", up=["gw1", "gw2", "gw3"])
    store = process.store_for(write_rules("""\
version: 1
defaults:
  quality: {window: 3600, min_samples: 5, probe_every: 3600, critical: {asr: 0.25}}
groups:
  trio: {strategy: weighted_round_robin, gateways: [gw1, gw2, {name: gw3, weight: 2}]}
routes:
  - {name: out, match: {destination_number: '^(\\d+)$'}, number: '$1', group: trio}
"""), clock=clock)

    def call(**outcomes):
        session = StubSession({"destination_number": "4930123", "network_addr": "127.0.0.1"}, outcomes,
                              fake=fake_freeswitch)
        route_with(session, store.current)
        return session

    for _ in range(30):  # gw3 fails every call it gets: ASR 0, critical
        call(gw3="sip:503")
    session = call()
    assert session.variables["fsroute_skipped"] == "gw3:quality"  # still judged, named and left out
    firsts = [call().bridges[0][0].split("/")[2] for _ in range(600)]
    assert (firsts.count("gw1"), firsts.count("gw2")) == (300, 300)
