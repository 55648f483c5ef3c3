"""The replay's HTML report in a real browser: Debian's chromium, driven by playwright through its path.

The charts must render (every bar laid out with a size, one group per day and per carrier) and the
figures the page shows must be the text summary's. No browser is downloaded: CI installs Debian's
``chromium`` (.ci/run) and playwright drives it by ``executable_path``.
"""

import re
import shutil

import pytest

from fsroute.tools.cli import main

from test_replay import files  # noqa: F401  (the fixture: decks, old and new rules, a Master.csv)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_the_html_report_renders_its_charts_with_the_summarys_numbers(files, tmp_path, capsys, browser):  # noqa: F811
    path = tmp_path / "report.html"
    assert main(["replay", files("Master.csv"), "--rules", files("new.yaml"), "--against", files("old.yaml"),
                 "--tz", "UTC", "--html", str(path)]) == 0
    summary = capsys.readouterr().out.splitlines()
    page = browser.new_page()
    page.goto(path.as_uri())
    bars = page.eval_on_selector_all(
        "svg.chart rect.bar", "rects => rects.map(r => { const b = r.getBoundingClientRect(); return "
        "{chart: r.closest('svg').dataset.chart, group: r.dataset.group, measure: r.dataset.measure, "
        "value: r.dataset.value, width: b.width, height: b.height, visible: b.width > 0 && b.height > 0}; })")
    assert bars and all(bar["visible"] for bar in bars)
    by_day = [b for b in bars if b["chart"] == "by-day"]
    by_carrier = [b for b in bars if b["chart"] == "by-carrier"]
    # two days, two carriers; per group cost and margin, before and after
    assert sorted({b["group"] for b in by_day}) == ["2026-06-01", "2026-06-02"] and len(by_day) == 8
    assert sorted({b["group"] for b in by_carrier}) == ["flat", "late"] and len(by_carrier) == 8
    figures = dict(page.eval_on_selector_all("[data-figure]", "cells => cells.map(c => [c.dataset.figure, "
                                                              "c.textContent])"))
    # the page's figures are the text summary's
    [cost] = [line for line in summary if line.startswith("cost: ")]
    [margin] = [line for line in summary if line.startswith("margin: ")]
    assert cost == "cost: before %s, after %s (+0.003)" % (figures["cost-before"], figures["cost-after"])
    assert margin == "margin: before %s, after %s (-0.003)" % (figures["margin-before"], figures["margin-after"])
    assert summary[0].startswith("replayed %s calls" % figures["calls"])
    assert "route or first carrier changes: %s calls" % figures["changed"] in summary
    assert re.search(r"would not route: %s calls" % figures["unrouted"], "\n".join(summary))
    # each carrier's bars hold its line of the summary
    for carrier in ("flat", "late"):
        [line] = [l for l in summary if l.startswith("  %s: " % carrier)]
        values = {b["measure"]: b["value"] for b in by_carrier if b["group"] == carrier}
        assert "cost %s -> %s" % (values["cost before"], values["cost after"]) in line
        assert "margin %s -> %s" % (values["margin before"], values["margin after"]) in line
    # the taller bar is the larger amount: the after cost of flat (0.06) over late's after cost (0)
    height = {(b["group"], b["measure"]): b["height"] for b in by_carrier}
    assert height[("flat", "cost after")] > 10 * height[("late", "cost after")]
    assert page.inner_text("#summary").splitlines() == summary
    rows = page.eval_on_selector_all("#changes tr", "rows => rows.map(r => r.innerText)")
    assert rows[1].split("\t") == ["49", "international/late", "international/flat", "3"]
    page.close()
