"""Cohorts a late event changed: marked by the write path, recounted by the next refresh.

A refresh recounts only open cohorts; an event that changes a closed one (a first event
arriving after its window, a history import, a late completion inside the window) marks
the UTC day of the subject's entry. Which days the rollup has closed depends on when it
last counted and in which time zone, so the write path marks every day that may be
closed (entry more than the window ago, by its own clock: a day closes a day later) and
the refresh maps a UTC day to the local days it overlaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from onboarding.bulk import Statement, send, typed_arrays
from onboarding.funnel.timeutil import local_date
from onboarding.rollups.models import StaleCohort


def utc_day(instant: datetime) -> date:
    return instant.astimezone(dt_timezone.utc).date()


def changed_days(
    old_entry: datetime | None,
    new_entry: datetime | None,
    completions: Iterable[datetime],
    *,
    now: datetime,
    window: timedelta,
) -> set[date]:
    """The UTC entry days whose closed cohorts a subject's change may alter: its old and
    new entry when it moved, else its entry when a completion inside the window moved."""
    closed_before = now - window
    entries: tuple[datetime | None, ...]
    if old_entry != new_entry:
        entries = (old_entry, new_entry)
    elif new_entry is not None and any(at - new_entry <= window for at in completions):
        entries = (new_entry,)
    else:
        return set()
    return {utc_day(at) for at in entries if at is not None and at < closed_before}


def mark_statement(marks: set[tuple[int, date]], connection: Any) -> Statement:
    """Insert ``(flow id, UTC day)`` marks in one statement (PostgreSQL)."""
    meta: Any = StaleCohort._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field("flow"), meta.get_field("day")]
    columns = ", ".join(quote(field.column) for field in fields)
    flows, days = zip(*sorted(marks), strict=True)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"SELECT * FROM UNNEST({typed_arrays(fields, connection)})"
    )
    return Statement(sql, [list(flows), list(days)])


def mark(marks: set[tuple[int, date]], connection: Any) -> None:
    """Record ``(flow id, UTC day)`` marks (inside ``pipelined``: without waiting)."""
    if not marks:
        return
    if connection.vendor == "postgresql":
        send(connection, [mark_statement(marks, connection)])
        return
    StaleCohort.objects.using(connection.alias).bulk_create(
        [StaleCohort(flow_id=flow_id, day=day) for flow_id, day in sorted(marks)]
    )


def local_days(days: Iterable[date]) -> set[date]:
    """The local (current time zone) days that the UTC ``days`` overlap."""
    found = set()
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
        found.add(local_date(start))
        found.add(local_date(start + timedelta(days=1) - timedelta(microseconds=1)))
    return found


def take(flow_id: int, using: str) -> set[date]:
    """Delete ``flow_id``'s marks; the local entry days they overlap, to recount. By id:
    a mark added meanwhile (by a batch this refresh may not see) stays for the next."""
    rows = list(StaleCohort.objects.using(using).filter(flow_id=flow_id).values_list("pk", "day"))
    if rows:
        StaleCohort.objects.using(using).filter(pk__in=[pk for pk, _day in rows]).delete()
    return local_days(day for _pk, day in rows)


def stale_days(flow_id: int, using: str) -> set[date]:
    """The local entry days marked since the last refresh: counted before a late event."""
    with_marks = StaleCohort.objects.using(using).filter(flow_id=flow_id)
    return local_days(with_marks.values_list("day", flat=True).distinct())
