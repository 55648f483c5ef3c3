"""Test fsroute (and your own rules files) without FreeSWITCH.

``FakeFreeSWITCH`` puts the emulated switch's ``freeswitch`` module
(``fsroute.emulator``: it offers only what mod_python3's real module offers)
into ``sys.modules``; ``StubSession`` plays a call's session, including what
``bridge`` does to the channel in a real switch. Both are public API;
``fsroute.testing.pytest_plugin`` offers them as pytest fixtures.

    with FakeFreeSWITCH() as fs:
        fs.set_gateways("external", up=["gw1"], down=["gw2"])
        session = StubSession({"destination_number": "91001",
                               "network_addr": "172.16.221.33"})
        fsroute.route.handler(session, "examples/rules.yaml")
        assert session.executed == [("bridge", "sofia/gateway/gw1/1001")]
"""

from fsroute.emulator import StubSession
from .fake import FakeFreeSWITCH, reset_state

__all__ = ["FakeFreeSWITCH", "StubSession", "reset_state"]
