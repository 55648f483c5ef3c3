"""``fsroute deck diff OLD NEW [--sell DECK]``: what a new rate deck changes, from when, and what it loses.

Both decks are read as timelines: per prefix, the price (rate, connect fee,
increments) in force over each span of time. Where the two timelines differ
the span is one change: an increase, a decrease, or other terms (fee,
increments) at the same rate, with the instant it takes effect. A change
that takes effect before the instant the diff is made at (now, or ``--at``)
re-rates calls already made: it is flagged retroactive. Prefixes only in the
new deck are new, only in the old one removed. Whether a change is an
increase or a decrease is judged by the cost of an expected call of
``seconds`` (billing.call_cost), not by the rate alone: a new connect fee or
60/60 billing at the same rate is an increase. With a sell deck, every
prefix of either deck is priced on both sides at now and at each later date
either deck names (an expected call of ``seconds``, by billing.call_cost):
those where the new deck costs more than the call sells for lose money from
that date.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

from fsroute.core.decks import FOREVER, NEVER, Deck, date_text, key_digits, rate_text
from fsroute.core.margin import money_text
from fsroute.core.tariff import Tariff, tariff_at

# Exit statuses for scripts: no difference; differences, none a risk; a risk (see RISKS).
SAME, CHANGED, RISKY = 0, 3, 4
RISKS = ("increase", "removed", "losing")  # and any retroactive change

# One span of a prefix's timeline: (start, end, Tariff, description).
Span = Tuple[int, int, Tariff, str]


class Change(NamedTuple):
    """One line of the diff."""
    kind: str                  # increase, decrease, terms, new, removed, losing
    prefix: str
    start: int                 # epoch seconds the change takes effect (NEVER: undated)
    end: int                   # until (FOREVER: open)
    old: Optional[Tariff]
    new: Optional[Tariff]
    retroactive: bool = False
    description: str = ""
    sell: Optional[Tariff] = None
    margin: Optional[int] = None  # of the expected call, with a sell deck

    def risky(self) -> bool:
        return self.kind in RISKS or self.retroactive


def timelines(deck: Deck) -> Dict[str, List[Span]]:
    """{prefix: its spans in effective_from order} of every row."""
    out: Dict[str, List[Span]] = {}
    ids = deck.description_ids
    for i, key in enumerate(deck.keys):
        description = deck.descriptions[ids[i]] if ids is not None else ""
        out.setdefault(key_digits(key), []).append((deck.starts[i], deck.ends[i], tariff_at(deck, i), description))
    return out


def _at(spans: Sequence[Span], instant: int) -> Optional[Span]:
    for span in spans:
        if span[0] <= instant < span[1]:
            return span
    return None


def _compare(prefix: str, old: Sequence[Span], new: Sequence[Span], now: int, seconds: int) -> Iterator[Change]:
    """The changes between two timelines of one prefix, consecutive equal ones merged."""
    bounds = sorted({s[0] for s in old} | {s[1] for s in old} | {s[0] for s in new} | {s[1] for s in new})
    pending: Optional[Change] = None
    for start, end in zip(bounds, bounds[1:]):
        before, after = _at(old, start), _at(new, start)
        was, now_is = before[2] if before else None, after[2] if after else None
        if was == now_is or (now_is is None and end <= now):  # the new deck need not repeat the past
            if pending is not None:
                yield pending
                pending = None
            continue
        if pending is not None and (pending.old, pending.new) == (was, now_is) and pending.end == start:
            pending = pending._replace(end=end)
            continue
        if pending is not None:
            yield pending
        described = after or before
        pending = Change(_kind(was, now_is, seconds), prefix, start, end, was, now_is,
                         retroactive=NEVER < start < now and now_is is not None,
                         description=described[3] if described is not None else "")
    if pending is not None:
        yield pending


def _kind(old: Optional[Tariff], new: Optional[Tariff], seconds: int) -> str:
    if old is None:
        return "new"
    if new is None:
        return "removed"
    before, after = old.cost(seconds), new.cost(seconds)
    if before != after:
        return "increase" if after > before else "decrease"
    return "terms"  # the same expected call cost by other terms


def diff(old: Deck, new: Deck, now: int, sell: Optional[Deck] = None, seconds: int = 180) -> List[Change]:
    """Every Change from ``old`` to ``new`` (by prefix, then date), then the losing prefixes with ``sell``."""
    before, after = timelines(old), timelines(new)
    changes: List[Change] = []
    for prefix in sorted(set(before) | set(after)):
        changes.extend(_compare(prefix, before.get(prefix, ()), after.get(prefix, ()), now, seconds))
    if sell is not None:
        changes.extend(losing(new, sell, now, seconds, set(after) | {key_digits(key) for key in sell.keys}))
    return changes


def losing(new: Deck, sell: Deck, now: int, seconds: int, prefixes: Set[str]) -> Iterator[Change]:
    """Per prefix, the first instant (now, or a later date either deck names) at which a call of
    ``seconds`` costs more at ``new`` than it sells for at ``sell``."""
    dates = {now} | {d for deck in (new, sell) for column in (deck.starts, deck.ends) for d in column
                     if now < d < FOREVER}
    instants = sorted(dates)
    for prefix in sorted(prefixes):
        for instant in instants:
            buy_row, sell_row = new.find(prefix, instant), sell.find(prefix, instant)
            if buy_row < 0 or sell_row < 0:
                continue
            buy, price = tariff_at(new, buy_row), tariff_at(sell, sell_row)
            margin = price.cost(seconds) - buy.cost(seconds)
            if margin < 0:
                if instant == now:  # losing already: since the later of the two rows' dates
                    instant = max(new.starts[buy_row], sell.starts[sell_row])
                yield Change("losing", prefix, instant, new.ends[buy_row], None, buy, sell=price, margin=margin,
                             description=new.row(buy_row).description)
                break


def status(changes: Sequence[Change]) -> int:
    """The exit status: SAME, CHANGED or RISKY."""
    if not changes:
        return SAME
    return RISKY if any(change.risky() for change in changes) else CHANGED


FIELDS = ("kind", "prefix", "from", "to", "old_rate", "new_rate", "change", "change_percent", "retroactive",
          "old_terms", "new_terms", "old_cost", "new_cost", "sell_rate", "margin", "description")


def record(change: Change, seconds: int) -> Dict[str, str]:
    """A Change as flat text fields (CSV columns, JSON keys)."""
    old, new = change.old, change.new
    delta = new.rate - old.rate if old is not None and new is not None else None
    percent = "%.1f" % (100.0 * delta / old.rate) if delta is not None and old is not None and old.rate else ""
    return {"kind": change.kind, "prefix": change.prefix,
            "from": date_text(change.start) if change.start != NEVER else "always",
            "to": date_text(change.end) if change.end != FOREVER else "",
            "old_rate": rate_text(old.rate) if old else "", "new_rate": rate_text(new.rate) if new else "",
            "change": money_text(delta) if delta is not None else "", "change_percent": percent,
            "retroactive": "yes" if change.retroactive else "",
            "old_terms": _terms(old), "new_terms": _terms(new),
            "old_cost": rate_text(old.cost(seconds)) if old else "", "new_cost": rate_text(new.cost(seconds)) if new else "",
            "sell_rate": rate_text(change.sell.rate) if change.sell else "",
            "margin": money_text(change.margin) if change.margin is not None else "",
            "description": change.description}


def _terms(tariff: Optional[Tariff]) -> str:
    if tariff is None:
        return ""
    return "fee %s, %d/%d" % (rate_text(tariff.connect_fee), tariff.increments[0], tariff.increments[1])


def render(changes: Sequence[Change], form: str, seconds: int, now: int) -> str:
    """The diff as ``text``, ``csv`` or ``json``."""
    rows = [record(change, seconds) for change in changes]
    if form == "json":
        return json.dumps({"at": date_text(now), "seconds": seconds, "changes": rows,
                           "counts": _counts(changes), "status": status(changes)}, indent=2) + "\n"
    if form == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    return _text(changes, rows, seconds, now)


def _counts(changes: Sequence[Change]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for change in changes:
        counts[change.kind] = counts.get(change.kind, 0) + 1
        if change.retroactive:
            counts["retroactive"] = counts.get("retroactive", 0) + 1
    return counts


def _text(changes: Sequence[Change], rows: Sequence[Dict[str, str]], seconds: int, now: int) -> str:
    lines = ["deck diff at %s: %s" % (date_text(now), ", ".join("%d %s" % (n, kind) for kind, n in
                                                                 sorted(_counts(changes).items())) or "no changes")]
    for change, row in zip(changes, rows):
        when = "from %s" % row["from"] if change.start != NEVER else "undated (in force now)"
        until = " until %s" % row["to"] if row["to"] else ""
        flag = "  RETROACTIVE: re-rates calls already made" if change.retroactive else ""
        if change.kind in ("increase", "decrease"):
            what = "%s -> %s/min (%s, %s%%)%s; a %d s call %s -> %s" % (
                row["old_rate"], row["new_rate"], row["change"], row["change_percent"] or "-",
                ", %s -> %s" % (row["old_terms"], row["new_terms"]) if row["old_terms"] != row["new_terms"] else "",
                seconds, row["old_cost"], row["new_cost"])
        elif change.kind == "terms":
            what = "%s: %s -> %s" % (row["new_rate"], row["old_terms"], row["new_terms"])
        elif change.kind == "new":
            what = "%s (%s)" % (row["new_rate"], row["new_terms"])
        elif change.kind == "removed":
            what = "was %s" % row["old_rate"]
        else:
            assert change.sell is not None  # losing lines have a sell price
            what = "buys at %s, sells at %s: a %d s call loses %s" % (
                row["new_rate"], row["sell_rate"], seconds, money_text(-(change.margin or 0)))
        lines.append("%-9s %-15s %s  %s%s%s%s" % (change.kind, change.prefix, what, when, until, flag,
                                                   "  [%s]" % change.description if change.description else ""))
    return "\n".join(lines) + "\n"
