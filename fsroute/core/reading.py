"""What a section reader of the rules file may use: grammar.Builder's reporting and key converters.

Each section (sections/*.py) is read by plain functions given a Reader;
the converters turn one YAML node into one value (a name, a number of
seconds, a cause, a regex, a template...) or report it at file:line:col and
give None. A Protocol, so the sections need not import the grammar that
calls them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Pattern, Protocol, Set, Tuple

from .yamltree import Node

if TYPE_CHECKING:
    from .acl import IPNetwork
    from .model import GatewaySpec, Group, Member
    from .patterns import Regex

# A mapping node read by Reader.mapping: {key: (key node, value node)}.
Fields = Dict[str, Tuple[Node, Node]]

# A number template: 0-9 A-Z a-z + * # . _ - with $N and ${var}.
TEMPLATE_RE = re.compile(r"(?:[0-9A-Za-z+*#._-]|\$[0-9]+|\$\{[A-Za-z0-9_]{1,64}\})+\Z")
NAME_HINT = " (letters, digits, '_', '.', '-')"


class RereadForReport(Exception):
    """A file read in one pass (routes built as they were read) has problems: read it again
    the plain way, which reports every problem where it stands, in the usual order."""


class Reader(Protocol):
    """The state a file's sections share, and the converters they read their keys with."""

    filename: str
    # Names declared in the file, even when their body was refused: a
    # reference to one is not reported again as "no group named ...".
    declared: Dict[str, Set[str]]
    # With defaults.strict_gateways: the gateways declared under gateways: (else None).
    declared_gateways: Optional[Dict[str, GatewaySpec]]
    # The carrier names of each lcr route built while reading, resolved once the carriers are read.
    folded_carriers: Dict[str, Tuple[str, ...]]

    def error(self, node: Optional[Node], message: str) -> None: ...

    def warn(self, node: Node, message: str) -> None: ...

    def mapping(self, node: Optional[Node], what: str, allowed: Optional[Iterable[str]] = None,
                required: Iterable[str] = (), unknown: Optional[List[str]] = None) -> Optional[Fields]: ...

    def sequence(self, node: Node, what: str) -> List[Any]: ...

    def string(self, node: Node, what: str, pattern: Optional[Pattern[str]] = None,
               hint: str = "") -> Optional[str]: ...

    def integer(self, node: Node, what: str, low: int, high: int) -> Optional[int]: ...

    def seconds(self, node: Node, what: str, low: float, high: float) -> Optional[float]: ...

    def boolean(self, node: Node, what: str) -> Optional[bool]: ...

    def check_name(self, key: Node, what: str) -> bool: ...

    def cause(self, node: Node, what: str) -> Optional[str]: ...

    def regex(self, node: Node, what: str) -> Optional[Regex]: ...

    def network(self, node: Node) -> IPNetwork: ...

    def member(self, item: Node, what: str) -> Optional[Member]: ...

    def declared_gateway(self, node: Node, name: Optional[str], what: str) -> None: ...

    def group_name(self, node: Node, what: str, groups: Optional[Dict[str, Group]]) -> Optional[str]: ...
