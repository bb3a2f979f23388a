"""docs/openapi.yaml is the schema the code generates and the app serves: the docs never drift."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
HINT = "docs/openapi.yaml is out of date: run `make schema` and commit it"


def test_the_committed_schema_is_what_the_code_generates(tmp_path):
    generated = tmp_path / "openapi.yaml"

    # What `make schema` runs: valid, no warning, the app's served settings.
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--custom-settings",
        "tests.openapi.SETTINGS",
        "--file",
        str(generated),
    )

    assert "/onboarding/api/events/:" in generated.read_text()
    assert COMMITTED.read_text() == generated.read_text(), HINT


def test_the_committed_schema_is_what_the_app_serves(db):
    response = APIClient().get(reverse("onboarding:api:schema"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.decode() == COMMITTED.read_text(), HINT
