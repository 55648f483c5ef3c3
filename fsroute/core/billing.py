"""What a call of a given length costs at a deck row: billed seconds by increments, plus the connect fee.

Fraud thresholds on spend and margin-protected LCR both price calls; they
share this one rule so that a carrier's cost and an account's spend never
disagree. Money is in micro-units, as in decks.
"""

from __future__ import annotations

from typing import Tuple

PER_SECOND = (1, 1)  # a row without increments is billed by the second


def increments_of(text: str) -> Tuple[int, int]:
    """(initial, next) seconds from a Rate's increments ("60/6"); per second when it has none."""
    if not text:
        return PER_SECOND
    first, _, rest = text.partition("/")
    return int(first), int(rest or first)


def billed_seconds(seconds: int, increments: Tuple[int, int]) -> int:
    """The seconds a carrier bills for ``seconds`` of talk: the initial block, then whole next blocks."""
    if seconds <= 0:
        return 0
    initial, step = increments
    if seconds <= initial:
        return initial
    return initial + -(-(seconds - initial) // step) * step


def call_cost(rate: int, connect_fee: int, increments: Tuple[int, int], seconds: int) -> int:
    """Micro-units for an answered call of ``seconds``: the fee plus the per-minute rate, rounded up."""
    if seconds <= 0:
        return 0
    return connect_fee + -(-rate * billed_seconds(seconds, increments) // 60)
