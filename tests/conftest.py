import pytest

from tests.factories import UserFactory


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
