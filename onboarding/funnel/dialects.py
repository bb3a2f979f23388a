"""How each supported database stores, compares and returns funnel times.

SQLite keeps datetimes as text and does interval arithmetic in Python, row by row,
so there times become integer microseconds since the epoch (exact, and cheap to
subtract). PostgreSQL's own timestamp arithmetic is exact and fast, so times stay
``timestamptz`` and differences are intervals.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import NotSupportedError, connections, transaction
from django.db.backends.utils import CursorWrapper

from onboarding.funnel.timeutil import from_us, to_us


class Dialect:
    """SQL snippets over time values, and the conversion of what comes back."""

    vendor = ""

    def time(self, column: str) -> str:
        """A datetime column as this dialect's time value."""
        raise NotImplementedError

    def within(self, later: str, earlier: str, window_us: int) -> str:
        """True when ``later - earlier`` is at most the window."""
        raise NotImplementedError

    def instant(self, value: datetime) -> str:
        """An aware datetime as a SQL literal time value (generated, never user text)."""
        raise NotImplementedError

    def greatest(self, values: list[str]) -> str:
        raise NotImplementedError

    def duration(self, value: object) -> timedelta | None:
        raise NotImplementedError

    def datetime(self, value: object) -> datetime:
        raise NotImplementedError

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

    def within(self, later: str, earlier: str, window_us: int) -> str:
        return f"{later} - {earlier} <= {int(window_us)}"

    def instant(self, value: datetime) -> str:
        return str(to_us(value))

    def greatest(self, values: list[str]) -> str:
        # SQLite's multi-argument max() is its scalar GREATEST.
        return values[0] if len(values) == 1 else f"max({', '.join(values)})"

    def duration(self, value: object) -> timedelta | None:
        return None if value is None else timedelta(microseconds=int(value))

    def datetime(self, value: object) -> datetime:
        return from_us(int(value))


class PostgreSQLDialect(Dialect):
    vendor = "postgresql"

    def time(self, column: str) -> str:
        return column

    def within(self, later: str, earlier: str, window_us: int) -> str:
        # Microseconds, not days: '14 days' would follow daylight saving time in the
        # session's time zone.
        return f"{later} - {earlier} <= INTERVAL '{int(window_us)} microseconds'"

    def instant(self, value: datetime) -> str:
        return f"TIMESTAMPTZ '{value.isoformat()}'"

    def greatest(self, values: list[str]) -> str:
        return values[0] if len(values) == 1 else f"GREATEST({', '.join(values)})"

    def duration(self, value: object) -> timedelta | None:
        return value  # psycopg returns intervals as timedelta

    def datetime(self, value: object) -> datetime:
        return value  # type: ignore[return-value]

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
