"""``python fsroute.ctl drain GW`` in a real FreeSWITCH under load: no new INVITE reaches the gateway after
the command, the calls up on it finish and are counted down, and the state holds across a restart
(issue 23)."""

import time

from .test_health import eventually
from .test_poller import RULES  # one weighted group of gw1 and gw2
from .test_routing import call_many


def gw1_status(switch):
    return next(line for line in switch.api("python fsroute.ctl status %s" % switch.rules_path).splitlines()
                if line.startswith("  gw1 "))


def test_a_drained_gateway_gets_no_new_invite_its_calls_finish_and_a_restart_keeps_it(fs):
    fs.use_rules(RULES)
    gw1, gw2 = fs.gateways["gw1"], fs.gateways["gw2"]
    caller = fs.caller()
    try:
        up = [caller.start_call("5566%03d" % i, hold=4.0) for i in range(6)]  # 3 of them through gw1
        assert eventually(lambda: sum(1 for i in gw1.invites if i.acked), 3) == 3
        answer = fs.switch.api("python fsroute.ctl drain gw1 load test")
        at_drain = gw1.invite_count()
        assert answer.startswith("+OK gw1 drained in %s: drained since " % fs.switch.rules_path), answer
        assert answer.rstrip().endswith("(load test): 3 calls left"), answer
        assert gw1_status(fs.switch).endswith(": 3 calls left")

        later = call_many(fs, ["5567%03d" % i for i in range(20)], concurrency=5, hold=0.2)
        assert [r.code for r in later] == [200] * 20
        assert gw1.invite_count() == at_drain == 3  # not one INVITE after the command
        assert gw2.invite_count() == 3 + 20

        finished = [c.wait(15) for c in up]  # the calls up on gw1 were left alone
        assert [r.code for r in finished] == [200] * 6 and not any(r.remote_bye for r in finished)
        assert eventually(lambda: gw1_status(fs.switch).endswith(": no calls left"), True, timeout=10)

        fs.switch.restart()
        fs.switch.wait_gateways(down=(), timeout=20)
        assert "drained since" in gw1_status(fs.switch) and "(load test)" in gw1_status(fs.switch)
        before = gw1.invite_count()
        after_restart = call_many(fs, ["5568%03d" % i for i in range(6)], concurrency=3, hold=0.2)
        assert [r.code for r in after_restart] == [200] * 6 and gw1.invite_count() == before

        assert fs.switch.api("python fsroute.ctl enable gw1").startswith("+OK gw1 enabled")
        time.sleep(0.1)
        back = call_many(fs, ["5569%03d" % i for i in range(4)], concurrency=2, hold=0.2)
        assert [r.code for r in back] == [200] * 4 and gw1.invite_count() == before + 2
    finally:
        fs.switch.api("python fsroute.ctl enable gw1")  # the session's switch goes on serving other tests
