"""Test fsroute (and your own rules files) without FreeSWITCH.

``FakeFreeSWITCH`` puts a fake ``freeswitch`` module into ``sys.modules``
that offers only what mod_python3's real module offers; ``StubSession``
plays a call's session, including what ``bridge`` does to the channel in a
real switch. Both are public API; ``fsroute.testing.pytest_plugin`` offers them as
pytest fixtures.

    with FakeFreeSWITCH() as fs:
        fs.set_gateways("external", up=["gw1"], down=["gw2"])
        session = StubSession({"destination_number": "91001",
                               "network_addr": "172.16.221.33"})
        fsroute.route.handler(session, "examples/rules.yaml")
        assert session.executed == [("bridge", "sofia/gateway/gw1/1001")]
"""

from .fake import FakeFreeSWITCH, StubSession, reset_state

__all__ = ["FakeFreeSWITCH", "StubSession", "reset_state"]
