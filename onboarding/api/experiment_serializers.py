"""What the funnel API writes about an experiment: the split, each comparison, the plan.

Rates, differences and interval bounds are fractions (0.031 is 3.1 points).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from onboarding.experiments import METHODS, MetricResult, wording
from onboarding.funnel import FunnelExperiment


class SampleRatioSerializer(serializers.Serializer):
    """Subjects per variant against the declared weights (Pearson's chi-square)."""

    variants = serializers.ListField(source="names", child=serializers.CharField())
    observed = serializers.ListField(child=serializers.IntegerField())
    observed_shares = serializers.ListField(child=serializers.FloatField())
    expected_shares = serializers.ListField(source="expected", child=serializers.FloatField())
    chi_square = serializers.FloatField()
    degrees_of_freedom = serializers.IntegerField()
    p_value = serializers.FloatField()
    threshold = serializers.FloatField()
    mismatch = serializers.BooleanField(
        help_text="p_value < threshold: assignment is broken, no result can be trusted."
    )
    message = serializers.SerializerMethodField()

    def get_message(self, split: Any) -> str:
        return wording.sample_ratio_text(split)


class MetricComparisonSerializer(serializers.Serializer):
    """One variant against the control on one metric (a step's reach from entry, or
    ``finished``)."""

    variant = serializers.CharField()
    control = serializers.CharField()
    metric = serializers.CharField(help_text="'finished' or a step key.")
    primary = serializers.BooleanField(help_text="The flow's primary metric, judged alone.")
    rate_control = serializers.FloatField(source="test.rate_a", allow_null=True, default=None)
    rate_variant = serializers.FloatField(source="test.rate_b", allow_null=True, default=None)
    difference = serializers.FloatField(
        source="test.difference",
        allow_null=True,
        default=None,
        help_text="rate_variant - rate_control.",
    )
    lower = serializers.FloatField(
        source="test.lower", allow_null=True, default=None, help_text="Interval's lower bound."
    )
    upper = serializers.FloatField(source="test.upper", allow_null=True, default=None)
    z = serializers.FloatField(source="test.z", allow_null=True, default=None)
    p_value = serializers.FloatField(
        source="test.p_value", allow_null=True, default=None, help_text="Two-sided, by method."
    )
    adjusted_p_value = serializers.FloatField(
        allow_null=True,
        help_text="Holm-corrected within its family (the primary metric's "
        "over the variants, the secondary metrics' over every variant and metric).",
    )
    family = serializers.IntegerField(help_text="Comparisons corrected together.")
    significant = serializers.BooleanField(help_text="adjusted_p_value < alpha.")


class PlanSerializer(serializers.Serializer):
    """The planner: what the test detects now and what it needs for the minimum effect."""

    method = serializers.ChoiceField(choices=METHODS, help_text="The test planned for.")
    baseline = serializers.FloatField(help_text="The control's rate of the primary metric.")
    effect = serializers.FloatField(help_text="The minimum detectable effect planned for.")
    alpha = serializers.FloatField()
    power = serializers.FloatField()
    per_variant = serializers.IntegerField(help_text="Subjects in the smallest variant.")
    needed_per_variant = serializers.IntegerField(source="needed", allow_null=True)
    more_needed = serializers.IntegerField(allow_null=True)
    detectable_effect = serializers.FloatField(
        source="detectable",
        allow_null=True,
        help_text="The change per_variant subjects detect with power; null: none yet.",
    )
    days_needed = serializers.IntegerField(
        source="days",
        allow_null=True,
        help_text="Days still needed at the current entry rate; null: unknown.",
    )
    message = serializers.SerializerMethodField()

    def get_message(self, plan: Any) -> str:
        return wording.plan_text(plan)


class ExperimentSerializer(serializers.Serializer):
    """The variants judged as an experiment (docs/experiments.md): check sample_ratio
    first; the verdict is the primary metric's."""

    method = serializers.ChoiceField(
        source="analysis.design.method",
        choices=METHODS,
        help_text="sequential: always valid; fixed: valid only at a size fixed in advance.",
    )
    method_note = serializers.SerializerMethodField()
    alpha = serializers.FloatField(source="analysis.design.alpha")
    control = serializers.CharField(source="analysis.design.control")
    primary_metric = serializers.CharField(source="analysis.design.primary")
    trustworthy = serializers.BooleanField(source="analysis.trustworthy")
    sample_ratio = SampleRatioSerializer(source="analysis.sample_ratio", allow_null=True)
    verdicts = serializers.SerializerMethodField()
    comparisons = serializers.SerializerMethodField()
    plan = PlanSerializer(source="analysis.plan")

    def get_method_note(self, found: FunnelExperiment) -> str:
        return wording.method_text(found.analysis.design.method)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_verdicts(self, found: FunnelExperiment) -> list[str]:
        """One sentence per variant, on the primary metric."""
        analysis = found.analysis
        return [
            wording.verdict(
                one,
                metric_title="" if one.metric == "finished" else found.title(one.metric),
                trustworthy=analysis.trustworthy,
            )
            for one in analysis.primary
        ]

    @extend_schema_field(MetricComparisonSerializer(many=True))
    def get_comparisons(self, found: FunnelExperiment) -> list[dict[str, Any]]:
        results: list[MetricResult] = [*found.analysis.primary, *found.analysis.secondary]
        return [dict(MetricComparisonSerializer(one).data) for one in results]
