"""The one pricing rule shared by fraud spend and margin LCR."""

from hypothesis import given, strategies as st

from fsroute.core.billing import billed_seconds, call_cost, increments_of


def test_increments_of_a_rate_row():
    assert increments_of("60/6") == (60, 6)
    assert increments_of("30") == (30, 30)
    assert increments_of("") == (1, 1)


def test_billed_seconds_by_blocks():
    assert billed_seconds(0, (60, 6)) == 0
    assert billed_seconds(1, (60, 6)) == 60
    assert billed_seconds(60, (60, 6)) == 60
    assert billed_seconds(61, (60, 6)) == 66
    assert billed_seconds(66, (60, 6)) == 66
    assert billed_seconds(67, (60, 6)) == 72
    assert billed_seconds(7, (1, 1)) == 7


def test_call_cost_adds_the_fee_and_rounds_up():
    # 0.012/min for 61 s at 60/6 bills 66 s: 0.0132, plus a 0.05 fee
    assert call_cost(12000, 50000, (60, 6), 61) == 50000 + 13200
    assert call_cost(1, 0, (1, 1), 1) == 1          # a fraction of a micro-unit is billed as one
    assert call_cost(12000, 50000, (60, 6), 0) == 0  # no answer, no fee


@given(st.integers(1, 100000), st.integers(1, 600), st.integers(1, 600))
def test_billing_never_undercharges(seconds, initial, step):
    billed = billed_seconds(seconds, (initial, step))
    assert billed >= seconds and billed >= initial
    assert billed - max(seconds, initial) < step
