"""``POST events/`` with ``ASYNC_INGESTION``: validate now, store in a worker, answer 202.

Events are validated exactly as the synchronous path does (same serializer, limits
and messages); the valid ones are packed and published as one batch. The answer is
202 with the batch id only once the batch is durable; 400 when no event is valid.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from onboarding.api.errors import to_api_exception
from onboarding.api.ingest import _events, _flatten, check_limits
from onboarding.api.models import ApiKey
from onboarding.api.serializers import EventSerializer, event_input
from onboarding.exceptions import OnboardingError
from onboarding.ingest.payload import PackedEvent, pack_event
from onboarding.ingest.publish import enqueue_packed


def _error_rows(index: int, detail: Any) -> list[dict[str, Any]]:
    return [
        {"index": index, "field": name, "message": message} for name, message in _flatten(detail)
    ]


def validate_and_pack(
    payload: Any, *, who: Any, api_key: ApiKey | None
) -> tuple[list[PackedEvent], list[dict[str, Any]]]:
    """The packed valid events and the errors of the others, by index and field."""
    events = _events(payload)
    check_limits(events)
    serializer = EventSerializer(context={"api_key": api_key})
    received_at = timezone.now()
    packed: list[PackedEvent] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(events):
        try:
            data = serializer.run_validation(raw)
            item = event_input(data, who=who, source="api")
            packed.append(pack_event(item, received_at=received_at))
        except ValidationError as error:
            errors += _error_rows(index, error.detail)
        except OnboardingError as error:  # e.g. the resolver maps the user to no subject
            api_error = to_api_exception(error)
            errors += _error_rows(index, api_error.detail if api_error else str(error))
    return packed, errors


def ingest_later(payload: Any, *, who: Any, api_key: ApiKey | None) -> Response:
    """Queue the valid events as one batch; 202 ``{"batch", "queued", "errors"}``."""
    packed, errors = validate_and_pack(payload, who=who, api_key=api_key)
    if not packed:
        code = status.HTTP_400_BAD_REQUEST if errors else status.HTTP_202_ACCEPTED
        return Response({"batch": None, "queued": 0, "errors": errors}, status=code)
    batch = enqueue_packed(packed)
    return Response(
        {"batch": str(batch), "queued": len(packed), "errors": errors},
        status=status.HTTP_202_ACCEPTED,
    )
