"""What the running switch says about its gateways: ``sofia xmlstatus gateway``.

mod_sofia lists every gateway of every running profile as
``<gateway><name>..</name><profile>..</profile>..<status>UP|DOWN</status></gateway>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Dict, NamedTuple

from .fslog import api


class GatewayStatus(NamedTuple):
    profile: str
    status: str   # UP or DOWN


class StatusUnreadable(Exception):
    pass


def parse_xmlstatus(text: str) -> Dict[str, GatewayStatus]:
    """{gateway name: GatewayStatus} from the answer of ``sofia xmlstatus gateway``; raises StatusUnreadable."""
    body = text[text.index("?>") + 2:] if text.lstrip().startswith("<?xml") else text
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError) as exc:
        raise StatusUnreadable("the answer is not XML: %s" % exc) from None
    if root.tag != "gateways":
        raise StatusUnreadable("the answer is not a gateway list")
    out = {}
    for gateway in root.findall("gateway"):
        name = (gateway.findtext("name") or "").strip()
        if name:
            out[name] = GatewayStatus((gateway.findtext("profile") or "").strip(),
                                      (gateway.findtext("status") or "").strip())
    return out


def read_gateway_status() -> Dict[str, GatewayStatus]:
    """The running switch's gateways; raises StatusUnreadable."""
    try:
        answer = api("sofia xmlstatus gateway")
    except Exception as exc:
        raise StatusUnreadable("sofia xmlstatus gateway failed: %s" % exc) from None
    return parse_xmlstatus(answer if isinstance(answer, str) else "")
