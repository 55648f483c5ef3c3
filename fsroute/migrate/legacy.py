"""The classic FreeSWITCH setup as read: XML dialplan, distributor.conf.xml, acl.conf.xml.

``fsroute import`` translates this model into rules and ``fsroute compare``
emulates how the old setup would have routed a call from it; both also need
FreeSWITCH's own readings of the values in it (dial strings, condition
fields, mod_distributor's choice of list), so those live here, once
(switch_true and atoi, which the stub session needs too, in fsvalues.py).

The XML is read with expat rather than xml.etree because etree forgets
line numbers, and a report without a line is of little use in a
3000-line dialplan. DOCTYPE and ENTITY declarations are refused before
parsing (entity expansion is how XML bombs work; FreeSWITCH's own
configuration never needs them). No recursion: the trees are walked with
explicit stacks, whatever the nesting.
"""

from __future__ import annotations

import re
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union
from xml.parsers import expat

from fsroute.core.fsvalues import atoi
from fsroute.core.model import NAME_RE, VARIABLE_RE

MAX_XML_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 100


class ConfigError(Exception):
    """A file cannot be used at all (unreadable, malformed XML, DOCTYPE); str() is ``FILE:LINE: message``."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__("%s:%d: %s" % (file, line, message))
        self.file = file
        self.line = line
        self.message = message


class Report(NamedTuple):
    """One thing the import could not carry over, or carried over with a change."""
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return "%s:%d: %s" % (self.file, self.line, self.message)


# -- XML with line numbers ----------------------------------------------------------------

class Element:
    """An XML element that remembers its file and line (what xml.etree cannot give)."""

    __slots__ = ("tag", "attrs", "file", "line", "children", "_text")

    def __init__(self, tag: str, attrs: Dict[str, str], file: str, line: int) -> None:
        self.tag = tag
        self.attrs = attrs
        self.file = file
        self.line = line
        self.children: List[Element] = []
        self._text: List[str] = []

    @property
    def text(self) -> str:
        return "".join(self._text)

    def named(self, tag: str) -> List[Element]:
        return [child for child in self.children if child.tag == tag]

    def walk(self) -> Iterator[Element]:
        """Every element below and including this one, in document order, without recursion."""
        stack = [self]
        while stack:
            element = stack.pop()
            yield element
            stack.extend(reversed(element.children))


def _refuse_declarations(data: bytes, path: str) -> None:
    """DOCTYPE/ENTITY declarations are refused outright: no entity can then expand."""
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        offset = data.find(marker)
        if offset >= 0:
            raise ConfigError(path, data.count(b"\n", 0, offset) + 1,
                              "%s declarations are not accepted (fsroute never expands XML entities)"
                              % marker[2:].decode())


def read_xml(path: str) -> Element:
    """The root Element of the XML file at ``path``; ConfigError when it cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_XML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(path, 0, "cannot read the file: %s" % (exc.strerror or exc)) from None
    if len(data) > MAX_XML_BYTES:
        raise ConfigError(path, 1, "the file is larger than %d MiB; refusing to read it"
                          % (MAX_XML_BYTES // (1024 * 1024)))
    _refuse_declarations(data, path)
    parser = expat.ParserCreate()
    stack: List[Element] = []
    roots: List[Element] = []

    def refuse(*_args: object) -> None:
        raise ConfigError(path, parser.CurrentLineNumber,
                          "DOCTYPE/ENTITY declarations are not accepted")

    def start(tag: str, attrs: Dict[str, str]) -> None:
        element = Element(tag, attrs, path, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        if len(stack) >= MAX_DEPTH:
            raise ConfigError(path, element.line, "elements nested deeper than %d levels" % MAX_DEPTH)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def characters(text: str) -> None:
        if stack:
            stack[-1]._text.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ConfigError(path, exc.lineno, "malformed XML: %s (column %d)"
                          % (expat.ErrorString(exc.code), exc.offset + 1)) from None
    return roots[0]


# -- the old configuration, as read ------------------------------------------------------------

class Action(NamedTuple):
    app: str
    data: str
    line: int


class Condition(NamedTuple):
    line: int
    field: Optional[str]
    expression: Optional[str]
    attrs: Dict[str, str]
    actions: Tuple[Action, ...]
    anti_actions: Tuple[Action, ...]
    others: Tuple[Element, ...]     # nested <condition>, <regex>, anything else

    @property
    def break_mode(self) -> str:
        """break= as mod_dialplan_xml compares it: lower case, "on-false" when absent or empty."""
        return (self.attrs.get("break") or "on-false").strip().lower()


class Extension(NamedTuple):
    file: str
    line: int
    name: str
    attrs: Dict[str, str]
    context: Optional[str]          # None: the file holds no <context> around it
    conditions: Tuple[Condition, ...]
    others: Tuple[Element, ...]


class DistNode(NamedTuple):
    name: str
    weight: str                     # as written; mod_distributor reads it with atoi()
    line: int


class DistList(NamedTuple):
    file: str
    line: int
    name: str
    total_weight: Optional[str]
    nodes: Tuple[DistNode, ...]


class AclList(NamedTuple):
    file: str
    line: int
    name: str
    default: Optional[str]
    nodes: Tuple[Element, ...]


class Legacy(NamedTuple):
    """Everything read from the old configuration files."""
    dialplans: Tuple[str, ...]
    distributor: Optional[str]
    acl: Optional[str]
    extensions: Tuple[Extension, ...]
    lists: Tuple[DistList, ...]
    acl_lists: Tuple[AclList, ...]
    notes: Tuple[Report, ...]       # found while reading (includes not followed, missing sections)


def _action(element: Element) -> Action:
    # <action application="x" data="y"/>, or the data as the element's text.
    data = element.attrs.get("data")
    if data is None:
        data = element.text.strip()
    return Action(element.attrs.get("application", ""), data, element.line)


def _condition(element: Element) -> Condition:
    expression = element.attrs.get("expression")
    others = []
    for child in element.children:
        if child.tag == "expression" and expression is None:
            expression = child.text  # <expression><![CDATA[...]]></expression>
        elif child.tag not in ("action", "anti-action"):
            others.append(child)
    return Condition(element.line, element.attrs.get("field"), expression, dict(element.attrs),
                     tuple(_action(a) for a in element.named("action")),
                     tuple(_action(a) for a in element.named("anti-action")), tuple(others))


def read_dialplan(path: str) -> Tuple[List[Extension], List[Report]]:
    """(extensions, notes) of one dialplan file; the context is the enclosing <context name>."""
    root = read_xml(path)
    extensions: List[Extension] = []
    notes: List[Report] = []
    stack: List[Tuple[Element, Optional[str]]] = [(root, None)]
    while stack:
        element, context = stack.pop()
        if element.tag == "extension":
            conditions = tuple(_condition(c) for c in element.named("condition"))
            others = tuple(c for c in element.children if c.tag != "condition")
            extensions.append(Extension(path, element.line, element.attrs.get("name") or "_anon_",
                                        dict(element.attrs), context, conditions, others))
            continue
        if element.tag == "context":
            context = element.attrs.get("name") or ""
        elif element.tag == "X-PRE-PROCESS" and element.attrs.get("cmd") == "include":
            notes.append(Report(path, element.line, "not translated: X-PRE-PROCESS include of %r is not "
                                "followed; pass the included files with --dialplan (in this order)"
                                % element.attrs.get("data", "")))
        stack.extend((child, context) for child in reversed(element.children))
    if not extensions:
        notes.append(Report(path, root.line, "warning: no <extension> found in this file"))
    return extensions, notes


def _list_elements(path: str, section: str) -> Tuple[List[Element], List[Report]]:
    """(every <list> under every <``section``>, notes) of a module's configuration file."""
    root = read_xml(path)
    notes: List[Report] = []
    containers = [e for e in root.walk() if e.tag == section]
    if not containers:
        notes.append(Report(path, root.line, "warning: no <%s> section found in this file" % section))
    return [element for container in containers for element in container.named("list")], notes


def read_distributor(path: str) -> Tuple[List[DistList], List[Report]]:
    """(lists, notes) of a distributor.conf.xml: every <list> under <lists>."""
    elements, notes = _list_elements(path, "lists")
    lists = [DistList(path, element.line, element.attrs.get("name", ""), element.attrs.get("total-weight"),
                      tuple(DistNode(n.attrs.get("name", ""), n.attrs.get("weight", ""), n.line)
                            for n in element.named("node")))
             for element in elements]
    return lists, notes


def read_acl(path: str) -> Tuple[List[AclList], List[Report]]:
    """(lists, notes) of an acl.conf.xml: every <list> under <network-lists>."""
    elements, notes = _list_elements(path, "network-lists")
    lists = [AclList(path, element.line, element.attrs.get("name", ""), element.attrs.get("default"),
                     tuple(element.named("node")))
             for element in elements]
    return lists, notes


def read_legacy(dialplans: Sequence[str] = (), distributor: Optional[str] = None,
                acl: Optional[str] = None) -> Legacy:
    """Read every given file; ConfigError on the first that is not usable XML."""
    extensions: List[Extension] = []
    lists: List[DistList] = []
    acl_lists: List[AclList] = []
    notes: List[Report] = []
    for path in dialplans:
        found, more = read_dialplan(path)
        extensions.extend(found)
        notes.extend(more)
    if distributor:
        lists, more = read_distributor(distributor)
        notes.extend(more)
    if acl:
        acl_lists, more = read_acl(acl)
        notes.extend(more)
    return Legacy(tuple(dialplans), distributor, acl, tuple(extensions), tuple(lists),
                  tuple(acl_lists), tuple(notes))


# -- FreeSWITCH's readings of values (see also fsvalues.py) ----------------------------------------

def closing_brace(text: str, start: int) -> int:
    """Index just past the '}' closing the '{' at ``start`` (-1 when unbalanced)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


_DISTRIBUTOR_RE = re.compile(r"\$\{(?:expand\(\s*distributor\s+|distributor\(\s*)")
_GWLIST_DOWN_RE = re.compile(r"\$\{sofia\(\s*profile\s+(\S+)\s+gwlist\s+down\s*\)\}\Z")


class Distribution(NamedTuple):
    """A ``${distributor(LIST ...)}`` / ``${expand(distributor LIST ...)}`` gateway expansion."""
    list_name: str
    down_profile: Optional[str]     # the profile whose `gwlist down` is passed as exceptions


def parse_distribution(expansion: str) -> Union[Distribution, str]:
    """A Distribution, or a string saying why ``expansion`` is not one fsroute can carry over."""
    found = _DISTRIBUTOR_RE.match(expansion)
    if not found or not expansion.endswith(")}"):
        return "the gateway is the expansion %s, not a distributor list" % expansion
    inner = expansion[found.end():-2].strip()
    list_name, _, exceptions = inner.partition(" ")
    exceptions = exceptions.strip()
    if not list_name or "$" in list_name:
        return "the distributor list name in %s is not a plain name" % expansion
    if not exceptions:
        return Distribution(list_name, None)
    down = _GWLIST_DOWN_RE.match(exceptions)
    if not down:
        return ("the distributor exceptions %r are not ${sofia(profile P gwlist down)}; fsroute leaves "
                "out exactly the gateways that are down" % exceptions)
    return Distribution(list_name, down.group(1))


class Target(NamedTuple):
    """Where a bridge goes: one gateway, or a distributor list; and the number as written."""
    gateway: Optional[str]
    distribution: Optional[Distribution]
    number: str


def parse_dialstring(data: str) -> Union[Target, str]:
    """A Target for ``sofia/gateway/<gw>/<number>`` (gw may be a distributor expansion), or why not."""
    text = data.strip()
    if text[:1] in ("{", "[", "<"):
        return "the dial string sets channel variables ({...}/[...]/<...>), which fsroute does not carry"
    if "|" in text or "," in text or ":_:" in text:
        return "the dial string lists several endpoints ('|', ',' or ':_:'); fsroute dials one gateway at a time"
    prefix = "sofia/gateway/"
    if not text.startswith(prefix):
        return "%r is not a sofia/gateway/<gateway>/<number> dial string" % short(text)
    rest = text[len(prefix):]
    distribution: Optional[Distribution] = None
    gateway: Optional[str] = None
    if rest.startswith("${"):
        end = closing_brace(rest, 1)
        if end < 0:
            return "unbalanced ${...} in the dial string"
        if VARIABLE_RE.match(rest[2:end - 1]):  # a channel variable names the gateway: fsroute reads it per call
            return Target(rest[:end], None, rest[end + 1:]) if rest[end:end + 1] == "/" and len(rest) > end + 1 \
                else "the dial string has no /<number> after the gateway"
        parsed = parse_distribution(rest[:end])
        if isinstance(parsed, str):
            return parsed
        distribution = parsed
        rest = rest[end:]
    else:
        gateway, slash, _ = rest.partition("/")
        if not slash:
            return "the dial string has no /<number> after the gateway"
        if not NAME_RE.match(gateway):
            return "the gateway %r is not a plain gateway name (letters, digits, '_', '.', '-')" % gateway
        rest = rest[len(gateway):]
    if not rest.startswith("/") or len(rest) < 2:
        return "the dial string has no /<number> after the gateway"
    return Target(gateway, distribution, rest[1:])


# -- conditions ---------------------------------------------------------------------------------

CAPTURE_RE = re.compile(r"\$(?:\{([0-9]+)\}|([0-9]+))")    # $N and ${N} in an action's data
_ACL_FIELD_RE = re.compile(r"\$\{acl\(\s*\$\{(network_addr|sip_network_ip)\}\s+([^\s(){}$]+)\s*\)\}\Z")


class Field(NamedTuple):
    """What a condition's field reads: ("var", variable, None), ("acl", list, address variable)
    or ("bad", why, None)."""
    kind: str
    name: str
    address_variable: Optional[str] = None


# What a field without ${} reads: the caller profile's fields (switch_caller_get_field_by_name, case
# ignored); any other bare name reads as "" (seen in the real switch: field="sip_from_user" never matches
# ^1000$, field="${sip_from_user}" and field="CALLER_ID_NUMBER" do).
CALLER_PROFILE_FIELDS = frozenset((
    "dialplan username caller_id_name caller_id_number orig_caller_id_name orig_caller_id_number callee_id_name "
    "callee_id_number ani aniii network_addr rdnis destination_number uuid source transfer_source context "
    "chan_name profile_index caller_ton caller_numplan destination_number_ton destination_number_numplan ani_ton "
    "ani_numplan rdnis_ton rdnis_numplan screen_bit privacy_hide_name privacy_hide_number profile_created_time "
    "created_time answered_time progress_time progress_media_time hungup_time transferred_time").split())


def classify_field(field: str) -> Field:
    """The Field a condition's ``field`` attribute reads."""
    if VARIABLE_RE.match(field):
        if field.lower() in CALLER_PROFILE_FIELDS:
            return Field("var", field.lower())
        return Field("bad", "the field %r is not a caller-profile field, which is all a field without ${} reads: "
                     "FreeSWITCH tests '' there; write ${%s} for the channel variable" % (field, field))
    if field.startswith("${") and field.endswith("}") and VARIABLE_RE.match(field[2:-1]):
        return Field("var", field[2:-1])
    found = _ACL_FIELD_RE.match(field)
    if found:
        return Field("acl", found.group(2), found.group(1))
    return Field("bad", "the field %r is neither a variable nor ${acl(${network_addr} LIST)}" % short(field))


def compile_expression(expression: str) -> Union[re.Pattern[str], str]:
    """A condition's expression compiled, or why not (a str): variable expansions are refused."""
    if "${" in expression:
        return "the expression %r expands variables; fsroute matches fixed regexes" % short(expression)
    try:
        return re.compile(expression, re.ASCII)
    except re.error as exc:
        return "the expression %r is not a regex fsroute (Python re) can read: %s" % (short(expression), exc)


# -- mod_acl and mod_distributor ----------------------------------------------------------------

ACL_NODE_ATTRS = ("type", "cidr", "host", "mask", "domain")   # what an acl.conf.xml <node> may carry


def distributor_nodes(dist_list: DistList) -> List[Tuple[str, int, int]]:
    """The nodes mod_distributor keeps (atoi(weight) >= 1), as (name, weight, line), in file order."""
    return [(n.name, atoi(n.weight), n.line) for n in dist_list.nodes if atoi(n.weight) >= 1]


def find_list(legacy: Legacy, name: str) -> Optional[DistList]:
    """The list mod_distributor uses for ``name``: the first whose name matches, ignoring case."""
    for dist_list in legacy.lists:
        if dist_list.name and dist_list.name.lower() == name.lower():
            return dist_list
    return None


# -- quoting what was read ----------------------------------------------------------------------

def printable(text: str) -> str:
    """``text`` with every unprintable character as '?', for one line of a report or comment."""
    return "".join(c if c.isprintable() else "?" for c in text)


def short(text: object, limit: int = 80) -> str:
    """``printable(str(text))`` cut to ``limit`` characters (then "..."), to quote in a report."""
    quoted = printable(str(text))
    return quoted if len(quoted) <= limit else quoted[:limit] + "..."


