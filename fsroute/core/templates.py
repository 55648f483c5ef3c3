"""Value templates: literal text, ``$N`` captures and ``${var}`` channel variables.

fsroute expands them itself, never FreeSWITCH: ``${var}`` is read from the
call (falling back to the global variable, as FreeSWITCH does) and what comes
out is checked where it is used (a number, a dial-string value, a channel
variable), at call time: a caller's own value never reaches FreeSWITCH unchecked.
"""

from __future__ import annotations

import re
from typing import Callable, List, NamedTuple, Optional, Tuple, Union


class Var(NamedTuple):
    """``${name}`` in a template: the call's variable ``name`` (else the global one)."""
    name: str


Part = Union[str, int, Var]
Parts = Tuple[Part, ...]
Lookup = Callable[[str], Optional[str]]

_PART_RE = re.compile(r"\$(?:([0-9]+)|\{([A-Za-z0-9_]{1,64})\})|([^$]+)")
_DOLLAR_RE = re.compile(r"\$(?![0-9]|\{[A-Za-z0-9_]{1,64}\})")


class TemplateError(ValueError):
    pass


def parse(text: str, max_capture: Optional[int] = None, zero: str = "") -> Parts:
    """The parts of ``text``; raises TemplateError for a ``$`` that starts neither ``$N`` nor ``${name}``,
    or a ``$N`` above ``max_capture`` (None: any). ``zero``: the template is over one number, its ``$0``
    (a gateway's ``number``, a carrier's ``number_format``), which ``zero`` names: any other ``$N`` is refused."""
    bad = _DOLLAR_RE.search(text)
    if bad:
        raise TemplateError("'$' at character %d starts neither $N nor ${name} (names: letters, digits, '_')"
                            % (bad.start() + 1))
    parts: List[Part] = []
    for capture, name, literal in _PART_RE.findall(text):
        if literal:
            parts.append(literal)
        elif name:
            parts.append(Var(name))
        else:
            index = int(capture)
            if zero and index > 0:
                raise TemplateError("uses $%s, but it has only $0 (%s)%s" % (
                    capture, zero, ": a digit right after $0 reads as part of its number, as in FreeSWITCH"
                    if capture.startswith("0") else ""))
            if max_capture is not None and index > max_capture:
                raise TemplateError("uses $%d but %s" % (index, "there is no regex to capture it" if max_capture < 0
                                                         else "the regex has %d group%s"
                                                         % (max_capture, "" if max_capture == 1 else "s")))
            parts.append(index)
    return tuple(parts)


def captures(parts: Parts) -> Tuple[int, ...]:
    return tuple(p for p in parts if isinstance(p, int))


def expand(parts: Parts, group: Callable[[int], Optional[str]], lookup: Lookup) -> str:
    """``parts`` filled in: ``group(N)`` for ``$N``, ``lookup(name)`` for ``${name}`` (unset: "")."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Var):
            out.append(lookup(part.name) or "")
        else:
            out.append(group(part) or "")
    return "".join(out)


def over_number(parts: Parts, number: str, lookup: Lookup) -> str:
    """A template over one number filled in: ``$0`` is ``number``, ``${name}`` is ``lookup(name)``."""
    return expand(parts, lambda index: number if index == 0 else None, lookup)


def groups_of(match: Optional[re.Match[str]]) -> Callable[[int], Optional[str]]:
    """``$N`` of a regex match (no match: every group is "")."""
    if match is None:
        return lambda index: None
    return lambda index: match.group(index) if index <= (match.re.groups or 0) else None
