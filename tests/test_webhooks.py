"""Webhooks: signed POSTs to a local HTTP server, retried with backoff, logged in admin."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from onboarding import track
from onboarding.webhooks import SIGNATURE_HEADER, sign, verify
from onboarding.webhooks.checks import check_webhooks
from onboarding.webhooks.config import WebhookConfigError, endpoints
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import UserFactory
from tests.webhook_receiver import receivers

pytestmark = pytest.mark.django_db
SECRET = "s3cret-s3cret-s3cret"
REQUIRED = ["signup", "profile", "project", "publish"]


@pytest.fixture
def receiver():
    yield from receivers()


def hooks(*endpoints_, **extra):
    """Endpoints for one test; the receivers are on 127.0.0.1, so they opt in to it."""
    endpoints_ = [{"allow_private": True, **one} for one in endpoints_]
    return override_settings(
        ONBOARDING={"WEBHOOKS": endpoints_, "WEBHOOK_RETRY_BACKOFF_SECONDS": 0, **extra}
    )


def test_step_completed_and_flow_finished_are_posted_signed(
    receiver, django_capture_on_commit_callbacks
):
    server = receiver()
    user = UserFactory()
    with (
        hooks({"name": "crm", "url": server.url, "secret": SECRET}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        for step in REQUIRED:
            track(user, "wizard", step)

    events = [request["headers"]["Onboarding-Event"] for request in server.requests]
    assert events == ["step_completed"] * 4 + ["flow_finished"]
    for request in server.requests:
        signature = request["headers"][SIGNATURE_HEADER]
        assert verify(SECRET, request["body"], signature)
        assert not verify("another-secret-123", request["body"], signature)
    first = json.loads(server.requests[0]["body"])
    assert first["event"] == "step_completed"
    assert (first["flow"], first["step"], first["outcome"]) == ("wizard", "signup", "completed")
    assert first["subject"] == {"type": "auth.user", "id": str(user.pk)}
    assert first["id"] == server.requests[0]["headers"]["Onboarding-Delivery"]
    finished = json.loads(server.requests[-1]["body"])
    assert finished["event"] == "flow_finished" and finished["flow"] == "wizard"
    assert WebhookDelivery.objects.filter(status="delivered", attempts=1).count() == 5
    assert set(WebhookDelivery.objects.values_list("response_status", flat=True)) == {200}


def test_a_failing_endpoint_is_retried_until_it_answers_2xx(
    receiver, django_capture_on_commit_callbacks
):
    server = receiver(500, 503, 200)
    with (
        hooks({"url": server.url, "secret": SECRET, "events": ["step_completed"]}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")

    assert len(server.requests) == 3
    ids = {request["headers"]["Onboarding-Delivery"] for request in server.requests}
    bodies = {request["body"] for request in server.requests}
    assert len(ids) == 1 and len(bodies) == 1  # the same delivery, the same body
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert delivery.last_error == ""


def test_an_endpoint_failing_past_the_last_retry_is_logged_failed(
    receiver, django_capture_on_commit_callbacks
):
    server = receiver(500)
    with (
        hooks({"url": server.url, "secret": SECRET}, WEBHOOK_MAX_RETRIES=2),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")

    assert len(server.requests) == 3  # the first try and two retries
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 3, 500)
    assert delivery.last_error == "HTTP 500"


def test_an_unreachable_endpoint_is_retried_and_logged(django_capture_on_commit_callbacks):
    with (
        hooks({"url": "http://127.0.0.1:9/hook", "secret": SECRET}, WEBHOOK_MAX_RETRIES=1),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.last_error == "could not connect"  # not "refused": see test_webhooks_faults


def test_endpoints_filter_by_event_and_flow(receiver, django_capture_on_commit_callbacks):
    server = receiver()
    with (
        hooks(
            {"name": "a", "url": server.url, "secret": SECRET, "flows": ["checklist"]},
            {"name": "b", "url": server.url, "secret": SECRET, "events": ["flow_finished"]},
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")
        track(UserFactory(), "checklist", "a")

    assert list(WebhookDelivery.objects.values_list("endpoint", "flow_key", "step_key")) == [
        ("a", "checklist", "a")
    ]


def test_an_event_rolled_back_sends_nothing(receiver):
    from django.db import transaction

    server = receiver()
    with (
        hooks({"url": server.url, "secret": SECRET}),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        track(UserFactory(), "wizard", "signup")
        raise RuntimeError("the view failed after tracking")

    assert WebhookDelivery.objects.count() == 0
    assert server.requests == []


def test_no_endpoints_no_rows():
    track(UserFactory(), "wizard", "signup")

    assert WebhookDelivery.objects.count() == 0


def test_signatures_expire_and_depend_on_the_body():
    body = b'{"a":1}'
    header = sign(SECRET, body, timestamp=1_000_000)

    assert verify(SECRET, body, header, now=1_000_100)
    assert not verify(SECRET, body, header, now=1_000_000 + 301)
    assert not verify(SECRET, b'{"a":2}', header, now=1_000_100)
    assert not verify(SECRET, body, "v1=abc", now=1_000_100)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"url": "ftp://x.example.com", "secret": SECRET}, "must be an http(s) URL"),
        ({"url": "https://x.example.com", "secret": "short"}, "16 characters"),
        ({"url": "https://x.example.com", "secret": SECRET, "events": ["x"]}, "unknown events"),
        ({"url": "https://x.example.com", "secret": SECRET, "retries": 3}, "unknown keys"),
    ],
)
def test_a_bad_endpoint_is_a_check_error_naming_it(endpoint, message):
    with override_settings(ONBOARDING={"WEBHOOKS": [endpoint]}):
        [error] = check_webhooks()
        with pytest.raises(WebhookConfigError, match=r"WEBHOOKS\"\]\[0\]"):
            endpoints()

    assert error.id == "onboarding.E015" and error.hint
    assert message in error.msg


def test_admin_lists_deliveries_and_redelivers_failed_ones(
    admin_client, receiver, django_capture_on_commit_callbacks
):
    server = receiver(500, 200)
    with hooks({"url": server.url, "secret": SECRET}, WEBHOOK_MAX_RETRIES=0):
        with django_capture_on_commit_callbacks(execute=True):
            track(UserFactory(username="ada"), "wizard", "signup")
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "failed"

        url = reverse("admin:onboarding_webhookdelivery_changelist")
        page = admin_client.get(url, {"status__exact": "failed"})
        assert page.status_code == 200
        assert "ada" in page.content.decode()
        admin_client.post(url, {"action": "redeliver", "_selected_action": [str(delivery.pk)]})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
