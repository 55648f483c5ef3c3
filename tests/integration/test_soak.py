"""The soak of benchmarks/soak.py, short (issue 21): 600 calls at 20 cps while the rules file flips
between valid and broken versions every 3 s, the decks change every 10 s and gw2 flaps every 6 s,
scraped by a real Prometheus server. The full run's figures are in docs/reliability.md."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

import soak  # noqa: E402


def test_a_short_soak_loses_no_call_and_counts_agree(fs, workdirs):
    figures = soak.run(fs.switch, fs.gateways, workdirs("soak"), calls=600, rate=20, reload_every=3,
                       deck_every=10, flap_every=6)
    assert figures["sipp"] == {"successful": 600, "failed": 0}, figures
    assert figures["prometheus"] == figures["cdrs"] == {"bridged": 600}, figures  # SIPp == Prometheus == CDRs
    assert figures["limits"] == {"gw1": "0", "gw2": "0"}, figures
    assert figures["written"]["broken"] >= 4 and figures["written"]["flaps"] >= 3, figures
    # one ERROR per broken version written; the switch's own: a call sent to gw2 as sofia marked it
    # DOWN, before fsroute's next reading (then failed over)
    assert figures["fsroute_errors"] == figures["broken_errors"] == figures["written"]["broken"], figures
    assert set(figures["other_errors"]) <= {"Gateway gw2 is down!"}, figures
    # nothing of a call stays in Python: between the idle moments after the first 120 calls and after
    # the other 480, the objects Python tracks grow by less than one per 10 calls
    idle = figures["idle"]
    assert idle["end"]["objects"] - idle["after_warmup"]["objects"] < 48, idle
