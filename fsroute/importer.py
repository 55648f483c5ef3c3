"""Import the classic setup -- XML dialplan + distributor.conf.xml + acl.conf.xml -- as a rules file.

Operators adopting fsroute already route with the XML dialplan, weigh
gateways with mod_distributor and check sources with mod_acl; moving should
be one command whose output they can read and review. ``import_files``
reads the given files and returns the rules text (version 1, commented,
validated with ``fsroute.rules.parse``) and the list of everything it could
not carry over, each as ``FILE:LINE: what``: nothing is dropped unreported.

The XML is read with expat rather than xml.etree because etree forgets
line numbers, and a report without a line is of little use in a
3000-line dialplan. DOCTYPE and ENTITY declarations are refused before
parsing (entity expansion is how XML bombs work; FreeSWITCH's own
configuration never needs them). No recursion: the trees are walked with
explicit stacks, whatever the nesting.

The parsed model (``Legacy``) is shared with ``fsroute.compare``, which
emulates how the old setup would have routed a call.
"""

import json
import re
from typing import NamedTuple, Optional, Tuple
from xml.parsers import expat

from . import rules as rules_module
from .acl import parse_network
from .rules import NAME_RE, VARIABLE_RE

MAX_XML_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 100
MAX_WEIGHT = 1000000  # what a rules file accepts for one gateway


class ConfigError(Exception):
    """A file cannot be used at all (unreadable, malformed XML, DOCTYPE); str() is ``FILE:LINE: message``."""

    def __init__(self, file, line, message):
        super().__init__("%s:%d: %s" % (file, line, message))
        self.file = file
        self.line = line
        self.message = message


class Report(NamedTuple):
    """One thing the import could not carry over, or carried over with a change."""
    file: str
    line: int
    message: str

    def __str__(self):
        return "%s:%d: %s" % (self.file, self.line, self.message)


# -- XML with line numbers ----------------------------------------------------------------

class Element:
    """An XML element that remembers its file and line (what xml.etree cannot give)."""

    __slots__ = ("tag", "attrs", "file", "line", "children", "_text")

    def __init__(self, tag, attrs, file, line):
        self.tag = tag
        self.attrs = attrs
        self.file = file
        self.line = line
        self.children = []
        self._text = []

    @property
    def text(self):
        return "".join(self._text)

    def named(self, tag):
        return [child for child in self.children if child.tag == tag]

    def walk(self):
        """Every element below and including this one, in document order, without recursion."""
        stack = [self]
        while stack:
            element = stack.pop()
            yield element
            stack.extend(reversed(element.children))


def _refuse_declarations(data, path):
    """DOCTYPE/ENTITY declarations are refused outright: no entity can then expand."""
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        offset = data.find(marker)
        if offset >= 0:
            raise ConfigError(path, data.count(b"\n", 0, offset) + 1,
                              "%s declarations are not accepted (fsroute never expands XML entities)"
                              % marker[2:].decode())


def read_xml(path):
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
    stack = []
    roots = []

    def refuse(*_args):
        raise ConfigError(path, parser.CurrentLineNumber,
                          "DOCTYPE/ENTITY declarations are not accepted")

    def start(tag, attrs):
        element = Element(tag, attrs, path, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        if len(stack) >= MAX_DEPTH:
            raise ConfigError(path, element.line, "elements nested deeper than %d levels" % MAX_DEPTH)
        stack.append(element)

    def end(_tag):
        stack.pop()

    def characters(text):
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
    attrs: dict
    actions: Tuple[Action, ...]
    anti_actions: Tuple[Action, ...]
    others: Tuple[Element, ...]     # nested <condition>, <regex>, anything else


class Extension(NamedTuple):
    file: str
    line: int
    name: str
    attrs: dict
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


def _action(element):
    # <action application="x" data="y"/>, or the data as the element's text.
    data = element.attrs.get("data")
    if data is None:
        data = element.text.strip()
    return Action(element.attrs.get("application", ""), data, element.line)


def _condition(element):
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


def read_dialplan(path):
    """(extensions, notes) of one dialplan file; the context is the enclosing <context name>."""
    root = read_xml(path)
    extensions, notes = [], []
    stack = [(root, None)]
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


def read_distributor(path):
    """(lists, notes) of a distributor.conf.xml: every <list> under <lists>."""
    root = read_xml(path)
    lists, notes = [], []
    containers = [e for e in root.walk() if e.tag == "lists"]
    if not containers:
        notes.append(Report(path, root.line, "warning: no <lists> section found in this file"))
    for container in containers:
        for element in container.named("list"):
            nodes = tuple(DistNode(n.attrs.get("name", ""), n.attrs.get("weight", ""), n.line)
                          for n in element.named("node"))
            lists.append(DistList(path, element.line, element.attrs.get("name", ""),
                                  element.attrs.get("total-weight"), nodes))
    return lists, notes


def read_acl(path):
    """(lists, notes) of an acl.conf.xml: every <list> under <network-lists>."""
    root = read_xml(path)
    lists, notes = [], []
    containers = [e for e in root.walk() if e.tag == "network-lists"]
    if not containers:
        notes.append(Report(path, root.line, "warning: no <network-lists> section found in this file"))
    for container in containers:
        for element in container.named("list"):
            lists.append(AclList(path, element.line, element.attrs.get("name", ""),
                                 element.attrs.get("default"), tuple(element.named("node"))))
    return lists, notes


def read_legacy(dialplans=(), distributor=None, acl=None):
    """Read every given file; ConfigError on the first that is not usable XML."""
    extensions, lists, acl_lists, notes = [], [], [], []
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


# -- FreeSWITCH's readings of values ----------------------------------------------------------------

def atoi(text):
    """C's atoi() as mod_distributor applies it to a weight: leading digits, else 0."""
    found = re.match(r"\s*([+-]?\d+)", text or "")
    return int(found.group(1)) if found else 0


def switch_true(text):
    """FreeSWITCH's switch_true(): yes/on/true/t/enabled/active/allow or a non-zero number."""
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("yes", "on", "true", "t", "enabled", "active", "allow"):
        return True
    return value.lstrip("+-").isdigit() and int(value) != 0


def find_expansion_end(text, start):
    """Index just past the '}' closing the ``${`` at ``start`` (-1 when unbalanced)."""
    depth = 0
    for i in range(start + 1, len(text)):
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


def parse_distribution(expansion):
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


def parse_dialstring(data):
    """A Target for ``sofia/gateway/<gw>/<number>`` (gw may be a distributor expansion), or why not."""
    text = data.strip()
    if text[:1] in ("{", "[", "<"):
        return "the dial string sets channel variables ({...}/[...]/<...>), which fsroute does not carry"
    if "|" in text or "," in text or ":_:" in text:
        return "the dial string lists several endpoints ('|', ',' or ':_:'); fsroute dials one gateway at a time"
    prefix = "sofia/gateway/"
    if not text.startswith(prefix):
        return "%r is not a sofia/gateway/<gateway>/<number> dial string" % _short(text)
    rest = text[len(prefix):]
    distribution = gateway = None
    if rest.startswith("${"):
        end = find_expansion_end(rest, 0)
        if end < 0:
            return "unbalanced ${...} in the dial string"
        distribution = parse_distribution(rest[:end])
        if isinstance(distribution, str):
            return distribution
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


_CAPTURE_RE = re.compile(r"\$(?:\{([0-9]+)\}|([0-9]+))")
_NUMBER_CHAR_RE = re.compile(r"[0-9A-Za-z+*#._-]")


def number_template(text, substitutes, groups):
    """(template or None, error): the dial string's number as an fsroute ``number``.

    ``substitutes``: FreeSWITCH fills $N only when the condition's expression
    has a '('; ``groups``: capture groups of the destination_number regex
    (None when the bridge's captures come from another field). None as
    template means "the destination as is" (``${destination_number}``).
    """
    if text == "${destination_number}":
        return None, None
    out = []
    i = 0
    previous_was_capture = False
    while i < len(text):
        found = _CAPTURE_RE.match(text, i)
        if found:
            index = int(found.group(1) or found.group(2))
            if not substitutes:
                return None, ("the number %r uses $%d but the condition's expression has no '(': "
                              "FreeSWITCH would dial it literally" % (text, index))
            if groups is None:
                return None, ("the number %r uses $%d, captured from a field other than destination_number; "
                              "fsroute numbers take captures of destination_number only" % (text, index))
            if index > groups:
                return None, "the number %r uses $%d but the regex has %d group(s)" % (text, index, groups)
            out.append("$%d" % index)
            previous_was_capture = True
            i = found.end()
            continue
        char = text[i]
        if char == "$":
            return None, ("the number %r holds a variable or expansion; fsroute numbers hold only "
                          "0-9 A-Z a-z + * # . _ - and $N captures" % text)
        if not _NUMBER_CHAR_RE.match(char):
            return None, ("the number %r holds %r; fsroute numbers hold only 0-9 A-Z a-z + * # . _ - "
                          "and $N captures" % (text, char))
        if previous_was_capture and char.isdigit():
            return None, "the number %r puts a digit right after a capture, which fsroute reads as $NN" % text
        out.append(char)
        previous_was_capture = False
        i += 1
    if not out:
        return None, "the dial string's number is empty"
    return "".join(out), None


_VAR_FIELD_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}\Z")
_ACL_FIELD_RE = re.compile(r"\$\{acl\(\s*\$\{(network_addr|sip_network_ip)\}\s+([^\s(){}$]+)\s*\)\}\Z")


def classify_field(field):
    """('var', name) | ('acl', (list, address variable)) | ('bad', why) for a condition's field."""
    if VARIABLE_RE.match(field):
        return "var", field
    found = _VAR_FIELD_RE.match(field)
    if found and VARIABLE_RE.match(found.group(1)):
        return "var", found.group(1)
    found = _ACL_FIELD_RE.match(field)
    if found:
        return "acl", (found.group(2), found.group(1))
    return "bad", "the field %r is neither a variable nor ${acl(${network_addr} LIST)}" % _short(field)


def compile_expression(expression):
    """(compiled regex, error) for a condition's expression, refusing variable expansions."""
    if "${" in expression:
        return None, "the expression %r expands variables; fsroute matches fixed regexes" % _short(expression)
    try:
        return re.compile(expression, re.ASCII), None
    except re.error as exc:
        return None, "the expression %r is not a regex fsroute (Python re) can read: %s" % (
            _short(expression), exc)


def _short(text, limit=80):
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit] + "..."


# -- translation ---------------------------------------------------------------------------

class AclSpec(NamedTuple):
    name: str
    default_allow: bool
    nodes: Tuple[Tuple[bool, str, int, str], ...]   # (allow, cidr, line, comment)
    file: str
    line: int
    comments: Tuple[str, ...]


class GroupSpec(NamedTuple):
    name: str
    members: Tuple[Tuple[str, int, str], ...]       # (gateway, weight, comment)
    file: str
    line: int
    comments: Tuple[str, ...]


class RouteSpec(NamedTuple):
    name: str
    extension: str
    file: str
    line: int
    match: Tuple[Tuple[str, str], ...]
    number: Optional[str]
    acl: Optional[str]
    gateway: Optional[str]
    group: Optional[str]
    comments: Tuple[str, ...]


_NODE_ATTRS = ("type", "cidr", "host", "mask", "domain")


def translate_acls(legacy, reports):
    """acl.conf.xml lists as AclSpecs by name (FreeSWITCH keeps the last list of a name)."""
    out = {}
    for acl_list in legacy.acl_lists:
        where = (acl_list.file, acl_list.line)
        if not acl_list.name:
            reports.append(Report(*where, "warning: acl list without a name skipped (FreeSWITCH skips it too)"))
            continue
        what = "acl list %r" % acl_list.name
        if not NAME_RE.match(acl_list.name):
            reports.append(Report(*where, "not translated: %s: fsroute acl names hold only letters, digits, "
                                  "'_', '.', '-'" % what))
            continue
        comments = []
        if acl_list.default is None:
            default_allow = True
            comments.append("no default in acl.conf.xml: FreeSWITCH treats that as allow")
            reports.append(Report(*where, "warning: %s has no default; FreeSWITCH's default is allow, "
                                  "kept as allow" % what))
        else:
            default_allow = switch_true(acl_list.default)
            if acl_list.default.strip().lower() not in ("allow", "deny"):
                reports.append(Report(*where, "warning: %s default=%r read as %s, as FreeSWITCH does"
                                      % (what, acl_list.default, "allow" if default_allow else "deny")))
        nodes = []
        for node in acl_list.nodes:
            nodes.extend(_acl_node(node, what, default_allow, reports))
        if acl_list.name in out:
            earlier = out[acl_list.name]
            reports.append(Report(earlier.file, earlier.line, "not translated: %s is defined again at line %d; "
                                  "FreeSWITCH keeps the later one, so does the import" % (what, acl_list.line)))
        out[acl_list.name] = AclSpec(acl_list.name, default_allow, tuple(nodes), acl_list.file,
                                     acl_list.line, tuple(comments))
    return out


def _acl_node(node, what, default_allow, reports):
    where = (node.file, node.line)
    unknown = sorted(set(node.attrs) - set(_NODE_ATTRS))
    if unknown:
        reports.append(Report(*where, "not translated: %s node with attribute(s) %s that fsroute cannot "
                              "express; node left out" % (what, ", ".join(unknown))))
        return []
    kind = node.attrs.get("type")
    allow = default_allow if kind is None else switch_true(kind)
    if kind is not None and kind.strip().lower() not in ("allow", "deny"):
        reports.append(Report(*where, "warning: %s node type=%r read as %s, as FreeSWITCH does"
                              % (what, kind, "allow" if allow else "deny")))
    if "domain" in node.attrs:
        reports.append(Report(*where, "not translated: %s node domain=%r takes the cidr= of the users of a "
                              "directory domain, which the import cannot see; list those CIDRs in the rules"
                              % (what, node.attrs["domain"])))
        return []
    if "cidr" in node.attrs:
        out = []
        for token in node.attrs["cidr"].split(","):
            token = token.strip()
            if "/" not in token:
                reports.append(Report(*where, "not translated: %s node cidr %r has no /bits; FreeSWITCH "
                                      "refuses it too" % (what, token)))
                continue
            try:
                network = parse_network(token)
            except ValueError as exc:
                reports.append(Report(*where, "not translated: %s node: %s; FreeSWITCH refuses it too"
                                      % (what, exc)))
                continue
            out.append((allow, str(network), node.line, ""))
        return out
    host, mask = node.attrs.get("host"), node.attrs.get("mask")
    if host is not None and mask is not None:
        try:
            network = parse_network("%s/%s" % (host.strip(), mask.strip()))
            if network.version != 4:
                raise ValueError(host)
        except ValueError:
            reports.append(Report(*where, "not translated: %s node host=%r mask=%r is not an IPv4 address with a "
                                  "contiguous netmask; fsroute cannot express it" % (what, host, mask)))
            return []
        return [(allow, str(network), node.line, "host=%s mask=%s" % (host.strip(), mask.strip()))]
    reports.append(Report(*where, "warning: %s node has no cidr, host+mask or domain; FreeSWITCH ignores it, "
                          "so does the import" % what))
    return []


def distributor_nodes(dist_list):
    """The nodes mod_distributor keeps (atoi(weight) >= 1), as (name, weight, line), in file order."""
    return [(n.name, atoi(n.weight), n.line) for n in dist_list.nodes if atoi(n.weight) >= 1]


def find_list(legacy, name):
    """The list mod_distributor uses for ``name``: the first whose name matches, ignoring case."""
    for dist_list in legacy.lists:
        if dist_list.name and dist_list.name.lower() == name.lower():
            return dist_list
    return None


def translate_lists(legacy, reports):
    """distributor lists as GroupSpecs keyed by lower-case name (mod_distributor ignores case)."""
    out = {}
    for dist_list in legacy.lists:
        where = (dist_list.file, dist_list.line)
        if not dist_list.name:
            reports.append(Report(*where, "warning: distributor list without a name skipped "
                                  "(mod_distributor skips it too)"))
            continue
        what = "distributor list %r" % dist_list.name
        key = dist_list.name.lower()
        if key in out or find_list(legacy, dist_list.name) is not dist_list:
            reports.append(Report(*where, "not translated: %s is a second list of that name (case ignored); "
                                  "mod_distributor only ever uses the first" % what))
            continue
        comments = []
        if dist_list.total_weight is not None:
            comments.append("total-weight=%s ignored, as current mod_distributor does (it warns \"no longer "
                            "necessary\"): the cycle is the sum of the weights" % _short(dist_list.total_weight))
        merged = {}
        for node in dist_list.nodes:
            weight = atoi(node.weight)
            if weight < 1:
                comments.append("node %s (line %d) dropped: weight %r is not >= 1; mod_distributor "
                                "skips it too" % (_short(node.name), node.line, node.weight))
                reports.append(Report(dist_list.file, node.line, "not translated: %s node %r weight %r is not "
                                      ">= 1 (mod_distributor skips it too)" % (what, node.name, node.weight)))
                continue
            if str(weight) != node.weight.strip():
                reports.append(Report(dist_list.file, node.line, "warning: %s node %r weight %r read as %d, as "
                                      "mod_distributor's atoi() does" % (what, node.name, node.weight, weight)))
            if not NAME_RE.match(node.name):
                comments.append("node %r (line %d) dropped: not a plain gateway name"
                                % (_short(node.name), node.line))
                reports.append(Report(dist_list.file, node.line, "not translated: %s node %r is not a plain "
                                      "gateway "
                                      "name (letters, digits, '_', '.', '-'); the group's ratio changes"
                                      % (what, node.name)))
                continue
            if node.name in merged:
                first_line, total = merged[node.name]
                merged[node.name] = (first_line, total + weight)
                reports.append(Report(dist_list.file, node.line, "warning: %s lists %r again (first at line %d); "
                                      "merged into one gateway of weight %d, the share mod_distributor gives it"
                                      % (what, node.name, first_line, total + weight)))
            else:
                merged[node.name] = (node.line, weight)
        members = []
        for name, (line, weight) in merged.items():
            if weight > MAX_WEIGHT:
                reports.append(Report(dist_list.file, line, "not translated: %s node %r weight %d is above "
                                      "fsroute's %d" % (what, name, weight, MAX_WEIGHT)))
                continue
            members.append((name, weight, "line %d" % line))
        if not members:
            reports.append(Report(*where, "not translated: %s has no usable node; mod_distributor would "
                                  "answer -err for every call" % what))
            continue
        out[key] = GroupSpec(dist_list.name, tuple(members), dist_list.file, dist_list.line, tuple(comments))
    return out


def _first_bridge(ext):
    """(condition index, action) of the extension's first bridge or transfer, or None."""
    for index, condition in enumerate(ext.conditions):
        for action in condition.actions:
            if action.app in ("bridge", "transfer"):
                return index, action
    return None


def translate_extension(ext, acls, group_specs, legacy, profile, reports):
    """A RouteSpec for ``ext`` (match without context), or None after reporting why not.

    Whatever the route leaves out of the extension is reported too.
    """
    label = "extension %r" % ext.name
    found = _first_bridge(ext)
    if found is None:
        apps = [a.app or "?" for c in ext.conditions for a in c.actions + c.anti_actions]
        what = "applications: " + ", ".join(apps) if apps else "no actions"
        reports.append(Report(ext.file, ext.line, "not translated: %s has no bridge to a gateway (%s); keep it "
                              "in the XML dialplan ahead of the fsroute extension, or its calls reach the next "
                              "matching route" % (label, what)))
        return None
    bridge_index, bridge = found
    fatal = []      # (line, why): the extension is not imported
    review = []     # (line, what): imported, but this part is not carried over

    if switch_true(ext.attrs.get("continue")):
        review.append((ext.line, "continue=%r: the old dialplan went on to later extensions and ran their "
                       "actions too; fsroute stops at the first matching route" % ext.attrs["continue"]))
    if ext.name.isdigit():
        review.append((ext.line, "FreeSWITCH starts the hunt at an extension named like the dialled number "
                       "(%s); fsroute keeps file order" % ext.name))
    for other in ext.others:
        review.append((other.line, "<%s> inside the extension" % other.tag))

    match, acl = {}, None
    dest_groups = None  # capture groups of the bridge's own condition, if it is on destination_number
    for index, condition in enumerate(ext.conditions):
        if index > bridge_index:
            review.append((condition.line, "a condition after the one holding the bridge (the old bridge ran "
                           "whatever it decided)"))
            for action in condition.actions + condition.anti_actions:
                review.append((action.line, "application %r after the bridge" % action.app))
            continue
        extra = sorted(set(condition.attrs) - {"field", "expression", "break", "require-nested", "regex"})
        if "regex" in condition.attrs or any(o.tag == "regex" for o in condition.others):
            fatal.append((condition.line, "regex=%r / <regex> conditions (any|all|xor) cannot be expressed; "
                          "fsroute ANDs one regex per variable" % condition.attrs.get("regex", "")))
        if extra:
            fatal.append((condition.line, "condition attribute(s) %s (time of day, ...) cannot be expressed"
                          % ", ".join(extra)))
        if any(o.tag == "condition" for o in condition.others):
            fatal.append((condition.line, "nested conditions cannot be expressed"))
        for other in condition.others:
            if other.tag not in ("condition", "regex"):
                review.append((other.line, "<%s> inside the condition" % other.tag))
        brk = (condition.attrs.get("break") or "on-false").strip().lower()
        if brk != "on-false":
            fatal.append((condition.line, "break=%r cannot be expressed; fsroute ANDs the conditions"
                          % condition.attrs["break"]))
        for anti in condition.anti_actions:
            review.append((anti.line, "anti-action %r: the old dialplan ran it (and stopped) when the "
                           "condition failed; with fsroute such calls go on to the next route" % anti.app))
        if condition.field is None:
            continue
        kind, value = classify_field(condition.field)
        if kind == "bad":
            fatal.append((condition.line, value))
            continue
        expression = condition.expression or ""
        regex, error = compile_expression(expression)
        if error:
            fatal.append((condition.line, error))
            continue
        if kind == "acl":
            list_name = value[0]
            if not (regex.search("true") and not regex.search("false")):
                fatal.append((condition.line, "an acl condition with expression %r is not \"the source is "
                              "allowed\"; a route's acl only lets allowed sources through" % expression))
            elif acl is not None:
                fatal.append((condition.line, "a second acl condition; a route takes one acl"))
            elif list_name not in acls:
                fatal.append((condition.line, "acl list %r is not in the --acl file (or could not be "
                              "translated)" % list_name))
            else:
                acl = list_name
            continue
        if value in match:
            fatal.append((condition.line, "a second condition on %r; fsroute takes one regex per variable"
                          % value))
            continue
        if expression:
            match[value] = expression
        if index == bridge_index and value == "destination_number":
            dest_groups = regex.groups

    for index, condition in enumerate(ext.conditions[:bridge_index + 1]):
        seen_bridge = False
        for action in condition.actions:
            if action is bridge:
                seen_bridge = True
            elif action.app in ("bridge", "transfer"):
                review.append((action.line, "a further %s (%s); fsroute fails over within a group instead"
                               % (action.app, _short(action.data))))
            else:
                review.append((action.line, "application %r %s the bridge" % (
                    action.app, "after" if seen_bridge else "before")))

    comments = []
    gateway = group = number = None
    target = None
    if bridge.app == "transfer" and not bridge.data.strip().startswith("sofia/gateway/"):
        fatal.append((bridge.line, "transfer to %r is not a gateway dial string" % _short(bridge.data)))
    else:
        if bridge.app == "transfer":
            review.append((bridge.line, "transfer is imported as a bridge to that gateway; FreeSWITCH's transfer "
                           "re-enters the dialplan with its argument as the destination number, so check "
                           "what the old dialplan really did with it"))
        target = parse_dialstring(bridge.data)
        if isinstance(target, str):
            fatal.append((bridge.line, target))
            target = None
    if target is not None:
        condition = ext.conditions[bridge_index]
        substitutes = condition.field is not None and "(" in (condition.expression or "")
        number, error = number_template(target.number, substitutes, dest_groups)
        if error:
            fatal.append((bridge.line, error))
        if target.gateway is not None:
            gateway = target.gateway
        else:
            group = _route_group(target.distribution, bridge, legacy, group_specs, profile, fatal, review,
                                 comments)
    if fatal:
        for line, why in fatal:
            reports.append(Report(ext.file, line, "not translated: %s is not imported: %s" % (label, why)))
        return None
    for line, what in review:
        reports.append(Report(ext.file, line, "not translated: %s (imported as a route): %s" % (label, what)))
        comments.append("REVIEW (line %d): %s" % (line, what))
    return RouteSpec(ext.name, ext.name, ext.file, ext.line, tuple(match.items()), number, acl, gateway, group,
                     tuple(comments))


def _route_group(distribution, bridge, legacy, group_specs, profile, fatal, review, comments):
    """The group name for a distributor expansion, or None after adding why to ``fatal``."""
    dist_list = find_list(legacy, distribution.list_name)
    if dist_list is None:
        fatal.append((bridge.line, "distributor list %r is not in the --distributor file; mod_distributor "
                      "answers -err and every call fails (INVALID_GATEWAY)" % distribution.list_name))
        return None
    spec = group_specs.get(dist_list.name.lower())
    if spec is None:
        fatal.append((bridge.line, "distributor list %r could not be translated (see its report)"
                      % dist_list.name))
        return None
    if distribution.down_profile is None:
        comments.append("the old dial string passed no exceptions, so mod_distributor also picked gateways "
                        "that were down; fsroute leaves them out")
    elif distribution.down_profile != profile:
        review.append((bridge.line, "the old dial string left out the gateways down on profile %r; these "
                       "rules read every gateway's state from profile %r (--profile) unless it is listed "
                       "under gateways:" % (distribution.down_profile, profile)))
    return spec.name


class ImportResult(NamedTuple):
    text: str                       # the rules file
    reports: Tuple[Report, ...]     # everything not carried over, in file and line order
    routes: Tuple[RouteSpec, ...]   # the routes written, each with its extension's file and line


def import_files(dialplans=(), distributor=None, acl=None, profile="external"):
    """Read the old configuration files and return an ImportResult.

    Raises ConfigError when a file is unreadable or not well-formed XML.
    The text always passes ``fsroute.rules.parse`` (checked here).
    """
    if not NAME_RE.match(profile or ""):
        raise ValueError("profile %r is not a valid sofia profile name" % profile)
    legacy = read_legacy(dialplans, distributor, acl)
    return translate(legacy, profile)


def translate(legacy, profile="external"):
    """An ImportResult for an already read Legacy configuration."""
    reports = list(legacy.notes)
    acls = translate_acls(legacy, reports)
    groups = translate_lists(legacy, reports)
    contexts = []
    for ext in legacy.extensions:
        if ext.context is not None and ext.context not in contexts:
            contexts.append(ext.context)
    several = len(contexts) > 1
    routes, names = [], set()
    for ext in legacy.extensions:
        route = translate_extension(ext, acls, groups, legacy, profile, reports)
        if route is None:
            continue
        match, comments = list(route.match), list(route.comments)
        name = route.name
        if several:
            if ext.context is None:
                comments.append("REVIEW: %s holds no <context>; the route applies in every context" % ext.file)
            else:
                match.append(("context", "^%s$" % re.escape(ext.context)))
                name = "%s/%s" % (ext.context, name)
        unique, count = name, 1
        while unique in names:
            count += 1
            unique = "%s (%d)" % (name, count)
        names.add(unique)
        routes.append(route._replace(name=unique, match=tuple(match), comments=tuple(comments)))
    order = {path: i for i, path in enumerate(list(legacy.dialplans) + [legacy.distributor, legacy.acl])}
    reports.sort(key=lambda r: (order.get(r.file, len(order)), r.line))
    text = render(legacy, profile, acls, groups, routes, reports, contexts if several else ())
    try:
        rules_module.parse(text, "<imported rules>")
    except rules_module.RulesError as exc:  # a bug in the import, never the operator's doing
        raise ConfigError("<imported rules>", exc.problems[0].line,
                          "internal error: the generated rules do not validate: %s" % exc) from None
    return ImportResult(text, tuple(reports), tuple(routes))


# -- rendering -----------------------------------------------------------------------------

_PLAIN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_YAML_WORDS = ("y", "n", "yes", "no", "on", "off", "true", "false", "null")


def _scalar(text):
    """``text`` as a YAML string scalar: plain when unambiguous, else quoted."""
    if _PLAIN_RE.match(text) and text.lower() not in _YAML_WORDS:
        return text
    if text.isascii() and text.isprintable():
        return "'%s'" % text.replace("'", "''")
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _comment(text):
    return "".join(c if c.isprintable() else "?" for c in text)


def render(legacy, profile, acls, groups, routes, reports, contexts=()):
    """The rules file text, with the reports and the mapping explained in comments."""
    out = ["# fsroute rules imported by `fsroute import` from the classic setup:"]
    out.append("#   dialplan:    %s" % (_comment(", ".join(legacy.dialplans)) or "(none)"))
    out.append("#   distributor: %s" % _comment(legacy.distributor or "(none)"))
    out.append("#   acl:         %s" % _comment(legacy.acl or "(none)"))
    out.append("#")
    if reports:
        out.append("# NOT CARRIED OVER OR CHANGED (%d) -- review each before going live; also printed on"
                   % len(reports))
        out.append("# stderr as FILE:LINE: what.")
        for report in reports:
            out.append("#   %s" % _comment(str(report)))
    else:
        out.append("# Everything found was carried over; nothing to review.")
    out.append("#")
    out.append("# How the old setup maps onto this file:")
    out.append("# - routes keep the dialplan's order (first match wins); each condition's field and")
    out.append("#   regex becomes a `match` entry, ${acl(${network_addr} LIST)} the route's `acl`.")
    out.append("# - every gateway's state is read from sofia profile %r (--profile): the dialplan" % profile)
    out.append("#   does not say which profile a gateway is on; add `gateways: {NAME: {profile: P}}`")
    out.append("#   for any that live on another profile.")
    out.append("# - mod_distributor lists become groups with strategy weighted_round_robin and the")
    out.append("#   same integer weights: a gateway of weight w gets w picks per cycle of the summed")
    out.append("#   weights, as in mod_distributor, but gateways that are down are left out and a")
    out.append("#   failed call fails over to the next gateway of the group.")
    if contexts:
        out.append("# - the dialplan has several contexts (%s): each route matches its"
                   % _comment(", ".join(contexts)))
        out.append("#   context through the `context` channel variable and is named CONTEXT/EXTENSION.")
    out.append("")
    out.append("version: 1")
    out.append("")
    out.append("defaults:")
    out.append("  profile: %s" % _scalar(profile))
    if acls:
        out.append("")
        out.append("acls:")
        for spec in acls.values():
            out.append("  # %s:%d: acl list %s" % (_comment(spec.file), spec.line, _comment(spec.name)))
            for comment in spec.comments:
                out.append("  # %s" % _comment(comment))
            out.append("  %s:" % _scalar(spec.name))
            out.append("    default: %s" % ("allow" if spec.default_allow else "deny"))
            if spec.nodes:
                out.append("    nodes:")
                for allow, cidr, line, note in spec.nodes:
                    note = (" " + _comment(note)) if note else ""
                    out.append("      - %s: %s    # line %d%s" % ("allow" if allow else "deny", _scalar(cidr),
                                                                 line, note))
    if groups:
        out.append("")
        out.append("groups:")
        for spec in groups.values():
            out.append("  # %s:%d: distributor list %s" % (_comment(spec.file), spec.line, _comment(spec.name)))
            for comment in spec.comments:
                out.append("  # %s" % _comment(comment))
            out.append("  %s:" % _scalar(spec.name))
            out.append("    strategy: weighted_round_robin")
            out.append("    gateways:")
            for name, weight, note in spec.members:
                out.append("      - {name: %s, weight: %d}    # %s" % (_scalar(name), weight, _comment(note)))
    out.append("")
    if not routes:
        out.append("routes: []    # no extension could be imported; see the list above")
        return "\n".join(out) + "\n"
    out.append("routes:                        # first match wins, in dialplan order")
    for route in routes:
        out.append("")
        out.append("  # %s:%d: extension %s" % (_comment(route.file), route.line, _comment(route.extension)))
        for comment in route.comments:
            out.append("  # %s" % _comment(comment))
        out.append("  - name: %s" % _scalar(route.name))
        if route.match:
            out.append("    match:")
            for variable, regex in route.match:
                out.append("      %s: %s" % (_scalar(variable), _scalar(regex)))
        if route.number is not None:
            out.append("    number: %s" % _scalar(route.number))
        if route.acl is not None:
            out.append("    acl: %s" % _scalar(route.acl))
        if route.gateway is not None:
            out.append("    gateway: %s" % _scalar(route.gateway))
        else:
            out.append("    group: %s" % _scalar(route.group))
    return "\n".join(out) + "\n"
