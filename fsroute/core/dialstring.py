"""Building ``[k=v,...]sofia/gateway/<gw>/<number>`` that FreeSWITCH reads back exactly.

What the bridge application does with its argument (switch_ivr_originate.c,
switch_utils.c, switch_event.c): ``${...}`` is expanded first; the whole string
is split at ``:_:`` (no escape) and at ``|`` (``\\|`` escapes it), each piece's
quotes and backslash escapes cleaned up; inside ``[...]`` commas not preceded by
a backslash separate variables and a ``]`` ends the list whatever comes before
it (switch_find_end_paren counts brackets, no escapes); then each piece is
split at ``,`` (``\\,`` escapes it) and cleaned up again; a variable is
``name=value``, the value's surrounding spaces trimmed.

So a value may hold ``,`` and ``|`` (escaped here with one backslash, which
survives the cleanups exactly once), and is refused when it holds what cannot
be escaped through all those passes: ``[`` ``]`` ``'`` ``"`` ``\\``,
``${``, ``:_:``, control characters, or spaces at either end.
"""

from __future__ import annotations

import re
from typing import Iterable, Tuple

from .model import NAME_RE, NUMBER_RE

# Letters, digits, "_" and "-" (SIP header names: sip_h_X-Account); nothing the parser reads.
LEG_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")
MAX_VALUE_LEN = 256
_REFUSED_RE = re.compile(r"[\[\]'\"\\\x00-\x1f\x7f]|\$\{|:_:")
_ESCAPED_RE = re.compile(r"([,|])")


class UnsafeValue(ValueError):
    """A value that cannot stand in a dial string (or a channel variable) as it is."""


def check_value(value: str, what: str) -> str:
    """``value`` when it is safe as a channel variable's value; raises UnsafeValue."""
    if len(value) > MAX_VALUE_LEN:
        raise UnsafeValue("%s is longer than %d characters" % (what, MAX_VALUE_LEN))
    found = _REFUSED_RE.search(value)
    if found:
        raise UnsafeValue("%s holds %r, which a dial string cannot carry" % (what, found.group()))
    if value != value.strip(" "):
        raise UnsafeValue("%s starts or ends with a space (FreeSWITCH would trim it)" % what)
    return value


def leg_value(value: str, what: str) -> str:
    """``value`` as it must be written inside ``[...]``; raises UnsafeValue."""
    return _ESCAPED_RE.sub(r"\\\1", check_value(value, what))


def dial_string(gateway: str, number: str, leg: Iterable[Tuple[str, str]] = ()) -> str:
    """The bridge argument for one attempt; raises UnsafeValue for a bad name, number or value."""
    if not NAME_RE.match(gateway):
        raise UnsafeValue("gateway name %r is not a gateway name" % gateway)
    if not NUMBER_RE.match(number):
        raise UnsafeValue("number %r is not dialable" % number)
    pairs = []
    for name, value in leg:
        if not LEG_NAME_RE.match(name):
            raise UnsafeValue("%r is not a variable name" % name)
        pairs.append("%s=%s" % (name, leg_value(value, "leg variable %s" % name)))
    prefix = "[%s]" % ",".join(pairs) if pairs else ""
    return "%ssofia/gateway/%s/%s" % (prefix, gateway, number)
