"""Whether every string one route regex matches is also matched by another (``fsroute check``).

Routes are searched (``re.search``) with the flags of patterns.FLAGS. A
pattern of the shapes routes use -- literals, ``.``, ``\\d \\w \\s`` and
their negations, classes, groups, alternation, quantifiers, ``^`` first and
``$`` last -- becomes a small automaton over a finite alphabet; inclusion is
decided exactly by walking both automata together. Anything else (look-
arounds, back-references, anchors elsewhere, inline flags, an automaton too
big to walk) gives None or UNKNOWN, "cannot tell", and a caller must then
assume nothing: a warning built on this is never false.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

from .patterns import FLAGS

OTHER = "\x80"  # stands for every non-ASCII character: no pattern of these shapes tells them apart
ANY = frozenset(chr(c) for c in range(128)) | {OTHER}   # what a channel variable may hold
PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7f))  # what a routed destination may hold (router)
MAX_STATES = 2000   # automaton states of one pattern (quantifiers are unrolled)
MAX_STEPS = 20000   # pairs of state sets walked in one search

_DIGITS = frozenset("0123456789")
_WORD = _DIGITS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_SPACE = frozenset(" \t\n\r\f\v")
_CLASSES = {"d": _DIGITS, "w": _WORD, "s": _SPACE}
_SPECIAL = frozenset(".^$*+?{}[]()|\\")

# A parsed pattern: ("set", characters), ("cat", nodes), ("alt", nodes) or ("rep", node, min, max or None).
_Node = Tuple[Any, ...]


class _Unsupported(Exception):
    """The pattern is outside the shapes this module reads."""


class _Parser:
    """Recursive descent over one pattern, into _Node; characters are sets within ``universe``."""

    def __init__(self, pattern: str, universe: FrozenSet[str]) -> None:
        self.text = pattern
        self.universe = universe
        self.at = 0
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def alternatives(self) -> _Node:
        options = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else ("alt", tuple(options))

    def sequence(self) -> _Node:
        items: List[_Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("cat", tuple(items))

    def atom(self) -> _Node:
        c = self.peek()
        self.at += 1
        if c == "(":
            if self.text.startswith("?:", self.at):
                self.at += 2
            elif self.peek() == "?":
                raise _Unsupported("a group with options")
            self.depth += 1
            if self.depth > 20:
                raise _Unsupported("groups nested too deep")
            inner = self.alternatives()
            if self.peek() != ")":
                raise _Unsupported("an unclosed group")
            self.at += 1
            self.depth -= 1
            return inner
        if c == "[":
            return ("set", self.char_class())
        if c == ".":
            return ("set", self.universe - {"\n"})
        if c == "\\":
            return ("set", self.escape() & self.universe)
        if c in _SPECIAL or not c.isascii():
            raise _Unsupported("%r here" % c)  # anchors inside, a stray quantifier, non-ASCII
        return ("set", frozenset(c) & self.universe)

    def escape(self) -> FrozenSet[str]:
        c = self.peek()
        self.at += 1
        if c.lower() in _CLASSES:
            chars = _CLASSES[c.lower()]
            return chars if c.islower() else self.universe - chars
        if c and c.isascii() and not c.isalnum():
            return frozenset(c)
        raise _Unsupported("escape \\%s" % c)

    def char_class(self) -> FrozenSet[str]:
        negated = self.peek() == "^"
        self.at += negated
        chars: Set[str] = set()
        first = True
        while True:
            c = self.peek()
            if c == "" or c == "[":
                raise _Unsupported("a class of this shape")
            self.at += 1
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                chars |= self.escape()
                continue
            if self.peek() == "-" and self.text[self.at + 1:self.at + 2] not in ("", "]"):
                end = self.text[self.at + 1]
                if end in "\\[" or end < c or not end.isascii():
                    raise _Unsupported("a range of this shape")
                chars |= {chr(o) for o in range(ord(c), ord(end) + 1)}
                self.at += 2
            elif c.isascii():
                chars.add(c)
            else:
                raise _Unsupported("non-ASCII in a class")
        found = frozenset(chars) & self.universe
        return self.universe - found if negated else found

    def quantified(self, node: _Node) -> _Node:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.at += 1
            node = ("rep", node, 1 if c == "+" else 0, 1 if c == "?" else None)
        elif c == "{":
            close = self.text.find("}", self.at)
            low, comma, high = self.text[self.at + 1:close].partition(",")
            if close < 0 or not low.isdigit() or not (high.isdigit() or not high):
                raise _Unsupported("braces that are not a repeat")
            self.at = close + 1
            node = ("rep", node, int(low), None if comma and not high else int(high or low))
            if node[3] is not None and node[3] < node[2]:
                raise _Unsupported("a repeat whose maximum is below its minimum")
        else:
            return node
        if self.peek() == "?":
            self.at += 1  # lazy: the same strings match
        if self.peek() in ("*", "+", "?", "{"):
            raise _Unsupported("a repeated repeat")
        return node


class Automaton:
    """A pattern's search as a non-deterministic automaton: ``edges[s]`` = [(characters, next state)],
    ``empty[s]`` = states reached without reading; ``accepting`` ends a string that the pattern matches."""

    def __init__(self) -> None:
        self.edges: List[List[Tuple[FrozenSet[str], int]]] = []
        self.empty: List[List[int]] = []
        self.accepting: Set[int] = set()
        self.sets: Set[FrozenSet[str]] = set()
        self._steps: Dict[Tuple[FrozenSet[int], str], FrozenSet[int]] = {}  # step's answers, kept

    def state(self) -> int:
        if len(self.edges) >= MAX_STATES:
            raise _Unsupported("too many states")
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def read(self, source: int, chars: FrozenSet[str], target: int) -> None:
        if chars:
            self.edges[source].append((chars, target))
            self.sets.add(chars)

    def build(self, node: _Node, start: int) -> int:
        """States for ``node`` from ``start``; its end state."""
        kind = node[0]
        if kind == "set":
            end = self.state()
            self.read(start, node[1], end)
            return end
        if kind == "cat":
            for part in node[1]:
                start = self.build(part, start)
            return start
        if kind == "alt":
            end = self.state()
            for part in node[1]:
                self.empty[self.build(part, start)].append(end)
            return end
        _, inner, low, high = node
        for _ in range(low):
            start = self.build(inner, start)
        if high is None:
            loop = self.state()
            self.empty[start].append(loop)
            self.empty[self.build(inner, loop)].append(loop)
            return loop
        end = self.state()
        self.empty[start].append(end)
        for _ in range(high - low):
            start = self.build(inner, start)
            self.empty[start].append(end)
        return end

    def closure(self, states: Iterable[int]) -> FrozenSet[int]:
        seen = set(states)
        todo = list(seen)
        while todo:
            for nxt in self.empty[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def step(self, states: FrozenSet[int], char: str) -> FrozenSet[int]:
        """The states after reading ``char`` in ``states``."""
        key = (states, char)
        found = self._steps.get(key)
        if found is None:
            found = self._steps[key] = self.closure(
                target for s in states for chars, target in self.edges[s] if char in chars)
        return found

    def may_start(self, text: str) -> bool:
        """False when no string that starts with ``text`` matches."""
        states = self.closure([0])
        for char in text:
            states = self.step(states, char)
            if not states:
                return False
        return True


def automaton(pattern: Optional[str], universe: FrozenSet[str], flags: int = FLAGS) -> Optional[Automaton]:
    """The search of ``pattern`` (None: matches everything) over strings of ``universe``, or None when
    the pattern is not of the shapes read here."""
    if pattern is None:
        pattern = ""
    if flags & ~FLAGS:
        return None
    body = pattern[1:] if pattern.startswith("^") else pattern
    escapes = len(body[:-1]) - len(body[:-1].rstrip("\\"))
    anchored_end = body.endswith("$") and escapes % 2 == 0  # not an escaped '$'
    body = body[:-1] if anchored_end else body
    machine = Automaton()
    try:
        parser = _Parser(body, universe)
        node = parser.alternatives()
        if parser.at != len(body):
            raise _Unsupported("an unbalanced ')'")
        if (pattern.startswith("^") or anchored_end) and node[0] == "alt":
            raise _Unsupported("an anchor outside an alternation")  # ^a|b is (^a)|b
        start = machine.state()
        if not pattern.startswith("^"):
            machine.read(start, universe, start)  # the match may start anywhere
        end = machine.build(node, start)
        machine.accepting.add(end)
        if anchored_end:
            if "\n" in universe:  # $ also matches before a last newline
                last = machine.state()
                machine.read(end, frozenset("\n"), last)
                machine.accepting.add(last)
        else:
            machine.read(end, universe, end)  # anything may follow the match
    except _Unsupported:
        return None
    return machine


UNKNOWN = "unknown"  # what ``example`` gives when the walk would be too long


def example(first: Automaton, second: Automaton, universe: FrozenSet[str], in_second: bool
            ) -> Optional[str]:
    """A shortest string of ``universe`` that ``first`` matches and ``second`` matches (``in_second``)
    or does not; None when there is none; UNKNOWN when the walk would be too long."""
    representatives = _alphabet(universe, frozenset(first.sets | second.sets))
    start = (first.closure([0]), second.closure([0]))
    found: Dict[Tuple[FrozenSet[int], FrozenSet[int]], str] = {start: ""}  # each pair: the string reaching it
    level = [start]
    while level:
        following = []
        for pair in level:
            mine, theirs = pair
            if not first.accepting.isdisjoint(mine) and second.accepting.isdisjoint(theirs) != in_second:
                return found[pair]
            for char in representatives:
                nxt = (first.step(mine, char), second.step(theirs, char))
                if nxt[0] and nxt not in found:
                    if len(found) >= MAX_STEPS:
                        return UNKNOWN
                    found[nxt] = found[pair] + char
                    following.append(nxt)
        level = following
    return None


_ALPHABETS: Dict[FrozenSet[FrozenSet[str]], Sequence[str]] = {}  # a few sets recur in every route


def _alphabet(universe: FrozenSet[str], sets: FrozenSet[FrozenSet[str]]) -> Sequence[str]:
    """One character per class of characters that no set tells apart (``sets`` lie within ``universe``)."""
    key = sets | {universe}
    found = _ALPHABETS.get(key)
    if found is None:
        chosen = list(sets)
        classes: Dict[Tuple[bool, ...], str] = {}
        for char in sorted(universe):
            classes.setdefault(tuple(char in chars for chars in chosen), char)
        found = list(classes.values())
        if len(_ALPHABETS) < 4096:
            _ALPHABETS[key] = found
    return found
