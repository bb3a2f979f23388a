"""Throttles count exactly under concurrency: threads hammering a live server.

The throttles' clock is held inside one window (``timer``), so a run that takes longer
than a minute on a loaded machine still counts in one window: the counts are exact,
not "about right within a minute".
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.management import call_command

from onboarding.api.keys import create_key
from onboarding.api.throttling import ApiKeyRateThrottle, SubjectRateThrottle
from tests.factories import UserFactory

# PostgreSQL only: the live server answers from 8 threads at once, and the test
# settings' in-memory SQLite database is one connection shared by every thread, which
# Python 3.13's sqlite3 refuses under concurrent use ("bad parameter or other API
# misuse"). What is tested, counting in the cache, does not depend on the database.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

THREADS = 8
# 12:00:10 on some day: 50 seconds are left of the minute's window.
NOW = 1_750_000_000 - 1_750_000_000 % 60 + 10


@pytest.fixture
def frozen_clock(monkeypatch):
    for throttle in (SubjectRateThrottle, ApiKeyRateThrottle):
        monkeypatch.setattr(throttle, "timer", staticmethod(lambda: NOW))


@pytest.fixture
def locmem_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "throttle-concurrency",
        }
    }
    caches["default"].clear()


@pytest.fixture
def redis_cache(settings, redis_cache_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_cache_url,
        }
    }
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def database_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "onboarding_test_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE onboarding_test_cache")


def hammer(url: str, total: int, *, method: str, **session_options) -> list[requests.Response]:
    """``total`` requests from ``THREADS`` threads at once, each thread with its own session."""
    local = threading.local()
    barrier = threading.Barrier(THREADS)

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update(session_options.get("headers", {}))
            local.session.cookies.update(session_options.get("cookies", {}))
            barrier.wait(timeout=60)
        return local.session

    def one(_number: int) -> requests.Response:
        if method == "GET":
            return session().get(url, timeout=120)
        return session().post(url, json={"events": []}, timeout=120)

    with ThreadPoolExecutor(THREADS) as pool:
        # The first THREADS calls open a session each and meet at the barrier.
        return list(pool.map(one, range(total)))


def subject_session(client) -> dict[str, str]:
    user = UserFactory()
    client.force_login(user)
    return {
        django_settings.SESSION_COOKIE_NAME: client.cookies[
            django_settings.SESSION_COOKIE_NAME
        ].value
    }


def assert_exact(responses: list[requests.Response], allowed: int, refused: int) -> None:
    codes = Counter(response.status_code for response in responses)
    assert codes == {200: allowed, 429: refused}
    waits = {
        response.headers["Retry-After"] for response in responses if response.status_code == 429
    }
    assert waits == {"50"}  # the seconds left of the window


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def shared_cache(request):
    """The cache the live server's threads count in: local memory, or Redis."""
    request.getfixturevalue(f"{request.param}_cache")
    return request.param


def test_700_requests_of_one_subject_from_8_threads_let_exactly_600_through(
    live_server, client, settings, frozen_clock, shared_cache
):
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": "600/minute", "key": None}}
    cookies = subject_session(client)

    responses = hammer(
        f"{live_server.url}/onboarding/api/flows/wizard/progress/",
        700,
        method="GET",
        cookies=cookies,
    )

    assert_exact(responses, 600, 100)


def test_130_requests_of_one_api_key_from_8_threads_let_exactly_100_through(
    live_server, settings, frozen_clock, shared_cache
):
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": "100/minute"}}
    _key, secret = create_key("load", scopes=["ingest"])

    responses = hammer(
        f"{live_server.url}/onboarding/api/events/",
        130,
        method="POST",
        headers={"Authorization": f"Api-Key {secret}"},
    )

    assert_exact(responses, 100, 30)


def test_the_database_cache_counts_exactly_too(live_server, settings, frozen_clock, database_cache):
    """Django's database cache has no atomic increment: the count is taken under a lock."""
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": "100/minute"}}
    _key, secret = create_key("load", scopes=["ingest"])

    responses = hammer(
        f"{live_server.url}/onboarding/api/events/",
        130,
        method="POST",
        headers={"Authorization": f"Api-Key {secret}"},
    )

    assert_exact(responses, 100, 30)
