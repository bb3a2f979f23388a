"""The OpenAPI 3 schema: valid with no warnings, and served by the app."""

from __future__ import annotations

import yaml
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient


def test_schema_validates_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert "/onboarding/api/events/" in schema["paths"]


def test_schema_is_served_with_the_apps_routes_only(db):
    response = APIClient().get(reverse("onboarding:api:schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "django-onboarding API"
    assert set(schema["paths"]) == {
        "/onboarding/api/flows/",
        "/onboarding/api/flows/{flow}/progress/",
        "/onboarding/api/flows/{flow}/steps/{step}/complete/",
        "/onboarding/api/flows/{flow}/steps/{step}/default/",
        "/onboarding/api/flows/{flow}/steps/{step}/skip/",
        "/onboarding/api/flows/{flow}/steps/{step}/dismiss/",
        "/onboarding/api/flows/{flow}/funnel/",
        "/onboarding/api/events/",
    }
    batch = schema["components"]["schemas"]["Event"]
    assert set(batch["properties"]) == {
        "id",
        "flow",
        "step",
        "kind",
        "occurred_at",
        "properties",
        "subject",
    }
    assert {"ApiKey", "EmbedToken", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
