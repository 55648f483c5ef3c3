"""The sofia profiles and gateways of a FreeSWITCH configuration directory, read as FreeSWITCH reads them.

sofia.conf.xml includes ``sip_profiles/*.xml``; each holds a ``<profile name=...>`` whose
``<gateways>`` list ``<gateway name=...>`` elements, often through
``<X-PRE-PROCESS cmd="include" data="external/*.xml"/>``. As in switch_xml.c's
preprocessor, an include's relative pattern is taken from the including file's directory
and its matches are read in sorted order, recursively (at most 100 levels).
"""

from __future__ import annotations

import glob
import os
from typing import Dict, Iterator, List, NamedTuple, Set

from .legacy import ConfigError, Element, read_xml

MAX_INCLUDE_DEPTH = 100


class SofiaGateway(NamedTuple):
    name: str
    profile: str
    file: str
    line: int


def read_sofia_conf(conf_dir: str) -> List[SofiaGateway]:
    """Every gateway of every profile under ``conf_dir``/sip_profiles; raises ConfigError."""
    profiles_dir = os.path.join(conf_dir, "sip_profiles")
    if not os.path.isdir(profiles_dir):
        raise ConfigError(conf_dir, 0, "no sip_profiles directory here (give FreeSWITCH's conf directory)")
    out: List[SofiaGateway] = []
    for path in sorted(glob.glob(os.path.join(profiles_dir, "*.xml"))):
        root = read_xml(path)
        for profile in [root] if root.tag == "profile" else _elements(root, "profile", 0):
            name = profile.attrs.get("name", "")
            for gateways in _elements(profile, "gateways", 0):
                for gateway in _elements(gateways, "gateway", 0):
                    out.append(SofiaGateway(gateway.attrs.get("name", ""), name, gateway.file, gateway.line))
    return out


def gateways_by_name(gateways: List[SofiaGateway]) -> Dict[str, Set[str]]:
    """{gateway name: the profiles that define it}."""
    out: Dict[str, Set[str]] = {}
    for gateway in gateways:
        out.setdefault(gateway.name, set()).add(gateway.profile)
    return out


def _elements(element: Element, tag: str, depth: int) -> Iterator[Element]:
    """The ``tag`` elements among the children of ``element``, includes expanded."""
    for child in element.children:
        if child.tag == tag:
            yield child
        elif child.tag == "X-PRE-PROCESS" and child.attrs.get("cmd", "").lower() == "include":
            yield from _included(child, tag, depth + 1)


def _included(directive: Element, tag: str, depth: int) -> Iterator[Element]:
    if depth > MAX_INCLUDE_DEPTH:
        raise ConfigError(directive.file, directive.line, "includes nested deeper than %d levels" % MAX_INCLUDE_DEPTH)
    pattern = directive.attrs.get("data", "")
    if not os.path.isabs(pattern):
        pattern = os.path.join(os.path.dirname(directive.file), pattern)
    for path in sorted(glob.glob(pattern)):
        root = read_xml(path)
        if root.tag == tag:
            yield root
        else:
            yield from _elements(root, tag, depth)
