"""Who is told of a finished call: the observers of a generation's call records.

Every call: the log line and the generation's counters (``ctl status``).
Calls of an observed generation (the switch's, not a tool's private one):
the metrics, and the ``fsroute::route`` event unless ``defaults.events`` is
false. A traced call: the trace too. A new observer is one more entry here.
"""

from __future__ import annotations

from functools import partial
from typing import Optional, Tuple

from . import events, fraud, logline, metrics, trace
from .generation import Generation
from .record import Observer

_WITHOUT_RULES: Tuple[Observer, ...] = (logline.write, metrics.record_call, events.route)


def of(generation: Optional[Generation], traced: bool) -> Tuple[Observer, ...]:
    """The observers of a call routed with ``generation`` (None: no rules could be loaded)."""
    found = _WITHOUT_RULES
    if generation is not None:
        found = generation.observers or _of_generation(generation)
        generation.observers = found
    return found + (trace.write,) if traced else found


def _of_generation(generation: Generation) -> Tuple[Observer, ...]:
    found: Tuple[Observer, ...] = (logline.write, generation.tally.observe)
    if generation.quality is not None:
        found += (partial(generation.quality.observe, table_of=generation.table_of),)  # classes from its tables
    if generation.rules.fraud:
        found += (fraud.ended,)  # also a tool's calls: a simulation counts them
    if generation.observed:
        found += (metrics.record_call,)
        if generation.rules.defaults.events:
            found += (events.route,)
    return found
