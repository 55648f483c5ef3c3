"""Helpers of the reliability suite: run calls, check dial strings, count inputs."""

import collections
import re

import fsroute.route
from fsroute.testing import StubSession

CATEGORIES = (
    ("injection", "1. Dial-string injection"),
    ("source", "2. Source addresses"),
    ("rules_files", "3. Rules files"),
    ("fs_apis", "4. FreeSWITCH APIs failing"),
    ("concurrency", "5. Concurrency (calls routed)"),
    ("crash", "6. Crash barrier"),
)

TRIED = collections.Counter()

# What an executed bridge may look like: a gateway name and a dialable number, nothing else.
SAFE_BRIDGE_RE = re.compile(r"^sofia/gateway/([A-Za-z0-9_.-]+)/([0-9A-Za-z+*#._-]{1,64})\Z")


def write_rules(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_call(fake, rules_path, variables, session_class=StubSession, **options):
    """One call through ``fsroute.route.handler``; returns the session.

    An exception out of the handler fails the test (it would reach FreeSWITCH).
    """
    session = session_class(variables, fake=fake, **options)
    returned = fsroute.route.handler(session, rules_path)
    assert returned is None
    return session


def bridges(session):
    return [data for app, data in session.executed if app == "bridge"]


def assert_safe_bridges(session, gateways):
    """Every bridge executed names a gateway of the rules and a dialable number."""
    for data in bridges(session):
        found = SAFE_BRIDGE_RE.match(data)
        assert found, "unsafe dial string executed: %r" % (data,)
        assert found.group(1) in gateways, "bridge to a gateway not in the rules: %r" % (data,)


def error_lines(fake):
    return fake.log_lines("err")
