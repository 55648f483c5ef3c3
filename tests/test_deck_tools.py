"""``fsroute deck diff`` and ``fsroute deck import``: what a new deck changes, and carriers' own sheets."""

import csv
import datetime
import io
import json
import textwrap

import pytest

from fsroute.core import decks
from fsroute.tools.cli import main

OLD = """\
prefix,rate,connect_fee,increments,effective_from,effective_to,description
49,0.0100,,,,,Germany
4915,0.0300,,,,,Germany mobile
4917,0.0300,,,,,Germany mobile
44,0.0080,,,,,UK
33,0.0200,,,,,France
"""
NEW = """\
prefix,rate,connect_fee,increments,effective_from,effective_to,description
49,0.0100,0.01,60/60,,,Germany
4915,0.0300,,,,2026-12-01,Germany mobile
4915,0.0600,,,2026-12-01,,Germany mobile
4917,0.0250,,,,,Germany mobile
44,0.0080,,,,,UK
39,0.0150,,,,,Italy
"""
SELL = "prefix,rate\n49,0.05\n4915,0.05\n44,0.01\n39,0.02\n"


@pytest.fixture
def deck_files(tmp_path):
    for name, text in (("old.csv", OLD), ("new.csv", NEW), ("sell.csv", SELL)):
        (tmp_path / name).write_text(text)
    return lambda name: str(tmp_path / name)


def test_deck_diff_says_what_changes_from_when_and_what_loses(deck_files, capsys):
    status = main(["deck", "diff", deck_files("old.csv"), deck_files("new.csv"), "--sell", deck_files("sell.csv"),
                   "--at", "2026-11-07"])
    assert capsys.readouterr().out.splitlines() == [
        "deck diff at 2026-11-07T00:00:00Z: 1 decrease, 2 increase, 1 losing, 1 new, 1 removed",
        "removed   33              was 0.02  undated (in force now)  [France]",
        "new       39              0.015 (fee 0, 1/1)  undated (in force now)  [Italy]",
        # the same rate with a connect fee and 60/60 billing costs more: an increase by cost
        "increase  49              0.01 -> 0.01/min (0, 0.0%), fee 0, 1/1 -> fee 0.01, 60/60; a 180 s call 0.03 -> "
        "0.04  undated (in force now)  [Germany]",
        "increase  4915            0.03 -> 0.06/min (0.03, 100.0%); a 180 s call 0.09 -> 0.18  from "
        "2026-12-01T00:00:00Z  [Germany mobile]",
        "decrease  4917            0.03 -> 0.025/min (-0.005, -16.7%); a 180 s call 0.09 -> 0.075  undated (in force "
        "now)  [Germany mobile]",
        "losing    4915            buys at 0.06, sells at 0.05: a 180 s call loses 0.03  from 2026-12-01T00:00:00Z  "
        "[Germany mobile]",
    ]
    assert status == 4


def test_a_change_dated_in_the_past_is_retroactive(deck_files, capsys):
    assert main(["deck", "diff", deck_files("old.csv"), deck_files("new.csv"), "--at", "2026-12-07",
                 "--format", "json"]) == 4
    report = json.loads(capsys.readouterr().out)
    [increase] = [c for c in report["changes"] if c["prefix"] == "4915"]
    assert (increase["kind"], increase["from"], increase["retroactive"]) == ("increase", "2026-12-01T00:00:00Z", "yes")
    assert report["counts"]["retroactive"] == 1 and report["status"] == 4


def test_deck_diff_csv_and_exit_statuses(deck_files, tmp_path, capsys):
    assert main(["deck", "diff", deck_files("old.csv"), deck_files("old.csv")]) == 0
    assert capsys.readouterr().out.endswith(": no changes\n")
    cheaper = tmp_path / "cheaper.csv"
    cheaper.write_text(OLD.replace("44,0.0080", "44,0.0070"))
    assert main(["deck", "diff", deck_files("old.csv"), str(cheaper), "--format", "csv"]) == 3
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["kind"], r["prefix"], r["old_rate"], r["new_rate"], r["change"], r["change_percent"]) for r in rows] \
        == [("decrease", "44", "0.008", "0.007", "-0.001", "-12.5")]
    broken = tmp_path / "broken.csv"
    broken.write_text("prefix,rate\n4x,1\n")
    assert main(["deck", "diff", deck_files("old.csv"), str(broken)]) == 1
    assert capsys.readouterr().err == "%s:2:1: prefix '4x' must be 1 to 15 digits 0-9\n" % broken


CARRIER_SHEET = """\
Acme Telecom rate sheet;;;;
Valid from the dates shown;;;;
Destination;Code;Rate (cents/min);Effective Date;Billing
Germany;+49;1,20;01/06/2026;60-6
Germany mobile;49 15;4;01/06/2026;1
"Korea; Republic of";82;3.5;15/06/2026;60/60
"""


def test_deck_import_reads_a_carriers_own_headers_and_formats(tmp_path, capsys):
    sheet = tmp_path / "acme.csv"
    sheet.write_text(CARRIER_SHEET)
    out = tmp_path / "acme_deck.csv"
    assert main(["deck", "import", str(sheet), "--map", "prefix=Code,rate=Rate (cents/min)",
                 "--map", "effective_from=Effective Date,increments=Billing,description=Destination",
                 "--date-format", "%d/%m/%Y", "--rate-scale", "0.01", "-o", str(out)]) == 0
    assert out.read_text() == textwrap.dedent("""\
        prefix,rate,increments,effective_from,description
        49,0.012,60/6,2026-06-01T00:00:00,Germany
        4915,0.04,1/1,2026-06-01T00:00:00,Germany mobile
        82,0.035,60/60,2026-06-15T00:00:00,Korea; Republic of
        """)
    deck = decks.load(str(out))
    assert deck.row(deck.find("4915123", 1790000000)).rate == 40000


def test_deck_import_reports_every_bad_row_at_the_sheets_row(tmp_path, capsys):
    sheet = tmp_path / "acme.csv"
    sheet.write_text(CARRIER_SHEET + "Nowhere;x1;1;01/06/2026;60\nGermany;49;1;02/06/2026;60\n")
    assert main(["deck", "import", str(sheet), "--map", "prefix=Code,rate=Rate (cents/min)",
                 "--map", "effective_from=Effective Date", "--date-format", "%d/%m/%Y"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["%s:7:2: Code 'x1' is not a prefix of digits" % sheet]
    sheet.write_text(CARRIER_SHEET + "Germany;49;1;02/06/2026;60\n")
    assert main(["deck", "import", str(sheet), "--map", "prefix=Code,rate=Rate (cents/min)",
                 "--map", "effective_from=Effective Date", "--date-format", "%d/%m/%Y"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "%s:7:1: prefix 49: effective dates overlap (row 4)" % sheet]
    with pytest.raises(SystemExit) as info:
        main(["deck", "import", str(sheet), "--map", "prefix=Code"])
    assert info.value.code == 2
    assert "the map must name the rate column" in capsys.readouterr().err


def test_deck_import_reads_xlsx_with_per_second_rates(tmp_path, capsys):
    import openpyxl  # the xlsx extra (in the test extra)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Rates"
    sheet.append(["Carrier X prices"])
    sheet.append(["Prefix", "Price/sec", "From", "Name"])
    sheet.append([4420, 0.0002, datetime.datetime(2026, 7, 1), "UK London"])
    sheet.append(["447", 0.0005, None, "UK mobile"])
    path = tmp_path / "x.xlsx"
    book.save(str(path))
    assert main(["deck", "import", str(path), "--sheet", "Rates", "--rate-unit", "second",
                 "--map", "prefix=Prefix,rate=Price/sec,effective_from=From,description=Name"]) == 0
    assert capsys.readouterr().out == ("prefix,rate,effective_from,description\n"
                                       "4420,0.012,2026-07-01T00:00:00,UK London\n447,0.03,,UK mobile\n")


def test_other_terms_at_the_same_expected_cost_are_terms_and_no_risk(tmp_path, capsys):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("prefix,rate,increments\n49,0.02,1/1\n")
    new.write_text("prefix,rate,increments\n49,0.02,60/60\n")  # 180 s bills 180 s either way
    assert main(["deck", "diff", str(old), str(new), "--at", "2026-01-01"]) == 3
    assert capsys.readouterr().out.splitlines()[1] == (
        "terms     49              0.02: fee 0, 1/1 -> fee 0, 60/60  undated (in force now)")
    assert main(["deck", "diff", str(old), str(new), "--at", "2026-01-01", "--seconds", "30"]) == 4
    assert capsys.readouterr().out.splitlines()[1].startswith("increase  49              0.02 -> 0.02/min (0, 0.0%)")
