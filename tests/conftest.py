import os

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer

import tests.celery_app  # noqa: F401  (the Celery app tasks use: eager in this process)
from tests.factories import UserFactory
from tests.services import required

# The live test server listens with socketserver's backlog of 5; the concurrency and
# browser tests open many connections at once, so give it a real server's backlog.
ThreadedWSGIServer.request_queue_size = 128


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def declare():
    """Register flows for one test (replacing any of the same key); restored afterwards."""
    from onboarding.registry import registry

    saved_flows, saved_duplicates = dict(registry._flows), list(registry.duplicate_keys)

    def _declare(*flows):
        for flow in flows:
            registry.unregister(flow.key)
            registry.register(flow)
        return flows[0] if len(flows) == 1 else flows

    yield _declare
    registry._flows.clear()
    registry._flows.update(saved_flows)
    registry.duplicate_keys[:] = saved_duplicates


# Without ONBOARDING_TEST_REDIS_URL a run claims one of these databases of the local
# Redis for its Celery tests (and another for its Redis cache tests), so that two suites
# on one machine do not flush each other's data: the claims are keys with a lifetime in
# LOCK_DATABASE, which no test uses or flushes.
REDIS = "redis://127.0.0.1:6379"
SPARE_DATABASES = range(13, 7, -1)
LOCK_DATABASE = 14
CLAIM_SECONDS = 3 * 3600


def _claimed_database(given_env: str):
    """A Redis URL for one use of this run: ``given_env``'s value, or a free spare
    database, emptied before and after (a generator for session fixtures)."""
    import redis

    given = os.environ.get(given_env)
    try:
        locks = redis.Redis.from_url(f"{REDIS}/{LOCK_DATABASE}", socket_connect_timeout=3)
        if given:
            redis.Redis.from_url(given, socket_connect_timeout=3).ping()
        else:
            locks.ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {given or REDIS}: {error}"
        if required():
            pytest.fail(f"{message} (required: CI=true or ONBOARDING_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    claim = None
    if given:
        url = given
    else:
        owner = f"{os.uname().nodename}:{os.getpid()}"
        for number in SPARE_DATABASES:
            if locks.set(f"onboarding-tests:db{number}", owner, nx=True, ex=CLAIM_SECONDS):
                claim = f"onboarding-tests:db{number}"
                break
        else:
            pytest.fail(
                f"Redis databases {SPARE_DATABASES[-1]} to {SPARE_DATABASES[0]} of {REDIS} are "
                f"all claimed by other test runs (keys onboarding-tests:db* in database "
                f"{LOCK_DATABASE}); set {given_env} to use another."
            )
        url = f"{REDIS}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    if claim:
        locks.delete(claim)


@pytest.fixture(scope="session")
def redis_url():
    """A Redis database for this run's Celery tests: ``ONBOARDING_TEST_REDIS_URL``, or a
    free one of the local Redis's databases 8 to 13, emptied before and after.

    Not reachable: the test fails under ``CI=true`` or ``ONBOARDING_REQUIRE_SERVICES=1``
    and is skipped with the reason otherwise; all spare databases claimed fails.
    """
    yield from _claimed_database("ONBOARDING_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_cache_url():
    """Another Redis database, for tests of Django's Redis cache (never the Celery one):
    ``ONBOARDING_TEST_REDIS_CACHE_URL`` or a spare database, claimed like ``redis_url``."""
    yield from _claimed_database("ONBOARDING_TEST_REDIS_CACHE_URL")


@pytest.fixture
def nudge_rules():
    """Register nudge rules for one test; the declared rules are restored afterwards."""
    from onboarding.nudges.rules import rule_registry

    saved, duplicates = dict(rule_registry.rules), list(rule_registry.duplicate_keys)
    rule_registry.rules.clear()

    def _register(*rules):
        for rule in rules:
            rule_registry.register(rule)
        return rules[0] if len(rules) == 1 else rules

    yield _register
    rule_registry.rules.clear()
    rule_registry.rules.update(saved)
    rule_registry.duplicate_keys[:] = duplicates
