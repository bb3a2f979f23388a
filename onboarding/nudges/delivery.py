"""Sending one claimed nudge: at most once, never to opted-out subjects, then ``nudged``.

The row moves ``pending -> sending`` in one conditional UPDATE before the e-mail goes
out, so two workers holding the same task cannot both send. A send that raises puts it
back to ``pending`` (Celery retries it); after the last retry it stays ``failed``. A
pending row whose task was lost is queued again by the sweeper (``nudges/sweep.py``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from onboarding.conf import onboarding_settings
from onboarding.nudges.models import DeliveryStatus, NudgeDelivery
from onboarding.nudges.optout import is_opted_out, unsubscribe_token
from onboarding.registry import get_flow

# Event ids of ``nudged`` events derive from the delivery: recording one twice is a no-op.
EVENT_NAMESPACE = uuid.UUID("6f1b5a0e-3c59-4c8e-9f6a-0d6c1f4f2a11")


class SendFailed(Exception):
    """The e-mail backend raised; the delivery is pending again and may be retried."""


def recipients(subject: Any) -> list[str]:
    """Addresses to nudge: the ``NUDGE_RECIPIENTS`` callable's, or a user's own e-mail."""
    custom = onboarding_settings.NUDGE_RECIPIENTS
    if custom is not None:
        return [address for address in custom(subject) if address]
    if isinstance(subject, get_user_model()):
        address = getattr(subject, subject.get_email_field_name(), "")
        return [address] if address else []
    return []


def unsubscribe_url(subject: Any) -> str:
    path = reverse("onboarding:nudge-unsubscribe", args=[unsubscribe_token(subject)])
    return onboarding_settings.NUDGE_BASE_URL.rstrip("/") + path


def build_message(delivery: NudgeDelivery, subject: Any, to: list[str]) -> EmailMultiAlternatives:
    """Render the rule's templates in the subject's language (HTML part optional)."""
    flow = get_flow(delivery.rule.flow.key)
    step = flow.step(delivery.step_key) if delivery.step_key in flow.step_keys else None
    link = unsubscribe_url(subject)
    base = delivery.rule.template
    language = onboarding_settings.NUDGE_LANGUAGE
    with translation.override((language and language(subject)) or settings.LANGUAGE_CODE):
        context = {
            "subject": subject,
            "flow": flow,
            "step": step,
            "step_url": step.resolve_url() if step else "",
            "rule": delivery.rule,
            "delivery": delivery,
            "unsubscribe_url": link,
            "base_url": onboarding_settings.NUDGE_BASE_URL.rstrip("/"),
        }
        title = " ".join(render_to_string(f"{base}_subject.txt", context).split())
        text = render_to_string(f"{base}.txt", context)
        try:
            html = render_to_string(f"{base}.html", context)
        except TemplateDoesNotExist:
            html = None
    message = EmailMultiAlternatives(
        subject=title,
        body=text,
        from_email=onboarding_settings.NUDGE_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=to,
        # One-click unsubscribe (RFC 8058): mail clients POST to the same link.
        headers={
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    return message


def _finish(delivery: NudgeDelivery, status: str, **fields: Any) -> str:
    NudgeDelivery.objects.filter(pk=delivery.pk).update(status=status, **fields)
    return status


def send_delivery(delivery_id: int) -> str:
    """Send a claimed delivery; returns its final status. Raises :class:`SendFailed`."""
    taken = NudgeDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, attempt_at=timezone.now()
    )
    delivery = NudgeDelivery.objects.select_related("rule__flow", "subject_type").get(
        pk=delivery_id
    )
    if not taken:  # sent, held out, or another worker has it
        return delivery.status
    subject = delivery.subject
    if subject is None:
        return _finish(delivery, DeliveryStatus.NO_RECIPIENT, last_error="subject is gone")
    if is_opted_out(subject):  # opted out between the claim and now
        return _finish(delivery, DeliveryStatus.OPTED_OUT)
    to = recipients(subject)
    if not to:
        return _finish(delivery, DeliveryStatus.NO_RECIPIENT)
    message = build_message(delivery, subject, to)
    try:
        message.send()
    except Exception as error:
        _finish(delivery, DeliveryStatus.PENDING, last_error=f"{type(error).__name__}: {error}")
        raise SendFailed(str(error)) from error
    _record_sent(delivery, subject, to)
    return DeliveryStatus.SENT


def _record_sent(delivery: NudgeDelivery, subject: Any, to: list[str]) -> None:
    from onboarding.tracking import track

    with transaction.atomic():
        _finish(
            delivery,
            DeliveryStatus.SENT,
            sent_at=timezone.now(),
            recipients=to,
            last_error="",
        )
        track(
            subject,
            delivery.rule.flow.key,
            delivery.step_key,
            kind="nudged",
            event_id=uuid.uuid5(EVENT_NAMESPACE, str(delivery.pk)),
            properties={"rule": delivery.rule.key, "delivery": delivery.pk},
            source="nudge",
        )


def schedule_retry(delivery_id: int, countdown: float) -> None:
    """The retry of a failed send is due in ``countdown`` seconds (the sweeper waits)."""
    NudgeDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        attempt_at=timezone.now() + timedelta(seconds=countdown)
    )


def mark_failed(delivery_id: int) -> None:
    """After the last retry: the delivery stays ``failed`` and is not sent again."""
    NudgeDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED
    )
