"""A private FreeSWITCH on loopback, fake SIP gateways and a SIP caller.

Importable outside pytest (benchmarks/realfs.py uses it):

    from tests.integration.harness import Switch, FakeGateway, Caller
    gws = {"gw1": FakeGateway("gw1").start()}
    fs = Switch(bundle_dir, workdir, gateways=gws, rules_text=RULES).start()
    result = Caller(fs.sip_address).call("5551234")
    fs.stop()
"""

from .caller import Caller, CallResult  # noqa: F401
from .esl import ESL  # noqa: F401
from .gateway import FakeGateway  # noqa: F401
from .switch import Switch, SwitchError, find_binary  # noqa: F401
