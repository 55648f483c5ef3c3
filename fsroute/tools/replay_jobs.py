"""Replaying a large Master.csv in several processes (``fsroute replay --jobs N``).

The file is split into N parts at line ends (mod_cdr_csv writes one call per line); each part is
replayed by a forked worker that starts with the rules and decks already loaded (the parent's
memory, shared until written), and the calls each part gathered are merged and priced once. The
decision walk is the same one; only the CPUs are more.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import time
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

from . import cdrs
from .replay import Part, Replayer, Report, replay

# What the forked workers read: set by replay_in_parts just before the fork, never sent through a pipe.
_JOB: Optional[Tuple[str, str, Optional[datetime.tzinfo], Replayer, Optional[Replayer],
                     Callable[[Iterable[cdrs.Cdr]], Iterable[cdrs.Cdr]]]] = None


def parts(path: str, count: int) -> List[Tuple[int, int, int]]:
    """(start byte, end byte, first line number) of ``count`` parts of the file, split at line ends."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as handle:
        for index in range(1, count):
            handle.seek(max(size * index // count, bounds[-1]))
            handle.readline()  # to the end of the line the cut falls in
            bounds.append(min(handle.tell(), size))
        bounds.append(size)
        out = []
        line = 1
        for start, end in zip(bounds, bounds[1:]):
            out.append((start, end, line))
            handle.seek(start)
            line += handle.read(end - start).count(b"\n")
    return [part for part in out if part[1] > part[0]]


def _lines(path: str, start: int, end: int) -> Iterator[str]:
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    return iter(data.decode("utf-8", "replace").splitlines(True))


def _work(part: Tuple[int, int, int]) -> Part:
    assert _JOB is not None  # set before the fork
    path, template, tz, new, against, edit = _JOB
    start, end, line = part
    calls = edit(cdrs.read_lines(_lines(path, start, end), template, tz, path, line))
    return replay(calls, new, against, path, tz, finish=False).gathered()


def replay_in_parts(path: str, template: str, tz: Optional[datetime.tzinfo], new: Replayer,
                    against: Optional[Replayer], jobs: int, edit: Callable[[Iterable[cdrs.Cdr]], Iterable[cdrs.Cdr]],
                    done: Callable[[int, int], Any] = lambda finished, of: None) -> Report:
    """The Report of the Master.csv at ``path`` replayed by ``jobs`` processes; ``edit`` changes each part's
    calls as the one-process replay would (--var, --shift); ``done(finished, of)`` is told as parts end."""
    global _JOB
    _JOB = (path, template, tz, new, against, edit)
    began = time.perf_counter()
    report = Report(path, new.path, against.path if against is not None else None)
    pieces = parts(path, jobs)
    try:
        with multiprocessing.get_context("fork").Pool(len(pieces)) as pool:
            for finished, part in enumerate(pool.imap_unordered(_work, pieces), 1):
                report.absorb(part)
                done(finished, len(pieces))
    finally:
        _JOB = None
    report.finish()
    report.seconds = time.perf_counter() - began
    return report
