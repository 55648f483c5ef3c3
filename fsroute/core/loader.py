"""Reading a rules file: bytes -> text -> YAML node tree -> RuleSet, every problem as file:line:col.

Nothing here touches FreeSWITCH; ``load`` is the one place that opens the file.
"""

import contextlib
import gc
import hashlib
import threading

from . import yamltree
from .grammar import Builder
from .model import Problem, RulesError
from .text import one_line

MAX_FILE_BYTES = 32 * 1024 * 1024


def load(path):
    """Read and parse the rules file at ``path``; raises RulesError (also for I/O problems)."""
    return parse(read(path), str(path))


def read(path):
    """The rules file's bytes (at most one byte over the size limit); raises RulesError at line 0."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RulesError([Problem(str(path), 0, 0, "cannot read the rules file: %s" % (exc.strerror or exc))])
    except ValueError as exc:  # a path with a NUL byte
        raise RulesError([Problem(str(path), 0, 0, "cannot read the rules file: %s" % exc)])


def parse(data, filename="<rules>"):
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
    with _gc_paused():
        try:
            root = yamltree.parse(text)
        except yamltree.YamlProblem as exc:
            raise RulesError([Problem(filename, exc.line, exc.col, one_line(_explained(exc, text), 400))])
        return Builder(filename).build(root, sha256)


def _explained(problem, text):
    """PyYAML's message, or what to do when the line it points at is indented with a tab."""
    lines = text.split("\n", problem.line)
    line = lines[problem.line - 1] if 0 < problem.line <= len(lines) else ""
    if "\t" in line[:len(line) - len(line.lstrip())]:
        return "YAML does not allow tabs for indentation; use spaces"
    return problem.message


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic GC while a tree is built (FreeSWITCH's whole interpreter, for seconds).

    The tree holds about ten objects per route, none of them in cycles: the
    collector would rescan it over and over (about 40% of a 100,000-route
    load) for nothing. Concurrent loads share one pause; the last one out
    puts back what was there before the first.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
