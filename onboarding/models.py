"""Database state: the mirror of declared flows, the event log and derived progress."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.subject_fields import SubjectFields, SubjectType


class Outcome(models.TextChoices):
    COMPLETED = "completed", _("completed")
    DEFAULTED = "defaulted", _("accepted the default")
    SKIPPED = "skipped", _("skipped")
    DISMISSED = "dismissed", _("dismissed")


class EventKind(models.TextChoices):
    VIEWED = "viewed", _("viewed")
    STARTED = "started", _("started")
    COMPLETED = "completed", _("completed")
    DEFAULTED = "defaulted", _("accepted the default")
    SKIPPED = "skipped", _("skipped")
    DISMISSED = "dismissed", _("dismissed")
    NUDGED = "nudged", _("nudged")


class FlowRecord(models.Model):
    """The database mirror of a flow declared in code (see ``onboarding.sync``)."""

    key = models.SlugField(_("key"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    ordered = models.BooleanField(_("ordered"), default=True)
    window_days = models.PositiveIntegerField(_("conversion window (days)"), default=14)
    variants = models.JSONField(_("variants"), default=dict, blank=True)
    declared = models.BooleanField(
        _("declared"), default=True, help_text=_("Still declared in an onboarding_flows module.")
    )
    current_version = models.ForeignKey(
        "FlowVersion",
        verbose_name=_("current version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    synced_at = models.DateTimeField(_("synced at"), default=timezone.now)
    # Set (for good) before a funnel rollup first counts the flow: from then on late
    # events mark the cohorts they change (onboarding.rollups.stale).
    rollup_counted = models.BooleanField(_("counted by a rollup"), default=False)

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ["key"]
        permissions = [("view_funnel", _("Can view funnel reports"))]

    def __str__(self) -> str:
        return self.key


class FlowVersion(models.Model):
    """One structure of a flow's steps. A subject keeps the version it entered with."""

    flow = models.ForeignKey(
        FlowRecord, verbose_name=_("flow"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("number"))
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    # The steps as they were synced: [{"key", "title", "optional", "estimated_seconds",
    # "completed_by", "has_default"}]. Read by progress so that it needs no extra query.
    steps = models.JSONField(_("steps"), default=list)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("flow version")
        verbose_name_plural = _("flow versions")
        ordering = ["flow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="onboarding_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.flow.key} v{self.number}"

    @property
    def step_keys(self) -> list[str]:
        return [step["key"] for step in self.steps]


class StepRecord(models.Model):
    """A step of one flow version, mirrored for admin and foreign keys."""

    version = models.ForeignKey(
        FlowVersion,
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="step_records",
    )
    key = models.SlugField(_("key"), max_length=100)
    position = models.PositiveIntegerField(_("position"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    url = models.CharField(_("URL or URL name"), max_length=500, blank=True)
    optional = models.BooleanField(_("optional"), default=False)
    estimated_seconds = models.PositiveIntegerField(_("estimated seconds"), default=0)
    completed_by = models.CharField(_("completed by event"), max_length=50, blank=True)
    has_default = models.BooleanField(_("has a smart default"), default=False)
    has_predicate = models.BooleanField(_("has a predicate"), default=False)

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="onboarding_step_unique")
        ]

    def __str__(self) -> str:
        return self.key


class Progress(SubjectFields):
    """Per-subject, per-flow state derived from the subject's events."""

    flow = models.ForeignKey(
        FlowRecord, verbose_name=_("flow"), on_delete=models.PROTECT, related_name="progress"
    )
    version = models.ForeignKey(
        FlowVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="progress"
    )
    subject_label = models.CharField(
        _("subject"), max_length=255, blank=True, help_text=_("str() of the subject at entry.")
    )
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    # None while the subject has only the app's own events (``nudged``): not entered.
    entered_at = models.DateTimeField(_("entered at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    last_event_at = models.DateTimeField(_("last event at"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("progress")
        verbose_name_plural = _("progress")
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "subject_type", "subject_id"], name="onboarding_progress_unique"
            )
        ]
        indexes = [models.Index(fields=["flow", "entered_at"], name="onboarding_prog_entered")]

    def __str__(self) -> str:
        return f"{self.flow.key}: {self.subject_label or self.subject_id}"


class StepState(models.Model):
    """A subject's state of one step: its first completion and outcome."""

    # No index of their own: the unique (progress, step_key) index serves every lookup,
    # and each extra index is one more write per new step state.
    progress = models.ForeignKey(
        Progress,
        verbose_name=_("progress"),
        on_delete=models.CASCADE,
        related_name="step_states",
        db_index=False,
    )
    step_key = models.SlugField(_("step"), max_length=100, db_index=False)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    completed_at = models.DateTimeField(
        _("completed at"), null=True, blank=True, help_text=_("First completion, by occurred_at.")
    )
    first_seen_at = models.DateTimeField(_("first seen at"), null=True, blank=True)
    skipped_at = models.DateTimeField(_("skipped or dismissed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("step state")
        verbose_name_plural = _("step states")
        constraints = [
            models.UniqueConstraint(fields=["progress", "step_key"], name="onboarding_state_unique")
        ]

    def __str__(self) -> str:
        return f"{self.step_key}: {self.outcome or '-'}"

    @property
    def done(self) -> bool:
        return self.completed_at is not None


class Event(SubjectFields):
    """One append-only row of the funnel log. ``id`` is the client's idempotency key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    flow = models.ForeignKey(
        FlowRecord, verbose_name=_("flow"), on_delete=models.PROTECT, related_name="events"
    )
    step_key = models.CharField(_("step"), max_length=100, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=50)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    version = models.ForeignKey(
        FlowVersion,
        verbose_name=_("version"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=30, default="server")
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(
                fields=["flow", "subject_type", "subject_id", "occurred_at"],
                name="onboarding_event_subject",
            ),
            models.Index(fields=["flow", "occurred_at"], name="onboarding_event_flow_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.flow_id}/{self.step_key or '-'}"


class Checkpoint(models.Model):
    """Where a resumable job (backfill, rollup) got to."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    value = models.JSONField(_("value"), default=dict)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return self.name


class ErasedSubject(SubjectType):
    """A subject whose data was erased (GDPR), known only by its pseudonym, so that its
    later events are refused (see ``onboarding.erase``)."""

    pseudonym = models.CharField(_("pseudonym"), max_length=64)
    erased_at = models.DateTimeField(_("erased at"), default=timezone.now)

    class Meta:
        verbose_name = _("erased subject")
        verbose_name_plural = _("erased subjects")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "pseudonym"], name="onboarding_erased_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_type_id}:{self.pseudonym}"


# The API key model lives with the API; imported here so Django registers it.
from onboarding.api.models import ApiKey  # noqa: E402, F401

# The funnel's per-subject rows live with the funnel.
from onboarding.funnel.pathmodel import FunnelPath  # noqa: E402, F401

# Health scores live with the health package.
from onboarding.health.models import HealthScore  # noqa: E402, F401

# Nudge rules, deliveries, opt-outs and logins live with the nudges; imported here too.
from onboarding.nudges.models import (  # noqa: E402, F401
    Login,
    NudgeDelivery,
    NudgeOptOut,
    NudgeRule,
)

# The funnel rollup lives with the rollups.
from onboarding.rollups.models import FunnelRollup, StaleCohort  # noqa: E402, F401

# Webhook deliveries live with the webhooks.
from onboarding.webhooks.models import WebhookDelivery  # noqa: E402, F401
