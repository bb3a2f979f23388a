"""Shared time origin of the nudge tests."""

from datetime import datetime, timezone

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
