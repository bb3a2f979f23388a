"""The template context of the funnel page: the report laid out as chart, tables and links."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _

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
    """The step whose own conversion differs most, significantly, between the variants."""
    variants = comparison.variants
    significant = [
        (step, step.previous_test)
        for step in comparison.steps
        if step.previous_test is not None and step.previous_test.p_value < variants.alpha
    ]
    if not significant:
        return _("No step converts significantly differently yet.")
    step, test = max(significant, key=lambda pair: abs(pair[1].difference))
    p = p_value(test.p_value)
    return _(
        "Largest significant step difference: “%(step)s”, reached by %(rate_b)s of those "
        "at the previous step with %(b)s against %(rate_a)s with %(a)s (%(points)s, %(p)s)."
    ) % {
        "step": step.title,
        "a": variants.a,
        "b": variants.b,
        "rate_a": percent(test.rate_a),
        "rate_b": percent(test.rate_b),
        "points": points(test.difference),
        "p": f"p {p}" if p.startswith("<") else f"p = {p}",
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
        "cohorts_table": cohorts_table(report.cohorts),
        "stuck_table": stuck_table(
            stuck, _("Stuck before “%(step)s”") % {"step": flow.step(stuck.step).title}
        ),
        "stuck_step": flow.step(stuck.step),
        "stuck_previous": flow.step(stuck.previous) if stuck.previous else None,
        "stuck_counts": {"inside": count(stuck.inside), "past": count(stuck.past)},
    }
