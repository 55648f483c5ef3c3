"""The call's log line: one greppable line per call, with its uuid, at INFO (ERROR for a crash)."""

from __future__ import annotations

from typing import Optional

from fsroute.core.decks import rate_text
from fsroute.core.model import Outcome
from .fslog import ERROR, INFO, log
from .record import CallRecord


def write(record: CallRecord) -> None:
    """An observer: the record's line into FreeSWITCH's log."""
    if record.result is Outcome.ERROR:
        log(ERROR, "fsroute uuid=%s result=error %s" % (record.uuid, record.detail))
        return
    log(INFO, text(record))


def text(record: CallRecord) -> str:
    tried = ",".join(["%s:%s" % (a.gateway, a.cause) for a in record.attempts]) or "-"
    if record.skipped:
        tried += " skipped=" + ",".join(["%s:%s" % s for s in record.skipped])
    lcr = ""
    if record.attempts and record.attempts[-1].dial.carrier is not None:
        last = record.attempts[-1].dial
        lcr = " lcr=%s:%s:%s" % (last.carrier, last.prefix, rate_text(last.rate))
    return ("fsroute uuid=%s result=%s route=%s number=%s tried=%s hangup=%s sha=%s%s ms=%.2f%s"
            % (record.uuid, record.result._value_, _quote(record.route), record.number or "-", tried,
               record.hangup_cause or "-", record.sha or "-", lcr, record.seconds * 1000.0,
               " (%s)" % record.detail if record.detail else ""))


def _quote(name: Optional[str]) -> str:
    """A route name for the log line (names are one printable line without '"': rules.py)."""
    if name is None:
        return "-"
    return '"%s"' % name if " " in name else name
