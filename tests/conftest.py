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


@pytest.fixture(scope="session")
def redis_url():
    """A spare database of the machine's Redis (``ONBOARDING_TEST_REDIS_URL``).

    Not reachable: the test fails under ``CI=true`` or ``ONBOARDING_REQUIRE_SERVICES=1``
    and is skipped with the reason otherwise.
    """
    import redis

    url = os.environ.get("ONBOARDING_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {url}: {error}"
        if required():
            pytest.fail(f"{message} (required: CI=true or ONBOARDING_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    client.flushdb()
    yield url
    client.flushdb()


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
