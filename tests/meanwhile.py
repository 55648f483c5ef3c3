"""A stub session on which something happens at one exact moment of a call: right after fsroute sets
a channel variable (the caller hangs up, an operator's ctl runs, another call's thread takes a probe)."""

from fsroute.testing import StubSession


def when_set(variable, act):
    """A StubSession class that runs ``act(session)`` right after fsroute sets ``variable``."""

    class Session(StubSession):
        def setVariable(self, name, value):
            super().setVariable(name, value)
            if name == variable:
                act(self)
    return Session
