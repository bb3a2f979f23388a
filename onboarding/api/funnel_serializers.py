"""What ``GET flows/{flow}/funnel/`` reads (its filters) and writes (the typed funnel result).

Durations are seconds, rates fractions (0.25 is 25 %), ``null`` when undefined
(nobody reached the step, nothing to divide by).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from onboarding.api.experiment_serializers import ExperimentSerializer
from onboarding.experiments import METHODS, Method
from onboarding.funnel import BREAKDOWNS, FunnelResult, VariantComparison


class FunnelFiltersSerializer(serializers.Serializer):
    """Query parameters. ``variant`` and ``version`` repeat (or take comma-separated lists)."""

    entered_from = serializers.DateField(
        required=False, help_text="First local date of entry counted (inclusive)."
    )
    entered_to = serializers.DateField(
        required=False, help_text="Last local date of entry counted (inclusive)."
    )
    window_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Conversion window in days; default the flow's.",
    )
    variant = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        max_length=50,
        help_text="Only these variants.",
    )
    version = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        max_length=50,
        help_text="Only subjects who entered on these version numbers.",
    )
    breakdown = serializers.ChoiceField(
        choices=BREAKDOWNS,
        required=False,
        help_text="Add a result per group; by variant, the experiment (and with exactly two "
        "groups, a comparison).",
    )
    test = serializers.ChoiceField(
        choices=METHODS,
        required=False,
        help_text="The verdicts' test: sequential (always valid; default EXPERIMENT_TEST) or "
        "fixed (the z-test, valid only at a sample size fixed in advance).",
    )

    def to_internal_value(self, data: Any) -> Any:
        # ?variant=a,b reads like ?variant=a&variant=b.
        if hasattr(data, "getlist"):
            data = {
                key: (
                    [part for value in data.getlist(key) for part in value.split(",") if part]
                    if key in ("variant", "version")
                    else data.get(key)
                )
                for key in data
            }
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("entered_from"), attrs.get("entered_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"entered_to": [_("Must not be before entered_from.")]}
            )
        return attrs


class SecondsField(serializers.FloatField):
    """A ``timedelta`` as seconds."""

    def to_representation(self, value: timedelta) -> float:  # type: ignore[override]
        return value.total_seconds()


class FunnelStepSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    optional = serializers.BooleanField()
    previous = serializers.CharField(
        allow_null=True, help_text="The step this one is measured from; null: entry."
    )
    reached = serializers.IntegerField()
    previous_reached = serializers.IntegerField()
    conversion_from_previous = serializers.FloatField(allow_null=True)
    conversion_from_entry = serializers.FloatField(allow_null=True)
    drop_off = serializers.IntegerField(help_text="Lost since the previous step.")
    defaulted = serializers.IntegerField(help_text="Reached by accepting the smart default.")
    defaulted_share = serializers.FloatField(allow_null=True)
    median_seconds = SecondsField(source="median_time", allow_null=True)
    p90_seconds = SecondsField(source="p90_time", allow_null=True)


class FunnelGroupSerializer(serializers.Serializer):
    """The funnel of one population: everyone, or one breakdown group."""

    entered = serializers.IntegerField()
    finished = serializers.IntegerField()
    finish_rate = serializers.FloatField(allow_null=True)
    median_seconds_to_finish = SecondsField(source="median_time_to_finish", allow_null=True)
    p90_seconds_to_finish = SecondsField(source="p90_time_to_finish", allow_null=True)
    steps = FunnelStepSerializer(many=True)


class BreakdownGroupSerializer(FunnelGroupSerializer):
    group = serializers.CharField(help_text="Variant, version number or entry week (Monday).")


class StepComparisonSerializer(serializers.Serializer):
    """Reach from entry to a step, a secondary metric (unless it is the primary one)."""

    key = serializers.CharField()
    title = serializers.CharField()
    rate_a = serializers.FloatField(source="test.rate_a", allow_null=True, default=None)
    rate_b = serializers.FloatField(source="test.rate_b", allow_null=True, default=None)
    difference = serializers.FloatField(source="test.difference", allow_null=True, default=None)
    lower = serializers.FloatField(source="test.lower", allow_null=True, default=None)
    upper = serializers.FloatField(source="test.upper", allow_null=True, default=None)
    p_value = serializers.FloatField(source="test.p_value", allow_null=True, default=None)
    adjusted_p_value = serializers.FloatField(
        allow_null=True, help_text="Holm-corrected over the secondary metrics."
    )
    significant = serializers.BooleanField()


class ComparisonSerializer(serializers.Serializer):
    """Variant b against the control a: finish rates, the test (``method``), the verdict
    on the primary metric. ``experiment`` has the same figures for any number of variants."""

    a = serializers.CharField()
    b = serializers.CharField()
    entered_a = serializers.IntegerField()
    entered_b = serializers.IntegerField()
    finished_a = serializers.IntegerField()
    finished_b = serializers.IntegerField()
    rate_a = serializers.FloatField(source="test.rate_a", allow_null=True, default=None)
    rate_b = serializers.FloatField(source="test.rate_b", allow_null=True, default=None)
    difference = serializers.FloatField(
        source="test.difference", allow_null=True, default=None, help_text="rate_b - rate_a."
    )
    lower = serializers.FloatField(
        source="test.lower", allow_null=True, default=None, help_text="Interval of difference."
    )
    upper = serializers.FloatField(source="test.upper", allow_null=True, default=None)
    z = serializers.FloatField(source="test.z", allow_null=True, default=None)
    p_value = serializers.FloatField(
        source="test.p_value", allow_null=True, default=None, help_text="Two-sided, by method."
    )
    method = serializers.ChoiceField(choices=METHODS)
    primary = serializers.CharField(help_text="The metric the verdict judges.")
    significant = serializers.BooleanField(help_text="On the primary metric.")
    more_needed = serializers.IntegerField(
        allow_null=True,
        help_text="Subjects per variant still needed to detect the minimum detectable effect.",
    )
    verdict = serializers.CharField()
    steps = StepComparisonSerializer(many=True)


class FunnelFiltersEchoSerializer(serializers.Serializer):
    entered_from = serializers.DateField(allow_null=True)
    entered_to = serializers.DateField(allow_null=True)
    window_days = serializers.IntegerField(source="effective_window_days")
    variants = serializers.ListField(child=serializers.CharField())
    versions = serializers.ListField(child=serializers.IntegerField())
    breakdown = serializers.CharField(allow_null=True)


class FunnelReportSerializer(FunnelGroupSerializer):
    """A funnel report: the filters it ran with, everyone's funnel, groups and comparison."""

    flow = serializers.CharField(source="result.flow")
    ordered = serializers.BooleanField(source="result.ordered")
    filters = FunnelFiltersEchoSerializer(source="query")
    computed_at = serializers.DateTimeField(source="result.computed_at")
    # A field named like Field.source: fine for an output-only serializer.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        source="result.source",
        choices=["exact", "rollup"],
        help_text="exact: counted now; rollup: read from the maintained rollup.",
    )
    fresh_as_of = serializers.DateTimeField(
        source="result.fresh_as_of",
        allow_null=True,
        help_text="When the counts were made (the rollup's last refresh).",
    )
    stale_cohorts = serializers.ListField(
        source="result.stale_cohorts",
        child=serializers.DateField(),
        help_text=(
            "Entry days (local dates) whose rollup counts a late event changed after the "
            "last refresh; the next refresh recounts them. Empty when counted exactly."
        ),
    )
    entered = serializers.IntegerField(source="result.entered")
    finished = serializers.IntegerField(source="result.finished")
    finish_rate = serializers.FloatField(source="result.finish_rate", allow_null=True)
    median_seconds_to_finish = SecondsField(source="result.median_time_to_finish", allow_null=True)
    p90_seconds_to_finish = SecondsField(source="result.p90_time_to_finish", allow_null=True)
    steps = FunnelStepSerializer(source="result.steps", many=True)
    groups = serializers.SerializerMethodField()
    comparison = ComparisonSerializer(allow_null=True)
    experiment = ExperimentSerializer(
        allow_null=True,
        help_text="With breakdown=variant and two declared variants or more, the control "
        "among them.",
    )

    @extend_schema_field(BreakdownGroupSerializer(many=True))
    def get_groups(self, report: Any) -> list[dict[str, Any]]:
        result: FunnelResult = report.result
        return [
            {"group": name, **FunnelGroupSerializer(group).data}
            for name, group in result.groups.items()
        ]


def comparison_of(result: FunnelResult, method: Method | None = None) -> VariantComparison | None:
    """Both variants compared when a breakdown by variant has exactly two groups."""
    from onboarding.funnel import compare_variants

    if result.breakdown != "variant" or len(result.groups) != 2:
        return None
    return compare_variants(result, method=method)
