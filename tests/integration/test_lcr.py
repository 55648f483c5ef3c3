"""Least-cost routing through a real FreeSWITCH: the cheapest carrier's gateway, in its number format."""

import os
import time

from .harness.switch import fsroute_lines, parse_line

LCR_RULES = """\
version: 1
defaults: {status_ttl: 0.5, reload_check: 0.5}
carriers:
  carrier_a: {deck: lcr_a.csv, gateway: gw1, number_format: '+{number}', currency: USD}
  carrier_b: {deck: lcr_b.csv, gateway: gw2, currency: USD}
  carrier_c: {deck: lcr_c.csv, gateway: gw3, number_format: '0011$0', currency: USD}  # carrier_a: the old form
routes:
  - name: international
    match: {destination_number: '^00(\\d+)$'}
    number: '$1'
    lcr: {carriers: [carrier_a, carrier_b, carrier_c], max_rate: 0.05}
"""
DECKS = {
    "lcr_a.csv": "prefix,rate\n49,0.020\n4915,0.045\n",
    "lcr_b.csv": "prefix,rate\n49,0.015\n4915,0.030\n",
    "lcr_c.csv": "prefix,rate\n4915,0.040\n491512,0.025\n",
}


def use_lcr_rules(fs):
    directory = os.path.dirname(fs.switch.rules_path)
    for name, text in DECKS.items():
        with open(os.path.join(directory, name), "w") as deck:
            deck.write(text)
    fs.use_rules(LCR_RULES)  # ctl reload loads the decks too


def the_line(fs, cdr):
    [line] = fsroute_lines(fs.switch.log_since(fs.log_mark), cdr["uuid"])
    return parse_line(line)


def test_a_call_is_bridged_to_the_cheapest_carrier_in_its_number_format(fs):
    use_lcr_rules(fs)
    result = fs.call("00491512345")
    assert result.code == 200 and result.acked
    assert fs.invites() == {"gw1": 0, "gw2": 0, "gw3": 1, "gw4": 0}
    assert fs.gateways["gw3"].uri_users() == ["0011491512345"]
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_route"], cdr["fsroute_gateway"], cdr["fsroute_attempts"]) == \
        ("bridged", "international", "gw3", "1")
    fields = the_line(fs, cdr)
    assert (fields["tried"], fields["lcr"]) == ("gw3:SUCCESS", "carrier_c:491512:0.025")


def test_a_rejecting_carrier_fails_over_to_the_next_cheapest(fs):
    use_lcr_rules(fs)
    fs.gateways["gw3"].mode = "reject"
    fs.gateways["gw3"].reject_code = 503
    result = fs.call("00491599")  # carrier_c's 0.04 for 4915 is dearer than carrier_b's 0.03
    assert result.code == 200
    assert fs.gateways["gw2"].uri_users() == ["491599"]
    assert fs.invites() == {"gw1": 0, "gw2": 1, "gw3": 0, "gw4": 0}

    fs.gateways["gw2"].mode = "reject"
    fs.gateways["gw2"].reject_code = 503
    result = fs.call("00491512345")
    assert result.code == 200
    # carrier_c 0.025 (gw3) rejects, carrier_b 0.03 (gw2) rejects, carrier_a 0.045 (gw1) answers
    assert fs.gateways["gw3"].uri_users() == ["0011491512345"]
    assert fs.gateways["gw2"].uri_users() == ["491599", "491512345"]
    assert fs.gateways["gw1"].uri_users() == ["+491512345"]
    cdr = fs.cdr(result)
    assert (cdr["fsroute_result"], cdr["fsroute_gateway"], cdr["fsroute_attempts"]) == ("bridged", "gw1", "3")
    fields = the_line(fs, cdr)
    assert fields["tried"] == "gw3:NORMAL_TEMPORARY_FAILURE,gw2:NORMAL_TEMPORARY_FAILURE,gw1:SUCCESS"
    assert fields["lcr"] == "carrier_a:4915:0.045"


def test_the_route_event_carries_each_attempts_carrier_and_no_carrier(fs):
    from .test_events import Subscriber
    subscriber = Subscriber(fs.switch.ports["esl"])
    try:
        use_lcr_rules(fs)
        fs.gateways["gw3"].mode = "reject"
        fs.gateways["gw3"].reject_code = 503
        result = fs.call("00491512345")
        assert result.code == 200
        event = subscriber.route_event(fs.cdr(result)["uuid"])
        expected = {"fsroute-result": "bridged", "fsroute-attempts": "2",
                    "fsroute-attempt-1-gateway": "gw3", "fsroute-attempt-1-lcr-carrier": "carrier_c",
                    "fsroute-attempt-1-lcr-prefix": "491512", "fsroute-attempt-1-lcr-rate": "0.025",
                    "fsroute-attempt-2-gateway": "gw2", "fsroute-attempt-2-lcr-carrier": "carrier_b",
                    "fsroute-attempt-2-lcr-prefix": "4915", "fsroute-attempt-2-lcr-rate": "0.03"}
        assert {k: event.get(k) for k in expected} == expected
        refused = fs.call("0033123")  # no deck serves 33
        assert refused.code != 200
        event = subscriber.route_event(fs.cdr(refused)["uuid"])
        assert (event["fsroute-result"], event["fsroute-route"], event["fsroute-attempts"]) == \
            ("no_carrier", "international", "0")
    finally:
        subscriber.close()


def aged(path):
    """Date the file 10 s back: settled, so the next check reloads it (a fresh write waits SETTLE_SECONDS)."""
    then = os.path.getmtime(path) - 10
    os.utime(path, (then, then))


def test_a_changed_deck_is_taken_up_while_calls_flow_and_a_broken_one_keeps_the_last_good(fs):
    use_lcr_rules(fs)
    assert fs.call("00491512345").code == 200
    assert fs.gateways["gw3"].uri_users() == ["0011491512345"]  # carrier_c at 0.025
    deck_b = os.path.join(os.path.dirname(fs.switch.rules_path), "lcr_b.csv")
    with open(deck_b, "w") as deck:
        deck.write("prefix,rate\n49,0.015\n491512,0.010\n")  # carrier_b now cheapest for 491512
    aged(deck_b)
    deadline = time.monotonic() + 20
    while not fs.gateways["gw2"].uri_users() and time.monotonic() < deadline:
        assert fs.call("00491512345").code == 200  # calls keep being routed while the deck reloads
        time.sleep(0.2)
    assert fs.gateways["gw2"].uri_users() == ["491512345"]

    mark = fs.switch.log_mark()
    with open(deck_b, "a") as deck:
        deck.write("4x,0.1\n")
    aged(deck_b)
    for _ in range(8):  # the broken deck is read at some call's check; the last good one stays in force
        assert fs.call("00491512345").code == 200
        time.sleep(0.3)
    assert fs.gateways["gw2"].uri_users() == ["491512345"] * 9
    fs.switch.wait_log("lcr_b.csv:4:1", mark=mark)
    errors = [line for line in fs.switch.log_since(mark).splitlines() if "[ERR]" in line and "lcr_b.csv" in line]
    assert len(errors) == 1, errors
    assert "lcr_b.csv:4:1: prefix '4x' must be 1 to 15 digits 0-9" in errors[0]
    assert "(keeping sha=" in errors[0]


def test_rules_pushed_before_their_new_deck_go_live_when_the_deck_arrives(fs):
    # a config manager writes the rules, then the deck they now name: the refused rules used to wait
    # for a touch of the rules file or ctl reload, because only the decks in force were watched
    use_lcr_rules(fs)
    deck_f = os.path.join(os.path.dirname(fs.switch.rules_path), "lcr_f.csv")
    if os.path.exists(deck_f):
        os.remove(deck_f)
    mark = fs.switch.log_mark()
    fs.switch.write_rules(LCR_RULES.replace("lcr_b.csv", "lcr_f.csv"))
    fs.switch.wait_log("lcr_f.csv", mark=mark)  # refused: the deck is not there; the last good rules stay
    assert fs.call("00491512345").code == 200
    assert fs.gateways["gw3"].uri_users() == ["0011491512345"]  # carrier_c at 0.025
    with open(deck_f, "w") as deck:
        deck.write("prefix,rate\n491512,0.010\n")  # carrier_b, now on lcr_f.csv, is the cheapest
    aged(deck_f)
    deadline = time.monotonic() + 20
    while not fs.gateways["gw2"].uri_users() and time.monotonic() < deadline:
        assert fs.call("00491512345").code == 200
        time.sleep(0.3)
    assert fs.gateways["gw2"].uri_users() == ["491512345"]
    assert fs.cdr(fs.call("00491512345"))["fsroute_lcr_rate"] == "0.01"


def big_deck(path, rows, rate):
    """A deck of ``rows`` prefixes (7000000...) and 4915 at ``rate``: seconds to load in the switch."""
    with open(path, "w") as deck:
        deck.write("prefix,rate\n4915,%s\n" % rate)
        deck.writelines("%d,0.1\n" % (7000000 + i) for i in range(rows))
    aged(path)


def calls_at(fs, count, per_second, during, destination="00491599"):
    """Place ``count`` calls to ``destination`` at ``per_second``; ``during(n)`` runs before the n-th call."""
    caller = fs.caller()
    calls = []
    start = time.monotonic()
    for n in range(count):
        due = start + n / per_second
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        during(n)
        calls.append(caller.start_call(destination, hold=0.1))
    return [c.wait(30) for c in calls]


def test_an_automatic_reload_to_a_deck_not_loaded_yet_answers_every_call(fs):
    # Issue 19, defect 1: with calls at 20 cps, a new carrier whose 400k-row deck was not loaded yet,
    # then the same carrier pointed at another deck file, each by an atomic rename of the rules file.
    # The rules used to go live before their deck: 56 of 300 calls got 404 (no_carrier).
    use_lcr_rules(fs)
    directory = os.path.dirname(fs.switch.rules_path)
    big_deck(os.path.join(directory, "lcr_d.csv"), 400000, "0.001")
    big_deck(os.path.join(directory, "lcr_e.csv"), 400000, "0.002")
    with_d = LCR_RULES.replace("  carrier_c:", "  carrier_d: {deck: lcr_d.csv, gateway: gw4, currency: USD}\n"
                               "  carrier_c:").replace("carriers: [carrier_a,", "carriers: [carrier_d, carrier_a,")
    with_e = with_d.replace("lcr_d.csv", "lcr_e.csv")

    def flip(n):
        if n == 20:
            fs.switch.write_rules(with_d)
        elif n == 150:
            fs.switch.write_rules(with_e)

    results = calls_at(fs, 300, 20, flip)
    assert [r.code for r in results] == [200] * 300
    cdrs = [fs.cdr(r) for r in results]
    assert {c["fsroute_result"] for c in cdrs} == {"bridged"}
    rates = [c["fsroute_lcr_rate"] for c in cdrs]
    # carrier_b (0.03) until carrier_d's first deck is in force (0.001), then its second (0.002)
    first_d, first_e = rates.index("0.001"), rates.index("0.002")
    assert set(rates[:first_d]) == {"0.03"} and set(rates[first_d:first_e]) == {"0.001"}
    assert set(rates[first_e:]) == {"0.002"} and first_e > 150
