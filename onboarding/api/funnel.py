"""``GET flows/{flow}/funnel/``: the funnel report as JSON, or CSV (``?format=csv`` or
``Accept: text/csv``), for users with ``onboarding.view_funnel`` and ``read`` API keys."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from onboarding.api.base import AsciiJSONRenderer, OnboardingAPIView
from onboarding.api.funnel_serializers import (
    FunnelFiltersSerializer,
    FunnelReportSerializer,
    comparison_of,
)
from onboarding.api.permissions import CanViewFunnel
from onboarding.funnel import (
    FunnelExperiment,
    FunnelQuery,
    FunnelResult,
    VariantComparison,
    entry_rates,
    funnel_experiment,
    funnel_rows,
    write_csv,
)
from onboarding.registry import get_flow


@dataclass(frozen=True)
class FunnelReport:
    query: FunnelQuery
    result: FunnelResult
    comparison: VariantComparison | None
    experiment: FunnelExperiment | None = None


class FunnelCSVRenderer(BaseRenderer):
    """One row per step (and ``finished``), for everyone then each group; see
    :func:`onboarding.funnel.funnel_rows` for the columns."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, media_type: Any = None, renderer_context: Any = None) -> Any:
        buffer = io.StringIO()
        write_csv(funnel_rows(data.result), buffer)
        return buffer.getvalue().encode("utf-8")


@extend_schema(
    parameters=[FunnelFiltersSerializer],
    responses={
        (200, "application/json"): FunnelReportSerializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The report as CSV."),
        (400, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="A filter is invalid (named)."
        ),
        (401, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="Not authenticated."
        ),
        (403, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="No onboarding.view_funnel permission, or an API key without 'read'.",
        ),
        (404, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="Unknown flow."
        ),
        (429, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="Throttled; see Retry-After."
        ),
    },
)
class FunnelView(OnboardingAPIView):
    """The funnel of a flow: who entered, reached each step, dropped off, how fast; with
    breakdowns by variant, version or entry week, and two variants compared."""

    permission_classes = [CanViewFunnel]
    renderer_classes = [AsciiJSONRenderer, FunnelCSVRenderer]
    repeatable_query_params = ("variant", "version")

    def get(self, request: Request, flow: str) -> Response:
        get_flow(flow)  # 404 naming an unknown flow, before the filters
        filters = FunnelFiltersSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        # The query checks its own limits (InvalidQuery, some only once it sees the data);
        # the exception handler answers them 400 under the field they name.
        query = FunnelQuery(
            flow=flow,
            entered_from=data.get("entered_from"),
            entered_to=data.get("entered_to"),
            window_days=data.get("window_days"),
            variants=data.get("variant", ()),
            versions=data.get("version", ()),
            breakdown=data.get("breakdown"),
        )
        result = query.run()
        method = data.get("test")
        # Echo the range counted: a breakdown by entry week cuts it to the data.
        counted = replace(query, entered_from=result.entered_from, entered_to=result.entered_to)
        found = None
        if result.breakdown == "variant":
            found = funnel_experiment(
                result,
                query.declaration,
                method=method,
                per_day=entry_rates(counted, result),
            )
        report = FunnelReport(counted, result, comparison_of(result, method), found)
        if request.accepted_renderer.format == "csv":
            return Response(
                report,
                headers={"Content-Disposition": f'attachment; filename="funnel-{flow}.csv"'},
            )
        return Response(FunnelReportSerializer(report).data)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Only a report is CSV: errors ({"detail"} or {field: [messages]}) and OPTIONS
        # metadata are JSON even when CSV was asked for.
        # (A 503 for a failing database is a plain JSON response, never rendered.)
        renderer = getattr(response, "accepted_renderer", None)
        csv = renderer is not None and renderer.format == "csv"
        if csv and not isinstance(getattr(response, "data", None), FunnelReport):
            response.accepted_renderer = AsciiJSONRenderer()
            response.accepted_media_type = AsciiJSONRenderer.media_type
        return response
