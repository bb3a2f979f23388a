"""Throttles per subject (shared by team members) and per API key: 429 with Retry-After."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, TeamFactory, UserFactory

URL = "/onboarding/api/flows/wizard/progress/"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def logged_in(user):
    client = APIClient()
    client.force_login(user)
    return client


@override_settings(ONBOARDING={"API_THROTTLE_RATES": {"subject": "2/minute", "key": None}})
def test_a_subject_over_its_rate_gets_429_with_retry_after(user):
    client = logged_in(user)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]

    response = client.get(URL)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()
    assert logged_in(UserFactory()).get(URL).status_code == 200  # someone else is not


@override_settings(
    ONBOARDING={
        "API_THROTTLE_RATES": {"subject": "3/minute", "key": None},
        "SUBJECT_RESOLVER": "tests.test_api_progress.team_of",
    }
)
def test_team_members_share_their_subjects_budget(db):
    team = TeamFactory()
    alice, bob = (MembershipFactory(team=team).user for _ in range(2))
    outsider = MembershipFactory().user

    codes = [logged_in(member).get(URL).status_code for member in (alice, bob, alice, bob)]

    assert codes == [200, 200, 200, 429]
    assert logged_in(outsider).get(URL).status_code == 200


@override_settings(ONBOARDING={"API_THROTTLE_RATES": {"subject": None, "key": None}})
def test_rates_of_none_turn_throttling_off(user):
    client = logged_in(user)

    assert {client.get(URL).status_code for _ in range(30)} == {200}


def test_the_events_route_is_throttled_too(user):
    client = logged_in(user)
    with override_settings(ONBOARDING={"API_THROTTLE_RATES": {"subject": "1/minute"}}):
        first = client.post(reverse("onboarding:api:events"), {"events": []}, format="json")
        second = client.post(reverse("onboarding:api:events"), {"events": []}, format="json")

    assert (first.status_code, second.status_code) == (200, 429)
    assert "Retry-After" in second


@override_settings(ONBOARDING={"API_THROTTLE_RATES": {"subject": "2/minute", "key": None}})
def test_windows_are_fixed_clock_minutes_and_retry_after_counts_to_the_next(user, monkeypatch):
    from onboarding.api.throttling import SubjectRateThrottle

    start = 1_750_000_020  # a whole minute since the epoch
    now = [start + 15]
    monkeypatch.setattr(SubjectRateThrottle, "timer", staticmethod(lambda: now[0]))
    client = logged_in(user)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]

    refused = client.get(URL)
    now[0] = start + 59.5
    still = client.get(URL)
    now[0] = start + 60
    next_window = client.get(URL)

    assert (refused.status_code, refused["Retry-After"]) == (429, "45")
    assert (still.status_code, still["Retry-After"]) == (429, "1")
    assert next_window.status_code == 200


@override_settings(
    ONBOARDING={"API_THROTTLE_RATES": {"subject": "1/minute", "key": None}},
    CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
)
def test_a_cache_that_keeps_nothing_throttles_nothing(user):
    """As DRF's throttles did (``check --deploy`` warns of it: onboarding.W003)."""
    client = logged_in(user)

    assert {client.get(URL).status_code for _ in range(3)} == {200}
