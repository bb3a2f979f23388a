"""The funnel page of a flow and its CSV downloads: thin views over the query layer."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.admin_funnel.exports import TABLES, csv_response, table_rows
from onboarding.admin_funnel.forms import FunnelFilterForm
from onboarding.admin_funnel.page import csv_urls, form_context, report_context
from onboarding.admin_funnel.report import build_report
from onboarding.declarations import Flow
from onboarding.exceptions import InvalidQuery, UnknownFlow
from onboarding.models import FlowRecord, FlowVersion
from onboarding.registry import get_flow

PERMISSION = "onboarding.view_funnel"


def _flow(request: HttpRequest, object_id: str) -> tuple[FlowRecord, Flow, FunnelFilterForm]:
    """The flow of the URL (404 if unknown or no longer declared) and its bound filters."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    try:
        record = FlowRecord.objects.filter(pk=unquote(object_id)).first()
    except (ValidationError, ValueError):
        record = None
    if record is None:
        raise Http404(_("No flow with id “%(id)s”.") % {"id": object_id})
    try:
        flow = get_flow(record.key)
    except UnknownFlow:
        raise Http404(
            _("Flow “%(key)s” is no longer declared in code.") % {"key": record.key}
        ) from None
    versions = FlowVersion.objects.filter(flow=record).values_list("number", flat=True)
    return record, flow, FunnelFilterForm(request.GET, flow=flow, versions=list(versions))


def funnel_page(request: HttpRequest, model_admin: ModelAdmin, object_id: str) -> HttpResponse:
    record, flow, form = _flow(request, object_id)
    opts = model_admin.opts
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "original": record,
        "flow": flow,
        "title": _("Funnel: %(flow)s") % {"flow": flow.title},
        "has_view_permission": model_admin.has_view_permission(request, record),
        "time_zone": timezone.get_current_timezone_name(),
        "csv_urls": csv_urls(
            request,
            f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_funnel_csv",
            record.pk,
        ),
        **form_context(request, form),
    }
    if form.is_valid() and form.query is not None:
        data = form.cleaned_data
        try:
            report = build_report(
                form.query,
                step=data["step"] or None,
                where=data["where"] or None,
                page=data["page"] or 1,
                method=data.get("test") or None,
            )
        except InvalidQuery as error:
            form.add_query_error(error)  # shown with the filters, like any invalid input
        else:
            context.update(report_context(flow, form, report))
    return TemplateResponse(request, "admin/onboarding/funnel.html", context)


def _bad_filters(form: FunnelFilterForm) -> HttpResponse:
    lines = [f"{name}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()]
    return HttpResponseBadRequest("\n".join(lines), content_type="text/plain; charset=utf-8")


def funnel_csv(
    request: HttpRequest, model_admin: ModelAdmin, object_id: str, table: str
) -> HttpResponse:
    _record, flow, form = _flow(request, object_id)
    if table not in TABLES:
        raise Http404(
            _("No table “%(table)s”; use one of %(tables)s.")
            % {"table": table, "tables": ", ".join(TABLES)}
        )
    if not form.is_valid() or form.query is None:
        return _bad_filters(form)
    data = form.cleaned_data
    try:
        rows = table_rows(
            table,
            form.query,
            step=data["step"] or None,
            where=data["where"] or None,
            method=data.get("test") or None,
        )
    except InvalidQuery as error:
        form.add_query_error(error)
        return _bad_filters(form)
    return csv_response(rows, f"{flow.key}-{table}.csv")
