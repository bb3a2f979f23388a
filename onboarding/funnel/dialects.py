"""How each supported database computes funnel times, and what comes back.

Funnel times are integer microseconds since the epoch on both databases (the
``FunnelPath`` columns): exact, and cheap to compare, subtract and sort. Only the
conversion of a stored datetime column (``time``, used to rebuild path rows) and a
few functions differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import cast

from django.db import NotSupportedError, connections, transaction
from django.db.backends.utils import CursorWrapper

from onboarding.funnel.timeutil import from_us, to_us


class Dialect:
    """SQL snippets over time values, and the conversion of what comes back."""

    vendor = ""

    def time(self, column: str) -> str:
        """A datetime column as integer microseconds since the epoch."""
        raise NotImplementedError

    def within(self, later: str, earlier: str, window_us: int) -> str:
        """True when ``later - earlier`` is at most the window."""
        return f"{later} - {earlier} <= {int(window_us)}"

    def instant(self, value: datetime) -> str:
        """An aware datetime as a SQL literal time value (generated, never user text)."""
        return str(to_us(value))

    def greatest(self, values: list[str]) -> str:
        raise NotImplementedError

    def duration(self, value: object) -> timedelta | None:
        return None if value is None else timedelta(microseconds=cast(int, value))

    def datetime(self, value: object) -> datetime:
        return from_us(cast(int, value))

    @contextmanager
    def cursor(self, using: str) -> Iterator[CursorWrapper]:
        with connections[using].cursor() as cursor:
            yield cursor


class SQLiteDialect(Dialect):
    vendor = "sqlite"

    def time(self, column: str) -> str:
        # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC: whole seconds from
        # strftime, microseconds from the text after the dot (padded, as it may be
        # absent). Statements always run with a parameter list, so '%%' reaches
        # SQLite as '%'.
        return (
            f"(CAST(strftime('%%s', {column}) AS INTEGER) * 1000000"
            f" + CAST(substr(substr({column}, 21) || '000000', 1, 6) AS INTEGER))"
        )

    def greatest(self, values: list[str]) -> str:
        # SQLite's multi-argument max() is its scalar GREATEST.
        return values[0] if len(values) == 1 else f"max({', '.join(values)})"


class PostgreSQLDialect(Dialect):
    vendor = "postgresql"

    def time(self, column: str) -> str:
        # EXTRACT gives an exact numeric (PostgreSQL 14 and later).
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"

    def greatest(self, values: list[str]) -> str:
        return values[0] if len(values) == 1 else f"GREATEST({', '.join(values)})"

    @contextmanager
    def cursor(self, using: str) -> Iterator[CursorWrapper]:
        # JIT is switched off for this transaction only: compiling the large CASE
        # expressions takes seconds, far longer than running them.
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            yield cursor


DIALECTS: dict[str, Dialect] = {"sqlite": SQLiteDialect(), "postgresql": PostgreSQLDialect()}


def dialect_for(using: str) -> Dialect:
    name = connections[using].vendor
    if name not in DIALECTS:
        raise NotSupportedError(
            f"The onboarding funnel supports PostgreSQL and SQLite, not {name!r} "
            f"(database alias {using!r})."
        )
    return DIALECTS[name]
