"""The replay's single-file HTML report: the text summary, its key figures, and charts as inline SVG.

No script, no stylesheet or font from elsewhere: the file is read anywhere, mailed, archived. Charts:
cost and margin by day, and by carrier (before and after, grouped bars, negative margins below the
axis); the changed routes table. Every figure is also in the text summary, word for word.
"""

from __future__ import annotations

import html as escaping
from typing import Dict, List, Optional, Sequence, Tuple

from fsroute.core.margin import money_text
from .replay import Report, Side, Totals, target_text

WIDTH, HEIGHT, PAD = 760, 260, 48
COLOURS = {"cost before": "#9db4d0", "cost after": "#1f5fa8", "margin before": "#b9dcb0", "margin after": "#2e8b2e"}


def html(report: Report, summary: Sequence[str]) -> str:
    """The whole report as one HTML document; ``summary`` is the text summary (replay.text)."""
    sides = [side for side in (report.before, report.after) if side is not None]
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<title>fsroute replay: %s</title>" % _e(report.source), "<style>%s</style></head><body>" % _STYLE,
             "<h1>fsroute replay of %s</h1>" % _e(report.source), _figures(report),
             "<h2>Cost and margin by day</h2>", _chart("by-day", _series(sides, "by_day")),
             "<h2>Cost and margin by carrier</h2>", _chart("by-carrier", _series(sides, "by_carrier")),
             "<h2>Changed routes</h2>", _changes(report),
             "<h2>Summary</h2><pre id='summary'>%s</pre>" % _e("\n".join(summary)), "</body></html>"]
    return "\n".join(parts) + "\n"


_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}"
          "td:first-child{text-align:left}svg{border:1px solid #ddd}pre{background:#f6f6f6;padding:1em}")


def _e(value: object) -> str:
    return escaping.escape(str(value), quote=True)


def _figures(report: Report) -> str:
    """The key figures, each marked with data-figure (the text summary has each of them too)."""
    rows = [("calls", str(report.calls)), ("changed", str(report.changed)), ("unrouted", str(report.unrouted))]
    for side, label in ((report.before, "before"), (report.after, "after")):
        if side is not None:
            rows += [("cost-%s" % label, money_text(side.total.cost)), ("revenue-%s" % label,
                     money_text(side.total.revenue)), ("margin-%s" % label, money_text(side.total.margin))]
    cells = "".join("<tr><th>%s</th><td data-figure='%s'>%s</td></tr>" % (_e(name.replace("-", " ")), _e(name),
                                                                           _e(value)) for name, value in rows)
    return "<table id='figures'>%s</table>" % cells


Series = List[Tuple[str, str, float]]  # (group: a day or a carrier, measure, value in money units)


def _series(sides: Sequence[Side], attribute: str) -> Series:
    out: Series = []
    groups = sorted({key for side in sides for key in getattr(side, attribute)})
    for group in groups:
        for side in sides:
            label = "after" if side is sides[-1] else "before"
            totals: Optional[Totals] = getattr(side, attribute).get(group)
            cost, margin = (totals.cost, totals.margin) if totals is not None else (0, 0)
            out.append((group, "cost " + label, cost / 1e6))
            out.append((group, "margin " + label, margin / 1e6))
    return out


def _chart(name: str, series: Series) -> str:
    """Grouped bars: one group per day or carrier, one bar per measure; zero line where 0 is."""
    if not series:
        return "<p class='empty' data-chart='%s'>no calls</p>" % name
    groups: Dict[str, List[Tuple[str, float]]] = {}
    for group, measure, value in series:
        groups.setdefault(group, []).append((measure, value))
    top = max(0.0, max(v for _, _, v in series))
    bottom = min(0.0, min(v for _, _, v in series))
    span = (top - bottom) or 1.0
    plot = HEIGHT - 2 * PAD

    def y(value: float) -> float:
        return PAD + (top - value) / span * plot

    slot = (WIDTH - 2 * PAD) / len(groups)
    per = max(len(bars) for bars in groups.values())
    width = max(1.0, slot * 0.8 / per)
    shapes = ["<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#333'/>" % (PAD, WIDTH - PAD, y(0), y(0)),
              "<text x='4' y='%.1f' font-size='10'>%s</text>" % (y(top) + 4, _e(_amount(top))),
              "<text x='4' y='%.1f' font-size='10'>%s</text>" % (y(bottom) + 4, _e(_amount(bottom)))]
    for index, (group, bars) in enumerate(groups.items()):
        left = PAD + index * slot + slot * 0.1
        for place, (measure, value) in enumerate(bars):
            high, low = y(max(value, 0.0)), y(min(value, 0.0))
            shapes.append("<rect class='bar' data-group='%s' data-measure='%s' data-value='%s' x='%.1f' y='%.1f' "
                          "width='%.1f' height='%.1f' fill='%s'><title>%s %s: %s</title></rect>" % (
                              _e(group), _e(measure), _e(_amount(value)), left + place * width, high, width,
                              max(low - high, 1.0), COLOURS[measure], _e(group), _e(measure), _e(_amount(value))))
        shapes.append("<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%s</text>" % (
            left + slot * 0.4, HEIGHT - PAD + 14, _e(group[:14])))
    legend = "".join("<tspan fill='%s'>&#9632; %s </tspan>" % (colour, _e(measure))
                     for measure, colour in COLOURS.items() if any(m == measure for _, m, _ in series))
    shapes.append("<text x='%d' y='16' font-size='11'>%s</text>" % (PAD, legend))
    return ("<svg class='chart' data-chart='%s' width='%d' height='%d' "
            "viewBox='0 0 %d %d'>%s</svg>" % (name, WIDTH, HEIGHT, WIDTH, HEIGHT, "".join(shapes)))


def _amount(value: float) -> str:
    return money_text(round(value * 1e6))


def _changes(report: Report) -> str:
    if not report.changes:
        return "<p id='changes'>no call changes its route or first carrier</p>"
    rows = "".join("<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>" % (
        _e(destination), _e(target_text(was_route, was_carrier)), _e(target_text(route, carrier)), count)
        for (destination, was_route, was_carrier, route, carrier), count in sorted(
            report.changes.items(), key=lambda item: (-item[1], item[0])))
    return ("<table id='changes'><tr><th>destination</th><th>before</th><th>after</th><th>calls</th></tr>%s</table>"
            % rows)

