"""vars.xml's global variables and their ``$${name}`` uses, resolved at import as FreeSWITCH's preprocessor does.

``<X-PRE-PROCESS cmd="set" data="name=value"/>`` sets a variable for the rest of the
configuration; ``$${name}`` in any later line is replaced by its value when the XML is
loaded (switch_xml.c). ``${name}`` is left alone: the switch reads it per call.
"""

from __future__ import annotations

import re
from typing import Dict, List, Mapping

from .legacy import Extension, Legacy, Report, read_xml

_PRE_VAR_RE = re.compile(r"\$\$\{([^{}]+)\}")


def read_vars(path: str) -> Dict[str, str]:
    """{name: value} of the ``X-PRE-PROCESS cmd="set"`` lines of ``path``, later ones winning."""
    out: Dict[str, str] = {}
    for element in read_xml(path).walk():
        if element.tag == "X-PRE-PROCESS" and element.attrs.get("cmd", "").lower() == "set":
            name, sep, value = element.attrs.get("data", "").partition("=")
            if sep and name.strip():
                out[name.strip()] = substitute(value, out)
    return out


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with every ``$${name}`` that ``variables`` knows replaced by its value."""
    return _PRE_VAR_RE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def resolve(legacy: Legacy, variables: Mapping[str, str], vars_file: str) -> Legacy:
    """``legacy`` with $${name} resolved in every condition and action; one report per name left unknown."""
    unknown: Dict[str, Report] = {}

    def sub(text: str, file: str, line: int) -> str:
        for name in _PRE_VAR_RE.findall(text):
            if name not in variables and name not in unknown:
                unknown[name] = Report(file, line, "not translated: $${%s} is not set in %s" % (name, vars_file))
        return substitute(text, variables)

    extensions: List[Extension] = []
    for ext in legacy.extensions:
        conditions = []
        for c in ext.conditions:
            conditions.append(c._replace(
                field=sub(c.field, ext.file, c.line) if c.field is not None else None,
                expression=sub(c.expression, ext.file, c.line) if c.expression is not None else None,
                actions=tuple(a._replace(data=sub(a.data, ext.file, a.line)) for a in c.actions),
                anti_actions=tuple(a._replace(data=sub(a.data, ext.file, a.line)) for a in c.anti_actions)))
        extensions.append(ext._replace(conditions=tuple(conditions)))
    return legacy._replace(extensions=tuple(extensions), notes=legacy.notes + tuple(unknown.values()))
