"""``POST events/``: validate a batch event by event, store the valid ones with ``track_many``.

A batch is not all-or-nothing: valid events are stored (in one transaction),
invalid ones are reported by index and field and never stored. The view answers
400 only when no event was valid. Limits on the batch (count, bytes of one event)
answer 413 for the whole batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, ValidationError

from onboarding.api.errors import PayloadTooLarge, shown, to_api_exception
from onboarding.api.models import ApiKey
from onboarding.api.serializers import EventSerializer, event_input
from onboarding.api.subjects import prefetch_subjects
from onboarding.conf import onboarding_settings
from onboarding.exceptions import OnboardingError
from onboarding.tracking import EventInput, track_many


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return self.accepted + self.duplicates


def _events(payload: Any) -> list[Any]:
    # The shape of the whole batch is wrong: {"detail"}, like a JSON parse error.
    if not isinstance(payload, dict):
        raise ParseError(_('Send a JSON object: {"events": [...]}.'))
    unknown = [name for name in payload if name != "events"]
    if unknown:
        raise ParseError(
            _("Unknown field %(field)s: a batch has only 'events'.") % {"field": shown(unknown[0])}
        )
    events = payload.get("events")
    if not isinstance(events, list):
        raise ParseError(_("'events' must be a list of events."))
    return events


def check_limits(events: list[Any]) -> None:
    """413 naming the limit when there are too many events or one is too big."""
    count_limit = onboarding_settings.API_MAX_BATCH_EVENTS
    if len(events) > count_limit:
        raise PayloadTooLarge(
            _("%(count)d events is over the limit of %(limit)d per batch (API_MAX_BATCH_EVENTS).")
            % {"count": len(events), "limit": count_limit}
        )
    byte_limit = onboarding_settings.API_MAX_EVENT_BYTES
    for index, event in enumerate(events):
        # The body was parsed from at most API_MAX_BATCH_BYTES, so this stays cheap.
        size = len(json.dumps(event, separators=(",", ":")).encode("utf-8", "surrogatepass"))
        if size > byte_limit:
            raise PayloadTooLarge(
                _(
                    "Event %(index)d is %(size)d bytes, over the limit of %(limit)d "
                    "(API_MAX_EVENT_BYTES)."
                )
                % {"index": index, "size": size, "limit": byte_limit}
            )


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(field, message)`` pairs from DRF's nested error detail."""
    if isinstance(detail, dict):
        pairs: list[tuple[str, str]] = []
        for name, value in detail.items():
            pairs += _flatten(value, f"{prefix}.{name}" if prefix else str(name))
        return pairs
    if isinstance(detail, list):
        return [pair for item in detail for pair in _flatten(item, prefix)]
    return [(prefix or "non_field_errors", str(detail))]


def ingest(payload: Any, *, who: Any, api_key: ApiKey | None) -> BatchResult:
    """Validate and store a batch for ``who`` (a user or subject), or for the subjects an
    API key names in each event."""
    events = _events(payload)
    check_limits(events)
    result = BatchResult()
    valid: list[tuple[int, EventInput]] = []
    # One serializer validates every item, as DRF's ListSerializer does: binding fresh
    # fields per event would cost more than storing it.
    # Subjects named by an API key's events are read up front, one query per type.
    subjects = prefetch_subjects(events) if api_key else {}
    serializer = EventSerializer(context={"api_key": api_key, "subjects": subjects})
    for index, raw in enumerate(events):
        try:
            data = serializer.run_validation(raw)
        except ValidationError as error:
            result.errors += [
                {"index": index, "field": name, "message": message}
                for name, message in _flatten(error.detail)
            ]
            continue
        valid.append((index, event_input(data, who=who, source="api")))
    store(valid, result)
    return result


def store(items: list[tuple[int, EventInput]], result: BatchResult) -> None:
    """Store valid events in one transaction; if the core refuses one (e.g. an erased
    subject), store them one by one so the others still go in. Errors keep their index."""
    if not items:
        return
    try:
        outcome = track_many(item for _index, item in items)
    except OnboardingError:
        # Something only the core could tell (e.g. the resolver maps a user to no
        # subject): store event by event so the others still go in.
        for index, item in items:
            try:
                one = track_many([item])
            except OnboardingError as error:
                api_error = to_api_exception(error)
                detail = api_error.detail if api_error else str(error)
                result.errors += [
                    {"index": index, "field": name, "message": message}
                    for name, message in _flatten(detail)
                ]
            else:
                result.accepted += one.accepted
                result.duplicates += one.duplicates
        return
    result.accepted += outcome.accepted
    result.duplicates += outcome.duplicates
