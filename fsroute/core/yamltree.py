"""YAML text -> a tree of positioned nodes, built without recursion.

PyYAML's composers recurse once per nesting level (the C one in C, where a
file of a million ``[`` would overflow the stack; the Python one hits
FreeSWITCH's small recursion limit), and its constructors forget where a
value came from. This builder reads the parser's event stream in a loop,
caps nesting depth, keeps every node's line and column for error messages,
and shares aliased nodes instead of copying them, so memory stays linear in
the file's size whatever its anchors do. What a reader of the tree walks is
what the aliases would expand to, so that is capped too (MAX_ALIAS_NODES):
a "billion laughs" file is refused here, before anyone walks it.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

MAX_DEPTH = 32
# Nodes that aliases may add to the tree as its readers see it (each alias
# counts the size of what it refers to, less the one node it stands in for).
# Sharing the nodes keeps memory flat, but a reader walking
# ``acls: {a1: *x, a2: *x, ...}`` still does the work of the expanded tree.
MAX_ALIAS_NODES = 100000
# Integers longer than this are refused before conversion: YAML 1.1's
# base-60 integers (1:2:3:...) convert in quadratic time, and octal, hex and
# binary ones are not held to Python's digit limit, so a huge value would
# only fail later when an error message prints it.
MAX_INT_CHARS = 1000

MAP, SEQ, SCALAR = "mapping", "sequence", "scalar"

# A rules file repeats a few short plain scalars (keys, gateway and group
# names) a hundred thousand times: their typed values are kept here once.
_PLAIN_CACHE: Dict[str, Any] = {}
_PLAIN_CACHE_MAX = 4096
_SHORT = 24
_SEEN_MAX = 4096


class YamlProblem(Exception):
    """The text is not YAML fsroute can read; line and col are 1-based."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


class Node:
    """One YAML node: kind, value and where it starts (1-based).

    A mapping's value is a flat list [key, value, key, value, ...] of nodes
    (``pairs()`` reads it), a sequence's a list of nodes, a scalar's the
    typed Python value. Kept small: a big rules file has a million of them.
    """

    __slots__ = ("kind", "value", "line", "col")

    def __init__(self, kind: str, value: Any, line: int, col: int) -> None:
        self.kind = kind
        self.value = value
        self.line = line
        self.col = col

    def pairs(self) -> Iterator[Tuple[Node, Node]]:
        """A mapping's (key node, value node) pairs, in file order."""
        items = iter(self.value)
        return zip(items, items)


def _scalar_value(event: Any) -> Any:
    """Type a scalar the way YAML 1.1's safe schema does (int, float, bool, null, str)."""
    value = event.value
    if event.tag is None:
        if event.style:  # quoted or block: a string (plain is '' from libyaml, None from Python)
            return sys.intern(value) if len(value) <= _SHORT else value
        cached = _PLAIN_CACHE.get(value, _PLAIN_CACHE)
        if cached is not _PLAIN_CACHE:
            return cached
        typed = _typed(event)
        if len(value) <= _SHORT and len(_PLAIN_CACHE) < _PLAIN_CACHE_MAX:
            _PLAIN_CACHE[value] = typed
        return typed
    return _typed(event)


_DECIMAL_RE = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")


def _typed(event: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    kind = tag.rsplit(":", 1)[-1]
    if kind == "int" and len(event.value) > MAX_INT_CHARS:
        raise YamlProblem(node.start_mark.line + 1, node.start_mark.column + 1,
                          "cannot read this number: longer than %d characters" % MAX_INT_CHARS)
    if event.tag is None and (kind == "int" and not _DECIMAL_RE.match(event.value)  # plain, untagged
                              or kind == "float" and ("_" in event.value or ":" in event.value)):
        # YAML 1.1 reads 0044 as octal 36, +44870 as 44870, 1_900 as 1900, 8:30 as 510 (8:30.5 as 510.5): a number in
        # the rules means what it says, so such a plain scalar stays the text written (a field that
        # wants a number then reports it at its line and column)
        return event.value
    try:
        if kind == "int":
            return _CONSTRUCTOR.construct_yaml_int(node)
        if kind == "float":
            return _CONSTRUCTOR.construct_yaml_float(node)
        if kind == "bool":
            return _CONSTRUCTOR.construct_yaml_bool(node)
        if kind == "null":
            return None
    except (ValueError, IndexError, KeyError, OverflowError) as exc:
        # e.g. an integer of more digits than Python converts, or an explicit
        # tag on text that is not of its type (!!int '', !!bool maybe)
        raise YamlProblem(node.start_mark.line + 1, node.start_mark.column + 1,
                          "cannot read %r as %s: %s" % (event.value[:40], kind,
                                                        str(exc)[:80] or type(exc).__name__))
    return event.value


def _problem_from(exc: yaml.YAMLError, text: str) -> YamlProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        # No mark, only an offset: in UTF-8 bytes from the C reader, in characters otherwise.
        position = exc.position if isinstance(exc.position, int) else 0
        if _LOADER is not yaml.SafeLoader:
            before = text.encode("utf-8", "surrogatepass")[:position].decode("utf-8", "ignore")
        else:
            before = text[:position]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return YamlProblem(line, col, "invalid YAML: character #x%04x: %s" % (exc.character, exc.reason))
    message = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    if mark is None:
        return YamlProblem(1, 1, "invalid YAML: %s" % message)
    return YamlProblem(mark.line + 1, mark.column + 1, "invalid YAML: %s" % message)


Fold = Tuple[str, Callable[[Node], object]]


def parse(text: str, fold: Optional[Fold] = None) -> Optional[Node]:
    """Return the root Node of ``text`` (str), or None for an empty document.

    ``fold`` = (key, function): each item of the list under the top-level
    ``key`` is replaced by ``function(item node)`` as soon as the item is
    complete, so its nodes can be freed at once instead of living until the
    whole file is read (a rules file's routes are most of its nodes). That
    list is read by ``scan_block`` when it can be, the rest of the file by
    libyaml; the tree is the same either way.

    Raises YamlProblem for bad syntax, several documents, too deep nesting,
    unknown or self-referencing aliases and aliases that expand too much.
    """
    if fold is not None:
        scanned = _parse_scanning(text, fold)
        if scanned is not None:
            return scanned
    return parse_events(text, fold)


def parse_events(text: str, fold: Optional[Fold] = None) -> Optional[Node]:
    """``parse`` by libyaml's events alone."""
    fold_key, fold_item = fold if fold is not None else (None, _unfolded)
    anchors: Dict[str, Node] = {}       # anchor -> node
    sizes: Dict[int, int] = {}         # id(anchored container) -> nodes in it, aliases expanded
    stack: List[List[Any]] = []  # open containers: [node, nodes in it so far, its anchor, whether its items fold]
    root: Optional[Node] = None
    node: Optional[Node]
    documents = 0
    aliased = 0        # nodes added by aliases so far (expanded)
    parser = _LOADER(text)
    get_event = parser.get_event
    try:
        while True:
            event = get_event()
            if event is None:
                break
            cls = event.__class__
            size = 1
            if cls is yaml.ScalarEvent:
                mark = event.start_mark
                node = Node(SCALAR, _scalar_value(event), mark.line + 1, mark.column + 1)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                mark = event.start_mark
                node = Node(MAP if cls is yaml.MappingStartEvent else SEQ, [], mark.line + 1, mark.column + 1)
                if len(stack) >= MAX_DEPTH:
                    raise YamlProblem(node.line, node.col, "nesting deeper than %d levels" % MAX_DEPTH)
                folds = (fold_key is not None and len(stack) == 1 and node.kind == SEQ
                         and _pending_key(stack[0][0]) == fold_key)
                if stack and not stack[-1][3]:
                    stack[-1][0].value.append(node)
                stack.append([node, 1, event.anchor, folds])
                continue
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                node, size, anchor, _ = stack.pop()
                if anchor is not None:
                    anchors[anchor] = node
                    sizes[id(node)] = size
                if not stack:
                    root = node
                    continue
                stack[-1][1] += size
                if stack[-1][3]:
                    stack[-1][0].value.append(fold_item(node))
                continue
            elif cls is yaml.AliasEvent:
                node = anchors.get(event.anchor)
                if node is None:
                    known = any(entry[2] == event.anchor for entry in stack)
                    raise YamlProblem(event.start_mark.line + 1, event.start_mark.column + 1,
                                      ("alias *%s refers to a node that contains it" if known
                                       else "unknown alias *%s") % event.anchor)
                size = sizes.get(id(node), 1)
                aliased += size - 1  # an alias of a scalar costs what the scalar would
                if aliased > MAX_ALIAS_NODES:
                    raise YamlProblem(event.start_mark.line + 1, event.start_mark.column + 1,
                                      "aliases expand to more than %d nodes (at *%s); "
                                      "write the repeated parts out or share less"
                                      % (MAX_ALIAS_NODES, event.anchor))
            elif cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlProblem(event.start_mark.line + 1, event.start_mark.column + 1,
                                      "the rules file must hold one YAML document, not several")
                continue
            else:
                continue
            if cls is yaml.ScalarEvent and event.anchor is not None:
                anchors[event.anchor] = node
            if stack:
                stack[-1][0].value.append(fold_item(node) if stack[-1][3] else node)
                stack[-1][1] += size
            else:
                root = node
    except yaml.YAMLError as exc:
        raise _problem_from(exc, text) from None
    finally:
        parser.dispose()
    return root


def _unfolded(node: Node) -> object:
    return node


def _pending_key(mapping: Node) -> Optional[str]:
    """The key whose value comes next in an open mapping, or None (a scalar key only)."""
    if mapping.kind != MAP or len(mapping.value) % 2 == 0:
        return None
    key: Node = mapping.value[-1]
    return key.value if key.kind == SCALAR and isinstance(key.value, str) else None


# -- the big list, read without libyaml ----------------------------------------------------------
#
# A big rules file is a long block list of small flat mappings, one key per
# line. libyaml hands each of its million scalars to Python as an event
# object; reading those lines with regular expressions costs a fraction of
# that. Only a strict subset of YAML is read this way, whose meaning is
# plain from the line alone: keys that are plain words, values that are
# single-quoted printable ASCII, plain words that YAML reads as strings, or
# one-line flow mappings of such; comments and blank lines. Any other line
# in the list, and the list is left to libyaml with the rest of the file.

_WORD = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
_QUOTED = r"'([ -&(-~]*)'"                                     # printable ASCII but "'"
_PLAIN = r"([A-Za-z_][A-Za-z0-9_.+/()-]*(?: +[A-Za-z0-9_.+/()-]+)*)"
_EOL = r"(?: +(?:#[ -~]*)?)?\Z"                                  # a comment needs a space before '#'
_LINE_RE = re.compile(r"( *)(- )?(%s):(?: (?:%s|%s|\{(.*)\}))?%s" % (_WORD, _QUOTED, _PLAIN, _EOL))
_FLOW_PAIR_RE = re.compile(r"(%s): %s(, |\Z)" % (_WORD, _QUOTED))
_FLOW_ONE_RE = re.compile(r"(%s): %s\Z" % (_WORD, _QUOTED))
_SKIP_RE = re.compile(r" *(?:#[ -~]*)?\Z")
_HEADER_TAIL_RE = re.compile(r"(?: +(?:#[ -~]*)?)?\Z")          # what may follow 'routes:' on its line
_NESTED_KEYS = ("match",)                                        # keys whose value may be a block mapping
_IMPLICIT = frozenset(k for k in _RESOLVER.yaml_implicit_resolvers if k is not None)
_STR_TAG = "tag:yaml.org,2002:str"


def _parse_scanning(text: str, fold: Fold) -> Optional[Node]:
    """``parse`` with the list under ``fold``'s key read by ``scan_block``; None when that cannot be.

    The text is searched with str.find and walked a line at a time, never by
    one regular expression over the whole of it: a C call that long holds the
    GIL, and every call thread waits for it.
    """
    key, fold_item = fold
    start = _header(text, key)
    if start < 0:
        return None
    body = text.find("\n", start)
    if body < 0:
        return None
    line = text.count("\n", 0, start) + 1
    scanned = scan_block(text, body + 1, line + 1, fold_item)
    if scanned is None:
        return None
    items, first, block_end = scanned
    # The rest of the file, the list left empty on the same line: what follows keeps its line numbers.
    rest = text[:start] + key + ": []" + "\n" * text.count("\n", body, block_end) + text[block_end:]
    try:
        root = parse_events(rest)
    except YamlProblem:
        return None  # reported by reading the whole file with libyaml
    placeholder = _placeholder(root, key, line)
    if placeholder is None:
        return None
    placeholder.value, (placeholder.line, placeholder.col) = items, first
    return root


def _header(text: str, key: str) -> int:
    """Where the one line ``KEY:`` (perhaps with a comment) starts at column 1, or -1."""
    head = key + ":"
    found = []
    at = 0 if text.startswith(head) else text.find("\n" + head) + 1
    while at >= 0 and (at > 0 or text.startswith(head)):
        end = text.find("\n", at)
        if _HEADER_TAIL_RE.match(text, at + len(head), end if end >= 0 else len(text)):
            found.append(at)
        at = text.find("\n" + head, at) + 1 or -1
    return found[0] if len(found) == 1 else -1


def _placeholder(root: Optional[Node], key: str, line: int) -> Optional[Node]:
    """The empty list written for ``key`` at ``line``, when it is a key of the top mapping there."""
    if root is None or root.kind != MAP or not root.value:
        return None
    if (root.value[0].line, root.value[0].col) != (root.line, root.col):
        return None  # a flow mapping ({...}), where the scanned block list is not YAML at all
    found = [value for name, value in root.pairs()
             if name.kind == SCALAR and name.value == key and (name.line, name.col) == (line, 1)]
    if len(found) != 1 or found[0].kind != SEQ or found[0].value \
            or (found[0].line, found[0].col) != (line, len(key) + 3):
        return None
    return found[0]


def scan_block(text: str, at: int, first_line: int, fold_item: Callable[[Node], object]
               ) -> Optional[Tuple[List[object], Tuple[int, int], int]]:
    """The block list starting at offset ``at`` of ``text`` (line ``first_line``) and ending before the
    next line that starts at column 1: its items, each passed through ``fold_item`` as soon as it is
    read, where the list starts (its first '-') and where it ends; None when a line is outside the subset."""
    items: List[object] = []
    start = (0, 0)
    indent = -1                  # the list's indentation, from its first item
    item: Optional[Node] = None  # the mapping being read
    nested: Optional[Node] = None  # its block mapping being read (match:), if any
    number = first_line - 1
    size = len(text)
    line_re, skip_re = _LINE_RE, _SKIP_RE
    # A table repeats its lines ("    number: '$1'", "    gateway: gw1"): each is matched once.
    seen: Dict[str, Tuple[Any, ...]] = {}
    while at < size and text[at] in " #\n":
        end = text.find("\n", at)
        if end < 0:
            end = size
        line_text = text[at:end]
        parts = seen.get(line_text)
        if parts is None:
            found = line_re.match(line_text)
            if found is None:
                if not skip_re.match(line_text):
                    return None
            else:
                parts = found.groups()
                if len(seen) < _SEEN_MAX:
                    seen[line_text] = parts
        at = end + 1
        number += 1
        if parts is None:
            continue
        spaces, dash, name, quoted, plain, flow = parts
        depth = len(spaces)
        if nested is not None and not (depth == indent + 4 and not dash):
            if not nested.value:
                return None  # 'match:' and nothing under it: a null, not a mapping
            nested = None
        if dash:
            if indent < 0:
                indent, start = depth, (number, depth + 1)
            if depth != indent:
                return None
            if item is not None:
                items.append(fold_item(item))
            item = target = Node(MAP, [], number, depth + 3)
            col = depth + 3
        elif item is not None and depth == indent + 2:
            target, col = item, depth + 1
        elif nested is not None:
            if not nested.value:
                nested.line, nested.col = number, depth + 1
            target, col = nested, depth + 1
        else:
            return None
        key = _PLAIN_CACHE.get(name) or _plain_string(name)
        if not isinstance(key, str):
            return None
        value_col = col + len(name) + 2
        if quoted is not None:
            value: Optional[Node] = Node(SCALAR, _quoted_string(quoted), number, value_col)
        elif plain is not None:
            text_value = _plain_string(plain)
            value = Node(SCALAR, text_value, number, value_col) if text_value is not None else None
        elif flow is not None:
            value = _flow_mapping(flow, number, value_col)
        elif target is item and name in _NESTED_KEYS:
            value = nested = Node(MAP, [], 0, 0)  # where its first key is
        else:
            value = None
        if value is None:
            return None
        target.value.append(Node(SCALAR, key, number, col))
        target.value.append(value)
    if item is None or (nested is not None and not nested.value):
        return None
    items.append(fold_item(item))
    return items, start, min(at, size)


def _flow_mapping(body: str, line: int, col: int) -> Optional[Node]:
    """``{key: 'value', ...}`` (``body`` is what the braces hold, the brace at ``col``), or None."""
    node = Node(MAP, [], line, col)
    one = _FLOW_ONE_RE.match(body)  # the usual {destination_number: '...'}
    if one is not None:
        key = _PLAIN_CACHE.get(one.group(1)) or _plain_string(one.group(1))
        if not isinstance(key, str):
            return None
        value = Node(SCALAR, _quoted_string(one.group(2)), line, col + one.start(2))  # at its quote
        node.value = [Node(SCALAR, key, line, col + 1), value]
        return node
    at = 0
    while at < len(body):
        found = _FLOW_PAIR_RE.match(body, at)
        key = _plain_string(found.group(1)) if found is not None else None
        if found is None or key is None or (found.group(3) == ", " and found.end() == len(body)):
            return None
        node.value.append(Node(SCALAR, key, line, col + 1 + at))
        node.value.append(Node(SCALAR, _quoted_string(found.group(2)), line, col + 1 + found.start(2) - 1))
        at = found.end()
    return node if node.value else None


def _quoted_string(value: str) -> str:
    return sys.intern(value) if len(value) <= _SHORT else value


def _plain_string(value: str) -> Optional[str]:
    """A plain scalar's text when YAML reads it as a string (not true, null...), else None."""
    cached = _PLAIN_CACHE.get(value, _PLAIN_CACHE)
    if cached is not _PLAIN_CACHE:
        return cached if isinstance(cached, str) else None
    # Past 5 characters a word starting with a letter is no true, null...: a string.
    if len(value) <= 5 and value[0] in _IMPLICIT \
            and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG:
        return None
    if len(value) <= _SHORT and len(_PLAIN_CACHE) < _PLAIN_CACHE_MAX:
        _PLAIN_CACHE[value] = value
    return value
