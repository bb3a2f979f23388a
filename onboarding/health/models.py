"""One health score per subject, recomputed by the ``onboarding.health.score`` task."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.subject_fields import CascadingSubjectFields


class Segment(models.TextChoices):
    NEW = "new", _("new")
    ACTIVE = "active", _("active")
    DECLINING = "declining", _("declining")
    LAPSED = "lapsed", _("lapsed")


class HealthScore(CascadingSubjectFields):
    """A subject's score (0-100) and segment at its last computation."""

    subject_label = models.CharField(_("subject"), max_length=255, blank=True)
    score = models.PositiveSmallIntegerField(_("score"))
    previous_score = models.PositiveSmallIntegerField(_("previous score"), null=True, blank=True)
    segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices)
    progress = models.FloatField(_("progress"), help_text=_("Share of required steps done."))
    recency = models.FloatField(
        _("recency"), help_text=_("1 when active lately, falling to 0 when lapsed.")
    )
    # Comma-framed kinds (",few_logins,slow_step,") so that any database can filter them.
    red_flags = models.CharField(_("red flags"), max_length=200, blank=True)
    entered_at = models.DateTimeField(_("entered at"))
    last_activity_at = models.DateTimeField(_("last activity at"))
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        app_label = "onboarding"
        verbose_name = _("health score")
        verbose_name_plural = _("health scores")
        ordering = ["score"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id"], name="onboarding_health_unique"
            )
        ]
        indexes = [models.Index(fields=["segment", "score"], name="onboarding_health_segment")]

    def __str__(self) -> str:
        return f"{self.subject_label or self.subject_id}: {self.score} ({self.segment})"

    @property
    def flags(self) -> list[str]:
        return [flag for flag in self.red_flags.split(",") if flag]
