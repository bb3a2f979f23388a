"""Sending one delivery: a signed POST; a 2xx answer delivers it, anything else fails."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.db.models import F
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.webhooks.config import endpoint
from onboarding.webhooks.models import WebhookDelivery, WebhookStatus
from onboarding.webhooks.signing import SIGNATURE_HEADER, sign


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx (or not at all); the task retries."""


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def deliver(delivery_id: str) -> str:
    """POST a pending delivery; returns its status. Raises :class:`DeliveryFailed`."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookStatus.PENDING:
        return delivery.status if delivery else "gone"
    config = endpoint(delivery.endpoint)
    if config is None:
        _finish(delivery, WebhookStatus.FAILED, error="the endpoint is no longer configured")
        return WebhookStatus.FAILED
    body = body_of(delivery)
    request = urllib.request.Request(
        delivery.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "django-onboarding-webhooks",
            "Onboarding-Event": delivery.event,
            "Onboarding-Delivery": str(delivery.pk),
            # Signed at each attempt: the timestamp is fresh, the body the same.
            SIGNATURE_HEADER: sign(config.secret, body),
        },
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    try:
        # http(s) only: the URL's scheme is checked with the configuration.
        with urllib.request.urlopen(
            request, timeout=onboarding_settings.WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            code = response.status
    except urllib.error.HTTPError as error:
        _finish(delivery, WebhookStatus.PENDING, code=error.code, error=f"HTTP {error.code}")
        raise DeliveryFailed(f"{delivery.url} answered {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        _finish(delivery, WebhookStatus.PENDING, error=f"{type(error).__name__}: {error}")
        raise DeliveryFailed(f"{delivery.url}: {error}") from error
    _finish(delivery, WebhookStatus.DELIVERED, code=code, delivered_at=timezone.now())
    return WebhookStatus.DELIVERED


def _finish(
    delivery: WebhookDelivery,
    status: str,
    *,
    code: int | None = None,
    error: str = "",
    delivered_at: object = None,
) -> None:
    fields: dict[str, object] = {"status": status, "last_error": error[:2000]}
    if code is not None:
        fields["response_status"] = code
    if delivered_at is not None:
        fields["delivered_at"] = delivered_at
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


def mark_failed(delivery_id: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.PENDING).update(
        status=WebhookStatus.FAILED
    )
