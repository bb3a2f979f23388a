"""Nudge state: the mirror of declared rules, one delivery row per rule and subject,
opt-outs and logins. Imported by ``onboarding.models`` so they belong to that app."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.subject_fields import CascadingSubjectFields, SubjectFields


class NudgeRule(models.Model):
    """The database mirror of a rule declared with ``register_rule`` (for admin and keys)."""

    key = models.CharField(_("key"), max_length=150, unique=True)
    flow = models.ForeignKey(
        "onboarding.FlowRecord",
        verbose_name=_("flow"),
        on_delete=models.PROTECT,
        related_name="nudge_rules",
    )
    kind = models.CharField(_("kind"), max_length=50)
    step_key = models.CharField(_("step"), max_length=100, blank=True)
    params = models.JSONField(_("options"), default=dict, blank=True)
    template = models.CharField(_("template"), max_length=200)
    holdout = models.FloatField(_("holdout share"))
    description = models.TextField(_("description"), blank=True)
    declared = models.BooleanField(
        _("declared"), default=True, help_text=_("Still declared in an onboarding_flows module.")
    )
    synced_at = models.DateTimeField(_("synced at"), default=timezone.now)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("nudge rule")
        verbose_name_plural = _("nudge rules")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    HELD_OUT = "held_out", _("held out")
    FAILED = "failed", _("failed")
    OPTED_OUT = "opted_out", _("opted out")
    NO_RECIPIENT = "no_recipient", _("no recipient")


class NudgeDelivery(SubjectFields):
    """A rule's nudge for one subject. The unique row is claimed before any e-mail goes
    out, which makes a nudge at most once per rule and subject."""

    rule = models.ForeignKey(
        NudgeRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="deliveries"
    )
    progress = models.ForeignKey(
        "onboarding.Progress",
        verbose_name=_("progress"),
        on_delete=models.CASCADE,
        related_name="nudge_deliveries",
    )
    subject_label = models.CharField(_("subject"), max_length=255, blank=True)
    step_key = models.CharField(
        _("step"),
        max_length=100,
        blank=True,
        help_text=_("The step the nudge pushes towards; its conversion measures the lift."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    attempts = models.PositiveIntegerField(_("send attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # Which evaluation run inserted the row: tells it which rows it claimed.
    claim = models.UUIDField(_("claim"), default=uuid.uuid4, editable=False, db_index=True)
    created_at = models.DateTimeField(_("due at"), default=timezone.now)
    # Wall-clock time the current send attempt was queued or started (a retry: when it
    # is due). A pending row past it by NUDGE_SWEEP_AFTER_SECONDS lost its task.
    attempt_at = models.DateTimeField(
        _("attempt at"),
        default=timezone.now,
        help_text=_("When the last send attempt was queued or started, or the next is due."),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("nudge delivery")
        verbose_name_plural = _("nudge deliveries")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_type", "subject_id"], name="onboarding_nudge_once"
            )
        ]
        indexes = [
            models.Index(fields=["rule", "status"], name="onboarding_nudge_status"),
            models.Index(fields=["status", "attempt_at"], name="onboarding_nudge_sweep"),
        ]

    def __str__(self) -> str:
        return f"{self.rule.key}: {self.subject_label or self.subject_id} ({self.status})"


class NudgeOptOut(CascadingSubjectFields):
    """A subject that wants no more nudges (from the unsubscribe link, or staff)."""

    source = models.CharField(_("source"), max_length=30, default="unsubscribe")
    created_at = models.DateTimeField(_("opted out at"), default=timezone.now)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("nudge opt-out")
        verbose_name_plural = _("nudge opt-outs")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id"], name="onboarding_optout_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_type.model} {self.subject_id}"


class Login(CascadingSubjectFields):
    """A login of a user, counted for the subject it acts for (red-flag rules)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("login")
        verbose_name_plural = _("logins")
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "at"], name="onboarding_login_subj")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.at:%Y-%m-%d %H:%M}"


# Logins are recorded from Django's ``user_logged_in`` signal; connected with the models.
from onboarding.nudges import activity  # noqa: E402, F401
