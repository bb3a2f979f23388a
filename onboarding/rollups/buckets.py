"""Geometric time buckets: exact for zero, then eight per doubling from one second.

A percentile read from buckets is the bucket's geometric middle, so it is within
``RELATIVE_ERROR`` (about 4.4 %) of the exact value for times of a second or more,
and within half a second below that.
"""

from __future__ import annotations

from datetime import timedelta

PER_DOUBLING = 8
RELATIVE_ERROR = 2 ** (1 / (2 * PER_DOUBLING)) - 1
ZERO, UNDER_A_SECOND, FIRST = 0, 1, 2


def bucket_sql(seconds: str) -> str:
    """SQL for the bucket of a non-negative time in seconds (a float expression)."""
    return (
        f"CASE WHEN {seconds} <= 0 THEN {ZERO} WHEN {seconds} < 1 THEN {UNDER_A_SECOND} "
        f"ELSE {FIRST} + CAST(FLOOR({PER_DOUBLING} * LN({seconds}) / LN(2)) AS INTEGER) END"
    )


def bucket_value(bucket: int) -> timedelta:
    """The time a bucket stands for: its geometric middle (0 and 0.5 s below a second)."""
    if bucket == ZERO:
        return timedelta(0)
    if bucket == UNDER_A_SECOND:
        return timedelta(seconds=0.5)
    return timedelta(seconds=round(2 ** ((bucket - FIRST + 0.5) / PER_DOUBLING), 6))


def bucket_at(histogram: list[tuple[int, int]], rank: int) -> int:
    """The bucket holding 1-based ``rank`` of a sorted ``(bucket, count)`` list."""
    seen = 0
    for bucket, count in histogram:
        seen += count
        if seen >= rank:
            return bucket
    return histogram[-1][0]
