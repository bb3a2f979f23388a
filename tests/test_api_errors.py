"""Errors found by schemathesis, pinned: strict pagination, JSON 404s, JSON for non-reports."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from onboarding.api.keys import create_key

FLOWS = "/onboarding/api/flows/"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def client(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ({"page_size": "null"}, "page_size", "Must be a whole number of at least 1."),
        ({"page_size": "0"}, "page_size", "Must be a whole number of at least 1."),
        ({"page": "-1"}, "page", "Must be a whole number of at least 1."),
        ({"page": "last"}, "page", "Must be a whole number of at least 1."),
        ({"page": "99"}, "page", "No such page."),
    ],
)
def test_a_bad_page_or_page_size_is_400_naming_it(client, query, name, message):
    response = client.get(FLOWS, query)

    assert response.status_code == 400
    assert response.json() == {name: [message]}


def test_a_page_size_over_the_cap_is_capped(client, settings):
    settings.ONBOARDING = {"API_MAX_PAGE_SIZE": 1}

    response = client.get(FLOWS, {"page_size": "50", "page": "2"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/onboarding/api/flows/not%20a%20slug/progress/",
        "/onboarding/api/flows/wizard/steps/a%0Ab/complete/",
        "/onboarding/api/nothing/here/",
    ],
)
def test_paths_no_route_takes_are_a_json_404_even_for_posts(client, path):
    for response in (client.get(path), client.post(path, {}, format="json")):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_funnel_options_asked_as_csv_answer_json(db):
    _key, secret = create_key("bi", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")

    response = client.options("/onboarding/api/flows/wizard/funnel/?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"] == "Funnel"
