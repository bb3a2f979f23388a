"""The template context of the funnel page: the report laid out as chart, tables and links."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.admin_funnel.chart import funnel_svg
from onboarding.admin_funnel.exports import TABLES
from onboarding.admin_funnel.formatting import count, duration, p_value, percent, points
from onboarding.admin_funnel.forms import FunnelFilterForm
from onboarding.admin_funnel.report import Comparison, FunnelReport
from onboarding.admin_funnel.tables import (
    cohorts_table,
    comparison_table,
    group_caption,
    steps_table,
    stuck_table,
)
from onboarding.declarations import Flow
from onboarding.experiments import wording

# Fields of the stuck-subjects list; the other fields filter the whole page.
STUCK_FIELDS = ("step", "where", "page")


def _params(query: QueryDict, keep: bool) -> list[tuple[str, str]]:
    """Query parameters of the stuck list (``keep``) or of the page filters, as pairs."""
    return [
        (name, value)
        for name, values in query.lists()
        if (name in STUCK_FIELDS) is keep and name != "page"
        for value in values
    ]


def comparison_counts(comparison: Comparison) -> str:
    variants = comparison.variants
    return _(
        "%(a)s: %(finished_a)s of %(entered_a)s finished. "
        "%(b)s: %(finished_b)s of %(entered_b)s finished."
    ) % {
        "a": variants.a,
        "b": variants.b,
        "finished_a": count(variants.finished_a),
        "entered_a": count(variants.entered_a),
        "finished_b": count(variants.finished_b),
        "entered_b": count(variants.entered_b),
    }


def step_verdict(comparison: Comparison) -> str:
    """The secondary metrics that differ once Holm-corrected, or that none does."""
    variants = comparison.variants
    secondary = [one for one in variants.metrics.values() if not one.primary]
    family = max((one.family for one in secondary), default=0)
    differing = [
        (
            variants.steps_by_key[one.metric].title
            if one.metric in variants.steps_by_key
            else _("Finished"),
            one,
        )
        for one in secondary
        if one.significant
    ]
    if not differing:
        return ngettext(
            "No secondary metric differs significantly once corrected for %(count)s "
            "comparison (Holm).",
            "No secondary metric differs significantly once corrected for %(count)s "
            "comparisons (Holm).",
            family,
        ) % {"count": count(family)}
    parts = [
        _("“%(step)s” (%(points)s, corrected p %(p)s)")
        % {"step": title, "points": points(one.test.difference), "p": _p(one.adjusted_p_value)}
        for title, one in differing
        if one.test is not None
    ]
    return ngettext(
        "Corrected for %(count)s comparison (Holm), %(b)s differs from %(a)s on: %(list)s.",
        "Corrected for %(count)s comparisons (Holm), %(b)s differs from %(a)s on: %(list)s.",
        family,
    ) % {"count": count(family), "a": variants.a, "b": variants.b, "list": "; ".join(parts)}


def _p(value: float | None) -> str:
    text = p_value(value)
    return text if text.startswith("<") else f"= {text}"


def experiment_context(report: FunnelReport) -> dict[str, Any]:
    """The sample ratio line (shown above everything when broken), the test used, the plan."""
    split = report.sample_ratio
    planner = report.planner
    method = planner.plan.method if planner else "sequential"
    return {
        "sample_ratio": split,
        "sample_ratio_text": wording.sample_ratio_text(split) if split else "",
        "method_text": wording.method_text(method),
        "plan_text": wording.plan_text(planner.plan) if planner else "",
        "planner": planner,
    }


def csv_urls(request: HttpRequest, url_name: str, pk: Any) -> dict[str, str]:
    """Each table's CSV download, with the page's filters (the page number dropped)."""
    query = request.GET.copy()
    query.pop("page", None)
    suffix = f"?{query.urlencode()}" if query else ""
    return {table: reverse(url_name, args=[pk, table]) + suffix for table in TABLES}


def form_context(request: HttpRequest, form: FunnelFilterForm) -> dict[str, Any]:
    return {
        "form": form,
        "filter_fields": [form[name] for name in form.fields if name not in STUCK_FIELDS],
        # The stuck list's fields sit with the list, which an error hides: named up here.
        "stuck_errors": [
            (form.fields[name].label, form.errors[name])
            for name in STUCK_FIELDS
            if name in form.errors
        ],
        "stuck_params": _params(request.GET, keep=True),
        "filter_params": _params(request.GET, keep=False),
    }


def report_context(flow: Flow, form: FunnelFilterForm, report: FunnelReport) -> dict[str, Any]:
    result, stuck = report.result, report.stuck
    # Name the step "largest drop-off" picked, now that it is known.
    step_field: Any = form.fields["step"]
    step_field.choices = [
        ("", _("Largest drop-off (%(step)s)") % {"step": flow.step(stuck.step).title}),
        *step_field.choices[1:],
    ]
    return {
        "report": report,
        "result": result,
        "summary": {
            "entered": count(result.entered),
            "finished": count(result.finished),
            "rate": percent(result.finish_rate),
            "median": duration(result.median_time_to_finish),
        },
        "chart": funnel_svg(result),
        "steps_table": steps_table(result, _("Everyone")),
        "group_tables": [
            steps_table(group, group_caption(result.breakdown, name))
            for name, group in result.groups.items()
        ],
        "comparisons": [
            (one, comparison_table(one), comparison_counts(one), step_verdict(one))
            for one in report.comparisons
        ],
        **experiment_context(report),
        "cohorts_table": cohorts_table(report.cohorts),
        "stuck_table": stuck_table(
            stuck, _("Stuck before “%(step)s”") % {"step": flow.step(stuck.step).title}
        ),
        "stuck_step": flow.step(stuck.step),
        "stuck_previous": flow.step(stuck.previous) if stuck.previous else None,
        "stuck_counts": {"inside": count(stuck.inside), "past": count(stuck.past)},
    }
