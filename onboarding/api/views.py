"""Thin API views over ``onboarding.tracking`` and ``onboarding.progress``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from onboarding.api import serializers as api_serializers
from onboarding.api.base import OnboardingAPIView
from onboarding.api.ingest import ingest
from onboarding.api.models import ApiKey
from onboarding.api.pagination import CappedPagination
from onboarding.api.permissions import CanSendEvents
from onboarding.api.principals import who
from onboarding.api.unavailable import answers_503_when_the_database_fails
from onboarding.conf import onboarding_settings
from onboarding.ingest.api import ingest_later
from onboarding.progress import get_progress, get_progress_many
from onboarding.registry import get_flow, registry
from onboarding.tracking import accept_default, complete, dismiss, skip

ACTIONS = {"complete": complete, "default": accept_default, "skip": skip, "dismiss": dismiss}


@csrf_exempt  # it changes nothing; a POST to a wrong path is a 404 too, not a CSRF page
@answers_503_when_the_database_fails
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """A JSON 404 for paths under the API that match no route (not the site's HTML page)."""
    return JsonResponse({"detail": gettext("Not found.")}, status=404)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Invalid input: {field: [messages]} naming the field, or {detail}.",
    ),
    401: OpenApiResponse(DetailSerializer, description="Not authenticated."),
    403: OpenApiResponse(DetailSerializer, description="Not allowed (API key, scope, CSRF)."),
    415: OpenApiResponse(DetailSerializer, description="The body is not JSON."),
    404: OpenApiResponse(DetailSerializer, description="Unknown flow."),
    413: OpenApiResponse(DetailSerializer, description="Body over a limit (named)."),
    429: OpenApiResponse(DetailSerializer, description="Throttled; see Retry-After."),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


@extend_schema(
    responses={
        200: api_serializers.FlowProgressSerializer(many=True),
        **_errors(400, 401, 403, 429),
    }
)
class FlowListView(OnboardingAPIView):
    """The flows that apply to the requesting subject, each with its progress."""

    pagination_class = CappedPagination

    def get(self, request: Request) -> Response:
        paginator = CappedPagination()
        flows = sorted(registry.all(), key=lambda flow: flow.key)
        page = paginator.paginate_queryset(flows, request, view=self) or []
        data = [api_serializers.progress_data(one) for one in get_progress_many(who(request), page)]
        return paginator.get_paginated_response(data)


@extend_schema(
    responses={200: api_serializers.FlowProgressSerializer, **_errors(400, 401, 403, 404, 429)}
)
class ProgressView(OnboardingAPIView):
    """The requesting subject's progress through one flow."""

    def get(self, request: Request, flow: str) -> Response:
        progress = get_progress(who(request), flow)
        return Response(api_serializers.progress_data(progress))


@extend_schema(
    request=api_serializers.StepActionSerializer,
    responses={
        200: api_serializers.FlowProgressSerializer,
        **_errors(400, 401, 403, 404, 413, 415, 429),
    },
)
class StepActionView(OnboardingAPIView):
    """Complete, accept the default of, skip or dismiss a step; answers the new progress.

    An unknown flow is 404; an unknown step (or a ``default/`` on a step without one) 400.
    """

    action_name = "complete"

    def post(self, request: Request, flow: str, step: str) -> Response:
        get_flow(flow).step(step)  # 404 for the flow, 400 naming the step
        # No body (or null) is no id; any other non-object is refused, not read as none.
        data: Any = request.data
        body = api_serializers.StepActionSerializer(data={} if data is None else data)
        body.is_valid(raise_exception=True)
        actor = who(request)
        ACTIONS[self.action_name](
            actor, flow, step, source="api", event_id=body.validated_data.get("id")
        )
        return Response(api_serializers.progress_data(get_progress(actor, flow)))


@extend_schema(
    request=api_serializers.EventBatchSerializer,
    responses={
        200: api_serializers.BatchResultSerializer,
        400: OpenApiResponse(
            PolymorphicProxySerializer(
                component_name="BatchError",
                serializers=[api_serializers.BatchResultSerializer, DetailSerializer],
                resource_type_field_name=None,
            ),
            description="No valid event (BatchResult), or the batch is malformed (detail).",
        ),
        **_errors(401, 403, 413, 415, 429),
    },
)
class EventBatchView(OnboardingAPIView):
    """Record a batch of events, idempotently by id.

    Valid events are stored, invalid ones reported with their index and never stored;
    400 when none is valid. Too many events or one too big: 413 for the whole batch.
    """

    permission_classes = [CanSendEvents]

    def post(self, request: Request) -> Response:
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        if onboarding_settings.ASYNC_INGESTION:
            # Stored by a Celery worker: 202 with the batch id once the broker holds it.
            return ingest_later(request.data, who=who(request), api_key=api_key)
        result = ingest(request.data, who=who(request), api_key=api_key)
        code = (
            status.HTTP_200_OK if result.valid or not result.errors else status.HTTP_400_BAD_REQUEST
        )
        data = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "errors": result.errors,
        }
        return Response(data, status=code)
