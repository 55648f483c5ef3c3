"""Reading a rules file: bytes -> text -> YAML node tree -> RuleSet (compiled), every problem as file:line:col.

Nothing here touches FreeSWITCH; ``load`` is the one place that opens the file.
"""

from __future__ import annotations

import hashlib
import os
from typing import Union

from . import yamltree
from .collector import young_collections_only
from .compiler import compile_rules
from .grammar import Builder
from .model import Problem, RuleSet, RulesError
from .reading import RereadForReport
from .text import one_line

MAX_FILE_BYTES = 32 * 1024 * 1024


def load(path: Union[str, "os.PathLike[str]"]) -> RuleSet:
    """Read and parse the rules file at ``path``; raises RulesError (also for I/O problems)."""
    return parse(read(path), str(path))


def read(path: Union[str, "os.PathLike[str]"]) -> bytes:
    """The rules file's bytes (at most one byte over the size limit); raises RulesError at line 0."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RulesError([Problem(str(path), 0, 0, "cannot read the rules file: %s" % (exc.strerror or exc))])
    except ValueError as exc:  # a path with a NUL byte
        raise RulesError([Problem(str(path), 0, 0, "cannot read the rules file: %s" % exc)])


def parse(data: Union[bytes, str], filename: str = "<rules>") -> RuleSet:
    """Parse rules from ``data`` (bytes or str); ``filename`` names it in problems."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_FILE_BYTES:
        raise RulesError([Problem(filename, 1, 1, "the file is larger than %d MiB; refusing to read it"
                                  % (MAX_FILE_BYTES // (1024 * 1024)))])
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RulesError([Problem(filename, line, col, "the file is not UTF-8 (byte 0x%02x)"
                                  % data[exc.start])])
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        raise RulesError([Problem(filename, line, offset - text.rfind("\n", 0, offset), "NUL byte in the file")])
    try:
        with young_collections_only():
            return compile_rules(_build(text, filename, sha256))
    except yamltree.YamlProblem as exc:
        raise RulesError([Problem(filename, exc.line, exc.col, one_line(_explained(exc, text), 400))])


def _build(text: str, filename: str, sha256: str) -> RuleSet:
    """Build each route as soon as it is read, so the node tree of the routes never exists whole.

    At 100,000 routes that tree is about a million objects: building it
    first cost three times the memory the rules keep, much of it never
    given back, and the cyclic GC rescanned it again and again. A file with
    problems is read a second time the plain way, for the full report.
    """
    builder = Builder(filename)
    try:
        root = yamltree.parse(text, fold=("routes", builder.fold_route))
        return builder.build(root, sha256, folded=True)
    except RereadForReport:
        return Builder(filename).build(yamltree.parse(text), sha256)


def _explained(problem: yamltree.YamlProblem, text: str) -> str:
    """PyYAML's message, or what to do when the line it points at is indented with a tab."""
    lines = text.split("\n", problem.line)
    line = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    if "\t" in line[:len(line) - len(line.lstrip())]:
        return "YAML does not allow tabs for indentation; use spaces"
    return problem.message
