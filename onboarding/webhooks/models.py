"""The delivery log: one row per event and endpoint, shown in admin."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class WebhookDelivery(models.Model):
    """A webhook for one event and endpoint. ``id`` is sent along (``Onboarding-Delivery``)
    so that a receiver can drop a repeat."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.CharField(_("endpoint"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    event = models.CharField(_("event"), max_length=30)
    flow_key = models.CharField(_("flow"), max_length=100)
    step_key = models.CharField(_("step"), max_length=100, blank=True)
    subject_label = models.CharField(_("subject"), max_length=255, blank=True)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    response_status = models.PositiveIntegerField(_("last response status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # When the pending delivery's next attempt is due (or its attempt under way ends): a
    # row still pending well after it lost its task message (broker down at commit) and
    # is queued again by onboarding.webhooks.requeue.
    next_attempt_at = models.DateTimeField(_("next attempt due"), default=timezone.now)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="onboarding_webhook_status")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint} ({self.status})"


# Deliveries are recorded from the core's signals; connected with the models.
from onboarding.webhooks import receivers  # noqa: E402, F401
