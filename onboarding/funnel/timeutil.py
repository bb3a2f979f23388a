"""Exact conversions between aware datetimes, local dates and epoch microseconds."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone

from django.utils import timezone

EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
DAY_US = 86_400_000_000


def to_us(value: datetime) -> int:
    """Microseconds since the epoch, exactly (no float on the way)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def local_midnight(day: date, zone: tzinfo | None = None) -> datetime:
    """The aware start of ``day`` in ``zone`` (default: the current time zone)."""
    return timezone.make_aware(
        datetime.combine(day, time.min), zone or timezone.get_current_timezone()
    )


def local_date(value: datetime, zone: tzinfo | None = None) -> date:
    return timezone.localtime(value, zone or timezone.get_current_timezone()).date()


def local_day_of_us(value: int, zone: tzinfo | None = None) -> date:
    """The local date of epoch microseconds ``value``; a time whose local date Python
    cannot hold (year 1 west of UTC) gives the first or last date it can."""
    try:
        return local_date(from_us(value), zone)
    except OverflowError:
        return date.min if value < 0 else date.max


def day_end_us(day: date) -> int | None:
    """Epoch microseconds of the local midnight after ``day`` (``None``: after the last date)."""
    if day == date.max:
        return None
    return to_us(local_midnight(day + timedelta(days=1)))


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def weeks_between(first: date, last: date) -> list[date]:
    """Mondays of every week from ``first``'s to ``last``'s, inclusive."""
    monday, end = week_start(first), week_start(last)
    weeks = [monday]
    while monday < end:  # not past ``end``: the week after date.max's is no date
        monday += timedelta(days=7)
        weeks.append(monday)
    return weeks if first <= last else []
