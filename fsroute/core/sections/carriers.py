"""``carriers:``: the carriers of least-cost routing, each a rate deck and where its calls go."""

from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Tuple

from ..model import NAME_RE, Carrier, Group
from ..reading import NAME_HINT, Fields, Reader
from ..templates import Parts, captures
from ..yamltree import SCALAR, Node
from .failover import FAILOVER_KEYS, read_own_failover_on
from .gateways import value_template

# The old form of number_format (still read, with a warning): '{number}' once, dialable text around it.
_OLD_FORMAT_RE = re.compile(r"([0-9A-Za-z+*#._-]*)\{number\}([0-9A-Za-z+*#._-]*)\Z")
LOOKED_UP = "the looked-up number"
_CURRENCY_RE = re.compile(r"[A-Z]{3}\Z")


def read_carriers(r: Reader, node: Node, groups: Dict[str, Group]) -> Dict[str, Carrier]:
    """The carriers of least-cost routing: deck file (relative to the rules file), gateway or group."""
    fields = r.mapping(node, "carriers")
    out = {}
    for name, (key, value) in (fields or {}).items():
        what = "carrier '%s'" % name
        if not r.check_name(key, what):
            continue
        r.declared["carrier"].add(name)
        unknown: List[str] = []
        body = r.mapping(value, what, allowed=("deck", "gateway", "group", "number_format", "currency") + FAILOVER_KEYS,
                         required=("deck",), unknown=unknown)
        if body is None:
            continue
        deck = r.string(body["deck"][1], what + " deck") if "deck" in body else None
        gateway, group = read_target(r, value, body, what, groups, ("gateway", "group"), unknown)
        if gateway is not None:
            r.declared_gateway(body["gateway"][1], gateway, what)
        number_format: Optional[Parts] = (0,)
        if "number_format" in body:
            number_format = read_number_format(r, body["number_format"][1], what + " number_format")
        currency: Optional[str] = ""
        if "currency" in body:
            currency = r.string(body["currency"][1], what + " currency", _CURRENCY_RE,
                                " (three capital letters: USD, EUR...)")
        if deck and (gateway or group) and number_format is not None and currency is not None:
            path = os.path.join(os.path.dirname(os.path.abspath(r.filename)), deck)
            out[name] = Carrier(name, os.path.normpath(path), gateway, group, number_format, currency,
                                read_own_failover_on(r, body, what))
    return out


def read_number_format(r: Reader, node: Node, what: str) -> Optional[Parts]:
    """A carrier's number template, as a gateway's ``number``: ``$0`` the looked-up number, ``${var}`` the
    call's variable. The old ``'011{number}'`` reads as ``'011$0'`` and is warned about when $0 can say it."""
    text = node.value if node.kind == SCALAR else None
    if isinstance(text, str) and "{number}" in text:
        found = _OLD_FORMAT_RE.match(text)
        if not found:
            r.error(node, "%s %r must hold '{number}' once, with only 0-9 A-Z a-z + * # . _ - around it"
                    % (what, text))
            return None
        before, after = found.groups()
        if not after[:1].isdigit():  # '{number}1' has no $0 form: $01 reads as capture 1
            r.warn(node, "%s %r: '{number}' is deprecated (format 1 still reads it); write %r, the template "
                   "syntax of routes and gateways" % (what, text, before + "$0" + after))
        return tuple(part for part in (before, 0, after) if part != "")
    parts = value_template(r, node, what, 0, dialable=True, zero=LOOKED_UP)
    if parts is not None and 0 not in captures(parts):
        r.error(node, "%s %r must use $0, %s" % (what, text, LOOKED_UP))
        return None
    return parts


def read_target(r: Reader, item: Node, body: Fields, what: str, groups: Optional[Dict[str, Group]],
                allowed: Tuple[str, ...], unknown: List[str]) -> Tuple[Optional[str], Optional[str]]:
    """(gateway, group) of a carrier, naming exactly one of ``allowed``.

    With a misspelt key (``unknown``, reported already) naming none is not reported again;
    ``groups`` None: the groups are not known yet, so the group is not checked here.
    """
    targets = [k for k in allowed if k in body]
    if len(targets) > 1 or not (targets or unknown):
        names = ["'%s'" % k for k in allowed]
        r.error(item, "%s must name exactly one of %s or %s (it names %s)"
                % (what, ", ".join(names[:-1]), names[-1],
                   " and ".join(targets) if targets else "neither"))
    gateway = group = None
    if "gateway" in body:
        gateway = r.string(body["gateway"][1], what + " gateway", NAME_RE, NAME_HINT)
    if "group" in body:
        group = r.group_name(body["group"][1], what, groups)
    return gateway, group
