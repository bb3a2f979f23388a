"""The rollup table: one row per (flow, entry day, variant, version, step, time bucket)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class FunnelRollup(models.Model):
    """How many subjects of one entry-day cohort reached step ``k`` in time ``bucket``.

    ``k`` is 0 for entry, ``i + 1`` for step i and ``len(steps) + 1`` for finishing, as
    in ``onboarding.funnel.statements``; ``bucket`` is a geometric time bucket
    (``onboarding.rollups.buckets``) of the time from the step's anchor.
    """

    flow = models.ForeignKey(
        "onboarding.FlowRecord", verbose_name=_("flow"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("entry day"))
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    version = models.ForeignKey(
        "onboarding.FlowVersion",
        verbose_name=_("version"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    k = models.PositiveSmallIntegerField(_("step position"))
    bucket = models.PositiveSmallIntegerField(_("time bucket"))
    subjects = models.PositiveIntegerField(_("subjects"))
    defaulted = models.PositiveIntegerField(_("accepted the default"))

    class Meta:
        verbose_name = _("funnel rollup row")
        verbose_name_plural = _("funnel rollup rows")
        indexes = [models.Index(fields=["flow", "day"], name="onboarding_rollup_day")]

    def __str__(self) -> str:
        return f"{self.flow_id} {self.day} {self.variant} k={self.k} b={self.bucket}"


class StaleCohort(models.Model):
    """A UTC day of entries whose counts a late event changed (``onboarding.rollups.stale``).

    Written by ``track_many`` (rows are only added: concurrent batches never wait on each
    other here) and taken by the next refresh, which recounts the local entry days the
    UTC day overlaps.
    """

    flow = models.ForeignKey(
        "onboarding.FlowRecord", verbose_name=_("flow"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("entry day (UTC)"))

    class Meta:
        verbose_name = _("stale rollup cohort")
        verbose_name_plural = _("stale rollup cohorts")

    def __str__(self) -> str:
        return f"{self.flow_id} {self.day}"
