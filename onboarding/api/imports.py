"""Historical events from JSON Lines, in the API's event format, stored through ``track_many``.

One event per line: ``{"id", "flow", "step", "kind", "occurred_at", "properties",
"subject"}``. ``subject`` is ``{"type": "app_label.model", "id": ...}`` or a user's
primary key; ``occurred_at`` is required (a naive time is read in ``TIME_ZONE``).
A line without ``id`` gets a UUID 5 of its content, so importing a file again
stores nothing twice. Invalid lines are reported with their number and skipped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from onboarding.api.ingest import BatchResult, _flatten, store
from onboarding.api.serializers import EventSerializer
from onboarding.conf import onboarding_settings
from onboarding.tracking import EventInput

# Namespace of the ids made for lines without one; fixed, so a re-run makes the same ids.
LINE_NAMESPACE = uuid.UUID("6f0c1b7e-4a4d-5d1e-9a57-2f1c8a3b9d60")


@dataclass
class ImportReport:
    """Totals so far; ``errors`` holds ``(line number, field, message)`` of invalid lines."""

    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return len({line for line, _field, _message in self.errors})


class LineError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


def line_id(event: dict[str, Any]) -> uuid.UUID:
    """The id of a line that has none: a UUID 5 of its content, whatever its key order."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return uuid.uuid5(LINE_NAMESPACE, canonical)


def _user_type() -> str:
    meta = get_user_model()._meta
    return f"{meta.app_label}.{meta.model_name}"


def _decode(raw: bytes) -> dict[str, Any]:
    limit = onboarding_settings.API_MAX_EVENT_BYTES
    if len(raw) > limit:
        raise LineError(
            "line",
            _("%(size)d bytes is over the limit of %(limit)d (API_MAX_EVENT_BYTES).")
            % {"size": len(raw), "limit": limit},
        )
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise LineError("line", _("not JSON (%(error)s)") % {"error": str(error)[:200]}) from None
    if not isinstance(event, dict):
        raise LineError("line", _("must be a JSON object, one event per line"))
    return event


def _prepare(event: dict[str, Any]) -> dict[str, Any]:
    """The line as the API's event: an id made if missing, a user's key made a subject."""
    if event.get("occurred_at") in (None, ""):
        raise LineError("occurred_at", _("required for imported events"))
    data = dict(event)
    if "id" not in data:
        data["id"] = str(line_id(event))
    subject = data.get("subject")
    if isinstance(subject, (int, str)) and not isinstance(subject, bool):
        data["subject"] = {"type": _user_type(), "id": str(subject)}
    return data


def _to_input(data: dict[str, Any]) -> EventInput:
    return EventInput(
        who=data["subject"],
        flow=data["flow"],
        step=data["step"],
        kind=data["kind"],
        occurred_at=data["occurred_at"],
        id=data["id"],
        properties=data["properties"],
        source="import",
    )


def import_events(
    lines: Iterable[bytes],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[ImportReport, list[tuple[int, str, str]]], None] | None = None,
) -> ImportReport:
    """Validate and store the events of ``lines`` (raw JSONL lines) in batches.

    ``on_batch(report, new_errors)`` is called after each stored batch. Blank lines are
    skipped; line numbers count from 1.
    """
    size = batch_size or onboarding_settings.BATCH_SIZE
    report = ImportReport()
    batch: list[tuple[int, EventInput]] = []
    errors: list[tuple[int, str, str]] = []
    # One serializer per batch: its cache of named subjects is dropped with the batch.
    serializer = EventSerializer(context={"names_subjects": True})

    def flush() -> None:
        nonlocal batch, errors, serializer
        result = BatchResult()
        store(batch, result)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        errors += [(e["index"], e["field"], e["message"]) for e in result.errors]
        errors.sort()
        report.errors += errors
        if on_batch is not None:
            on_batch(report, errors)
        batch, errors = [], []
        serializer = EventSerializer(context={"names_subjects": True})

    for number, raw in enumerate(lines, start=1):
        report.lines = number
        if not raw.strip():
            continue
        try:
            data = serializer.run_validation(_prepare(_decode(raw.strip())))
        except LineError as error:
            errors.append((number, error.field, error.message))
        except ValidationError as error:
            errors += [(number, name, message) for name, message in _flatten(error.detail)]
        else:
            batch.append((number, _to_input(data)))
        # Every ``size`` lines, valid or not, so progress moves on a file of bad lines too.
        if number % size == 0:
            flush()
    if batch or errors:
        flush()
    return report
