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

    def __init__(self, kind: str, value: Any, mark: Any) -> None:
        self.kind = kind
        self.value = value
        self.line = mark.line + 1
        self.col = mark.column + 1

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


def _typed(event: Any) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    kind = tag.rsplit(":", 1)[-1]
    if kind == "int" and len(event.value) > MAX_INT_CHARS:
        raise YamlProblem(node.start_mark.line + 1, node.start_mark.column + 1,
                          "cannot read this number: longer than %d characters" % MAX_INT_CHARS)
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


def parse(text: str, fold: Optional[Tuple[str, Callable[[Node], object]]] = None) -> Optional[Node]:
    """Return the root Node of ``text`` (str), or None for an empty document.

    ``fold`` = (key, function): each item of the list under the top-level
    ``key`` is replaced by ``function(item node)`` as soon as the item is
    complete, so its nodes can be freed at once instead of living until the
    whole file is read (a rules file's routes are most of its nodes).

    Raises YamlProblem for bad syntax, several documents, too deep nesting,
    unknown or self-referencing aliases and aliases that expand too much.
    """
    fold_key, fold_item = fold if fold is not None else (None, _unfolded)
    anchors: Dict[str, Node] = {}       # anchor -> node
    sizes: Dict[int, int] = {}         # id(anchored container) -> nodes in it, aliases expanded
    stack: List[List[Any]] = []  # open containers: [node, nodes in it so far, its anchor, whether its items fold]
    root: Optional[Node] = None
    node: Optional[Node]
    documents = 0
    aliased = 0        # nodes added by aliases so far (expanded)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            cls = event.__class__
            size = 1
            if cls is yaml.ScalarEvent:
                node = Node(SCALAR, _scalar_value(event), event.start_mark)
            elif cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                node = Node(MAP if cls is yaml.MappingStartEvent else SEQ, [], event.start_mark)
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
    return root


def _unfolded(node: Node) -> object:
    return node


def _pending_key(mapping: Node) -> Optional[str]:
    """The key whose value comes next in an open mapping, or None (a scalar key only)."""
    if mapping.kind != MAP or len(mapping.value) % 2 == 0:
        return None
    key: Node = mapping.value[-1]
    return key.value if key.kind == SCALAR and isinstance(key.value, str) else None
