"""Sending one delivery: a signed POST; a 2xx answer delivers it, anything else fails.

What the log keeps of a failure is the answer's status or one uniform "could not
connect": it is shown in admin, and must not tell open, closed and filtered ports
apart. The details go to the ``onboarding.webhooks`` logger.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.webhooks import transport
from onboarding.webhooks.config import Endpoint, endpoint
from onboarding.webhooks.models import WebhookDelivery, WebhookStatus
from onboarding.webhooks.signing import SIGNATURE_HEADER, sign
from onboarding.webhooks.standard import sign_standard

logger = logging.getLogger("onboarding.webhooks")

COULD_NOT_CONNECT = "could not connect"


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx (or not at all); the task retries unless
    ``final`` (an address refused: retrying would change nothing)."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def headers_of(config: Endpoint, delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    """The request's headers, signed at each attempt: the timestamp is fresh, the body
    and the delivery id the same."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "django-onboarding-webhooks",
        "Onboarding-Event": delivery.event,
        "Onboarding-Delivery": str(delivery.pk),
        "Connection": "close",
    }
    if config.format == "standard":
        headers.update(sign_standard(config.secrets, str(delivery.pk), body))
    else:
        headers[SIGNATURE_HEADER] = sign(config.secrets, body)
    return headers


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
    timeout = onboarding_settings.WEBHOOK_TIMEOUT_SECONDS
    # Due again once this attempt's deadline has passed: the sweep leaves it alone until
    # then, and picks it up if the worker dies without a word.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, next_attempt_at=timezone.now() + timedelta(seconds=timeout)
    )
    try:
        code = transport.post(
            delivery.url,
            body,
            headers_of(config, delivery, body),
            timeout=timeout,
            allow_private=config.allow_private,
        )
    except transport.AddressRefused as error:
        message = f"refused: {error} (the endpoint's allow_private would allow it)"
        _finish(delivery, WebhookStatus.FAILED, error=message)
        raise DeliveryFailed(f"{delivery.url}: {message}", final=True) from error
    except transport.ConnectFailed as error:
        logger.info("Webhook delivery %s to %s: %s", delivery.pk, delivery.url, error)
        _finish(delivery, WebhookStatus.PENDING, error=COULD_NOT_CONNECT)
        raise DeliveryFailed(f"{delivery.url}: {COULD_NOT_CONNECT}") from error
    if 200 <= code < 300:
        _finish(delivery, WebhookStatus.DELIVERED, code=code, delivered_at=timezone.now())
        return WebhookStatus.DELIVERED
    # A redirect is a failure like any other: following it would send the signed
    # request somewhere nobody configured.
    answer = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    _finish(delivery, WebhookStatus.PENDING, code=code, error=answer)
    raise DeliveryFailed(f"{delivery.url} answered {code}")


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


def schedule_retry(delivery_id: str, countdown: float) -> None:
    """Record when the retry is due, so the sweep knows a late one from a lost one."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.PENDING).update(
        next_attempt_at=timezone.now() + timedelta(seconds=countdown)
    )


def mark_failed(delivery_id: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookStatus.PENDING).update(
        status=WebhookStatus.FAILED
    )
