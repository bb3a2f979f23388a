"""Two rollup refreshes of one flow at the same moment (beat and an admin's "refresh"
on PostgreSQL) leave the rollup equal to the exact count, not doubled."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from onboarding import EventInput, track_many
from onboarding.funnel import FunnelQuery
from onboarding.rollups.build import refresh_rollup
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("rebuild", [True, False])
def test_refreshes_at_once_take_turns(rebuild):
    now = timezone.now()
    events = []
    for n in range(30):
        user = UserFactory()
        entered = now - timedelta(days=n % 6, hours=1)
        events.append(EventInput(user, "wizard", "signup", occurred_at=entered))
        if n % 3:
            events.append(
                EventInput(user, "wizard", "profile", occurred_at=entered + timedelta(minutes=n))
            )
    track_many(events)
    refresh_rollup("wizard", rebuild=True)  # a first build, so both refreshes are updates

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            barrier.wait(timeout=10)
            refresh_rollup("wizard", rebuild=rebuild)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads), "a refresh hung"
    assert errors == []
    rollup = FunnelQuery(flow="wizard").run()
    exact = FunnelQuery(flow="wizard", use_rollup=False).run()
    assert rollup.source == "rollup"
    assert (rollup.entered, rollup.step("profile").reached) == (30, 20)
    assert (exact.entered, exact.step("profile").reached) == (30, 20)


def test_tracking_is_not_blocked_while_a_refresh_holds_its_flow(monkeypatch):
    """Events of the flow commit while a refresh is in the middle of its transaction."""
    from onboarding.rollups import build

    user = UserFactory()
    track_many([EventInput(user, "wizard", "signup")])
    counting, tracked = threading.Event(), threading.Event()
    count_days = build._count_days

    def slow_count(*args, **kwargs):
        counting.set()
        tracked.wait(timeout=10)  # hold the refresh's transaction open meanwhile
        return count_days(*args, **kwargs)

    monkeypatch.setattr(build, "_count_days", slow_count)
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            refresh_rollup("wizard", rebuild=True)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=refresh)
    thread.start()
    try:
        assert counting.wait(timeout=10)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            result = track_many([EventInput(user, "wizard", "profile")])
    finally:
        tracked.set()
        thread.join(timeout=30)

    assert not thread.is_alive(), "the refresh hung"
    assert errors == []
    assert result.accepted == 1
