"""``FunnelPath``: one narrow row per subject and flow, the exact funnel's input.

The funnel needs, per subject, its entry, variant, version, each step's first
completion and which completions were ``defaulted``. Joining Progress with its
StepState rows and grouping per subject on every query costs seconds at a million
subjects; this row holds the result of that pivot, kept exact by the write path
(``onboarding.funnel.paths.save_paths``, in ``track_many``'s transaction).

Times are integer microseconds since the epoch: exact, and the cheapest values to
compare, subtract and sort on both PostgreSQL and SQLite (which has no native time
type). Step ``p`` of the subject's *version* (its position in ``FlowVersion.steps``)
is column ``t<p>``; bit ``p`` of ``defaulted`` is set when that completion was a
``defaulted`` one. Fixed columns rather than an array: SQLite has no arrays, and a
NULL column costs a bit (PostgreSQL) or a byte (SQLite). Positions are per version
because a subject keeps its version's steps; the query maps the declared steps' keys
to each version's positions (``onboarding.funnel.sql.path_select``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Step p's "defaulted" flag is bit p of a signed 64-bit integer.
MAX_STEPS = 62


def time_field(position: int) -> str:
    """The name (and column) of the first-completion time of a version's step ``position``."""
    return f"t{position}"


class FunnelPath(models.Model):
    """A subject's funnel in one flow: entry, variant, version and step times (µs)."""

    progress = models.OneToOneField(
        "onboarding.Progress",
        verbose_name=_("progress"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Copies of the progress row's columns, so the funnel reads no other table. Their
    # constraints are the progress row's: none here, keeping the write path's cost low.
    flow = models.ForeignKey(
        "onboarding.FlowRecord",
        verbose_name=_("flow"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    version = models.ForeignKey(
        "onboarding.FlowVersion",
        verbose_name=_("version"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    variant = models.CharField(_("variant"), max_length=50, blank=True)
    entered = models.BigIntegerField(_("entered (µs since the epoch)"))
    defaulted = models.BigIntegerField(_("defaulted steps (bit mask)"), default=0)

    class Meta:
        verbose_name = _("funnel path")
        verbose_name_plural = _("funnel paths")
        indexes = [models.Index(fields=["flow", "entered"], name="onboarding_path_entered")]

    def __str__(self) -> str:
        return f"{self.flow_id}: progress {self.progress_id}"


for _position in range(MAX_STEPS):
    FunnelPath.add_to_class(
        time_field(_position),
        # Named like the column: a gettext_lazy() template formatted at import time
        # would be translated before the app registry is ready.
        models.BigIntegerField(time_field(_position), null=True, blank=True),
    )
