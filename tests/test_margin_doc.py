"""docs/margin.md's worked example runs as written: each `$ fsroute ...` prints what the page shows."""

import re
import shlex
from pathlib import Path

from fsroute.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "margin.md"
EXAMPLE = ROOT / "examples" / "margin"


def sessions():
    """[(argv, expected output)] of the example's shell blocks, in order."""
    example = DOC.read_text().split("## A worked example", 1)[1]
    found = []
    for kind, block in re.findall(r"^```(\w*)\n(.*?)^```$", example, re.S | re.M):
        if kind:
            continue
        for command in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, output = command.partition("\n")
            found.append((shlex.split(line), output))
    return found


def test_the_worked_example_prints_what_the_page_shows(monkeypatch, capsys):
    monkeypatch.chdir(EXAMPLE)
    runs = sessions()
    assert [argv[:2] for argv, _ in runs] == [["fsroute", "deck"], ["fsroute", "replay"], ["fsroute", "lcr"],
                                           ["fsroute", "replay"]]
    statuses = []
    for argv, output in runs:
        statuses.append(main(argv[1:]))
        assert capsys.readouterr().out == output, " ".join(argv)
    assert statuses == [4, 0, 0, 0]


def test_the_pages_rules_are_the_examples():
    example = DOC.read_text().split("## A worked example", 1)[1]
    first, fix = re.findall(r"^```yaml\n(.*?)^```$", example, re.S | re.M)
    assert first in (EXAMPLE / "rules.yaml").read_text()
    assert fix in (EXAMPLE / "rules-fixed.yaml").read_text()
    assert (EXAMPLE / "rules-2026-12.yaml").read_text() == (EXAMPLE / "rules.yaml").read_text().replace(
        "decks/carrier_b.csv", "decks/carrier_b-2026-12.csv")


def test_the_explanation_shown_is_what_simulate_says(monkeypatch):
    from fsroute.tools.simulate import simulate

    section = DOC.read_text().split("## Sell decks", 1)[1].split("## What a call leaves behind", 1)[0]
    command = re.search(r"`(fsroute simulate [^`]*)`", section).group(1).split()
    assert command[2:4] == ["examples/margin/rules-fixed.yaml", "--dest"]
    [block] = [text for kind, text in re.findall(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M) if not kind]
    monkeypatch.chdir(ROOT)
    report = simulate(command[2], command[4], at=command[6], explain=True)
    assert report["explanation"][-3:] == block.splitlines()
