"""Webhook signatures: ``verify()`` never raises, accepts every ``v1`` (secret rotation),
and the Standard Webhooks format matches the specification and its own verifier."""

from __future__ import annotations

import json
import time

import pytest
from django.test import override_settings
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from onboarding import track
from onboarding.webhooks import new_secret, sign, sign_standard, verify, verify_standard
from onboarding.webhooks.checks import check_webhooks
from onboarding.webhooks.standard import key_of
from tests.factories import UserFactory
from tests.webhook_receiver import receivers

SECRET = "s3cret-s3cret-s3cret"
OLD_SECRET = "0ld-s3cret-0ld-s3cret"
BODY = b'{"id":"d1","event":"step_completed"}'
T = 1_700_000_000


@pytest.fixture
def receiver():
    yield from receivers()


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (BODY, None),
        (BODY, b"t=1,v1=00"),
        (BODY, ""),
        (BODY, "t=abc,v1=" + "0" * 64),
        (BODY, f"t={T}"),
        (BODY, f"t={T},t={T},v1=" + "0" * 64),
        (BODY, f"t=+{T},v1=" + "0" * 64),
        (BODY, f"t={T},v1=é" + "0" * 63),
        (BODY, f"t={T},v1"),
        (BODY, "=,=,,"),
        (None, sign(SECRET, BODY, timestamp=T)),
        (42, sign(SECRET, BODY, timestamp=T)),
    ],
)
def test_verify_is_false_on_anything_malformed(body, header):
    assert verify(SECRET, body, header, now=T) is False


def test_verify_takes_a_str_body_and_spaces_after_commas():
    header = sign(SECRET, BODY, timestamp=T)

    assert verify(SECRET, BODY.decode(), header, now=T)
    assert verify(SECRET, BODY, header.replace(",", ", "), now=T)
    assert not verify(None, BODY, header, now=T)


def test_every_v1_counts_so_secrets_can_rotate():
    both = sign([SECRET, OLD_SECRET], BODY, timestamp=T)
    only_old = sign(OLD_SECRET, BODY, timestamp=T)

    assert both.count("v1=") == 2
    # A receiver that knows either secret accepts, whichever v1 comes first or last.
    assert verify(SECRET, BODY, both, now=T)
    assert verify(OLD_SECRET, BODY, both, now=T)
    assert verify([SECRET, OLD_SECRET], BODY, only_old, now=T)
    assert not verify(SECRET, BODY, only_old, now=T)
    # A bogus v1 before or after the valid one changes nothing.
    bogus = "v1=" + "0" * 64
    assert not verify(SECRET, BODY, f"{only_old},{bogus}", now=T)
    valid = sign(SECRET, BODY, timestamp=T)
    assert verify(SECRET, BODY, f"t={T},{bogus},{valid.split(',')[1]},{bogus}", now=T)


def test_the_tolerance_holds_both_ways():
    header = sign(SECRET, BODY, timestamp=T)

    assert verify(SECRET, BODY, header, now=T + 300)
    assert verify(SECRET, BODY, header, now=T - 300)
    assert not verify(SECRET, BODY, header, now=T + 301)
    assert not verify(SECRET, BODY, header, now=T - 301)


@pytest.mark.django_db
def test_an_endpoint_with_previous_secrets_signs_with_each(
    receiver, django_capture_on_commit_callbacks
):
    server = receiver(200)
    endpoint = {
        "url": server.url,
        "secret": SECRET,
        "previous_secrets": [OLD_SECRET],
        "allow_private": True,
        "events": ["step_completed"],
    }
    with (
        override_settings(ONBOARDING={"WEBHOOKS": [endpoint]}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")

    [request] = server.requests
    header = request["headers"]["Onboarding-Signature"]
    assert header.count("v1=") == 2
    assert verify(SECRET, request["body"], header)
    assert verify(OLD_SECRET, request["body"], header)


# Standard Webhooks -----------------------------------------------------------------

# The specification's test vector (standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py, test_sign_function).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_signatures_match_the_specifications_test_vector():
    headers = sign_standard(VECTOR_SECRET, VECTOR_ID, VECTOR_BODY, timestamp=VECTOR_TIMESTAMP)

    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    assert verify_standard(VECTOR_SECRET, VECTOR_BODY, headers, now=VECTOR_TIMESTAMP)
    # The prefix is optional, header names are read in any case.
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify_standard(VECTOR_SECRET[6:], VECTOR_BODY, upper, now=VECTOR_TIMESTAMP)


def test_verify_standard_accepts_any_v1_and_is_false_on_anything_malformed():
    old, new = new_secret(), new_secret()
    headers = sign_standard([new, old], "msg_1", BODY, timestamp=T)
    signatures = headers["webhook-signature"].split(" ")

    assert len(signatures) == 2
    assert verify_standard(old, BODY, headers, now=T)
    assert verify_standard(new, BODY.decode(), headers, now=T)
    rotated = {**headers, "webhook-signature": f"v1a,xyz v2,abc {signatures[1]}"}
    assert verify_standard(old, BODY, rotated, now=T)
    for broken in [
        None,
        {},
        {**headers, "webhook-id": "msg_2"},
        {**headers, "webhook-timestamp": "soon"},
        {**headers, "webhook-timestamp": str(T - 301)},
        {**headers, "webhook-signature": "v1,é"},
        {**headers, "webhook-signature": None},
    ]:
        assert verify_standard(new, BODY, broken, now=T) is False
    assert verify_standard("whsec_not base64!", BODY, headers, now=T) is False
    assert verify_standard(new, None, headers, now=T) is False


@pytest.mark.django_db
def test_a_standard_endpoint_is_verified_by_the_off_the_shelf_library(
    receiver, django_capture_on_commit_callbacks
):
    server = receiver(200)
    secret = new_secret()
    endpoint = {
        "url": server.url,
        "secret": secret,
        "format": "standard",
        "allow_private": True,
        "events": ["step_completed"],
    }
    with (
        override_settings(ONBOARDING={"WEBHOOKS": [endpoint]}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        track(UserFactory(), "wizard", "signup")

    [request] = server.requests
    headers = {name.lower(): value for name, value in request["headers"].items()}
    payload = Webhook(secret).verify(request["body"], headers)  # raises if not valid
    assert payload == json.loads(request["body"])
    assert headers["webhook-id"] == payload["id"] == headers["onboarding-delivery"]
    assert "onboarding-signature" not in headers
    assert verify_standard(secret, request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request["body"], headers)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


@pytest.mark.parametrize(
    "secret", [SECRET, "whsec_" + "A" * 8, "whsec_not base64!", "whsec_" + "QUJD" * 30]
)
def test_a_standard_endpoint_needs_a_whsec_secret(secret):
    endpoint = {"url": "https://hooks.example.com/x", "secret": secret, "format": "standard"}
    with override_settings(ONBOARDING={"WEBHOOKS": [endpoint]}):
        [error] = check_webhooks()

    assert error.id == "onboarding.E015"
    assert "whsec_" in error.msg and "['secret']" in error.msg


def test_new_secrets_are_valid_standard_secrets():
    secret = new_secret()

    assert secret.startswith("whsec_") and len(key_of(secret)) == 32
    assert new_secret() != secret
