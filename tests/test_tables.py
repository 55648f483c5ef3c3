"""Number tables: the file read into compact arrays (core/tables.py)."""

import pytest

from fsroute.core import tables
from fsroute.core.model import Layout
from fsroute.core.model import RulesError

EXACT = Layout("exact", "did", ("target", "number"))
PREFIX = Layout("prefix", "prefix", ("target",))


def parse(text, layout=EXACT):
    return tables.parse(text.splitlines(True), layout, "t.csv")


def test_an_exact_table_finds_whole_numbers_only():
    table = parse("did,target,number,note\n15551230001,gw1,,a\n15551230002,group:east,9$0,\n0123,gw2,,\n")
    assert table.cells(table.find("15551230002", 0)) == ("group:east", "9$0")
    assert table.cells(table.find("0123", 0)) == ("gw2", "")
    assert table.find("123", 0) == -1           # "0123" is a different number
    assert table.find("1555123000", 0) == -1    # a prefix is not the number
    assert table.find("155512300011", 0) == -1


def test_a_prefix_table_finds_the_longest_prefix():
    table = parse("prefix;target\n1;gw_us\n1555;gw_555\n15551;hangup:CALL_REJECTED\n44;gw_uk\n", PREFIX)
    assert table.cells(table.find("15551230001", 0)) == ("hangup:CALL_REJECTED",)
    assert table.cells(table.find("15559", 0)) == ("gw_555",)
    assert table.cells(table.find("1999", 0)) == ("gw_us",)
    assert table.find("33", 0) == -1


def test_rows_keep_one_copy_of_each_distinct_value_and_small_ids():
    rows = "".join("%d,gw%d,\n" % (15550000000 + i, i % 3) for i in range(1000))
    table = parse("did,target,number\n" + rows)
    assert len(table) == 1000 and len(table.values) == 3
    assert table.ids.itemsize == 1
    many = parse("did,target,number\n" + "".join("%d,gw%d,\n" % (15550000000 + i, i) for i in range(70000)))
    assert many.ids.itemsize == 4 and many.cells(many.find("15550069999", 0)) == ("gw69999", "")


def test_unsorted_rows_are_sorted_and_problems_name_their_lines():
    table = parse("did,target,number\n300,c,\n100,a,\n200,b,\n")
    assert [table.key(i) for i in range(3)] == ["100", "200", "300"]
    with pytest.raises(RulesError) as caught:
        parse("did,target,number\n300,c,\n12a,x,\n100,a,\n300,d,\n100,e\n")
    assert [str(p) for p in caught.value.problems] == [
        "t.csv:3:1: did '12a' must be 1 to 15 digits 0-9",
        "t.csv:5:1: duplicate number 300 (line 2)",
        "t.csv:6:1: the row has 2 fields; the header names 3",
    ]


def test_a_missing_column_is_said_at_line_1():
    with pytest.raises(RulesError) as caught:
        parse("number\ttarget\n1\tgw\n")
    assert str(caught.value.problems[0]) == "t.csv:1:1: the header row must name the columns; 'did' is missing " \
        "(it has: number, target)"


def test_effective_dates_pick_the_row_in_force():
    layout = Layout("exact", "did", ("target",), "effective_from", "effective_to")
    table = parse("did,target,effective_from,effective_to\n100,old,,2026-07-01\n100,new,2026-07-01,\n", layout)
    assert table.cells(table.find("100", 1767225600)) == ("old",)   # 2026-01-01
    assert table.cells(table.find("100", 1782864000)) == ("new",)   # 2026-07-01
    with pytest.raises(RulesError) as caught:
        parse("did,target,effective_from,effective_to\n100,a,,2026-07-01\n100,b,2026-06-01,\n", layout)
    assert "100: effective dates overlap (line 2)" in str(caught.value)


def test_a_table_holds_a_few_bytes_a_row():
    rows = "".join("%d,gw%d,\n" % (15550000000 + 7 * i, i % 50) for i in range(100000))
    table = parse("did,target,number\n" + rows)
    assert table.nbytes() / len(table) < 12


def test_keys_that_share_their_first_digits_still_index_finely_and_find_the_same():
    import random

    rng = random.Random(9)
    numbers = sorted({"1555%07d" % rng.randrange(10 ** 7) for _ in range(20000)})
    table = parse("did,target,number\n" + "".join("%s,gw,\n" % n for n in numbers))
    assert table.index.scale == 10 ** (15 - 4 - 3)  # the shared "1555" is skipped: 3 digits after it
    wanted = set(numbers)
    probes = numbers[::50] + ["1555%07d" % rng.randrange(10 ** 7) for _ in range(3000)]
    probes += ["1", "15549999999", "15560000000", "9", "0", "15551"]
    for number in probes:
        assert (table.find(number, 0) >= 0) == (number in wanted), number
    cut = sorted({n[:rng.randint(5, 11)] for n in numbers[::7]})
    prefixes = parse("prefix;target\n" + "".join("%s;x\n" % p for p in cut), PREFIX)
    known = {prefixes.key(i) for i in range(len(prefixes))}
    for number in probes:
        expected = next((number[:n] for n in range(len(number), 0, -1) if number[:n] in known), None)
        row = prefixes.find(number, 0)
        assert (prefixes.key(row) if row >= 0 else None) == expected, number
