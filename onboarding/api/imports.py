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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from onboarding.api.ingest import BatchResult, _flatten, store
from onboarding.api.serializers import EventSerializer, event_input
from onboarding.api.subjects import prefetch_subjects
from onboarding.api.text import json_text_problem
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
    # Text no column can store is refused by the serializer, naming its field; a line
    # holding a lone surrogate could not even be hashed into an id.
    if "id" not in data and json_text_problem(event) is None:
        data["id"] = str(line_id(event))
    subject = data.get("subject")
    if isinstance(subject, (int, str)) and not isinstance(subject, bool):
        data["subject"] = {"type": _user_type(), "id": str(subject)}
    return data


def import_events(
    lines: Iterable[bytes],
    *,
    batch_size: int | None = None,
    on_batch: Callable[[ImportReport, list[tuple[int, str, str]]], None] | None = None,
) -> ImportReport:
    """Validate and store the events of ``lines`` (raw JSONL lines) in batches.

    ``on_batch(report, new_errors)`` is called after each stored batch of ``batch_size``
    lines (valid or not, so progress moves on a file of bad lines too). Blank lines are
    skipped; line numbers count from 1.
    """
    size = batch_size or onboarding_settings.BATCH_SIZE
    report = ImportReport()
    for chunk in _chunks(enumerate(lines, start=1), size):
        report.lines = chunk[-1][0]
        outcome = _import_chunk(chunk)
        report.accepted += outcome.accepted
        report.duplicates += outcome.duplicates
        found = sorted(outcome.found)
        report.errors += found
        if on_batch is not None:
            on_batch(report, found)
    return report


@dataclass
class _ChunkResult:
    accepted: int = 0
    duplicates: int = 0
    found: list[tuple[int, str, str]] = field(default_factory=list)


def _chunks(items: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _import_chunk(chunk: list[tuple[int, bytes]]) -> _ChunkResult:
    """Decode, validate and store one batch of lines; the subjects it names are read in
    one query per subject type first."""
    result = _ChunkResult()
    decoded: list[tuple[int, dict[str, Any]]] = []
    for number, raw in chunk:
        if not raw.strip():
            continue
        try:
            decoded.append((number, _prepare(_decode(raw.strip()))))
        except LineError as error:
            result.found.append((number, error.field, error.message))
    subjects = prefetch_subjects(data for _number, data in decoded)
    serializer = EventSerializer(context={"names_subjects": True, "subjects": subjects})
    valid: list[tuple[int, EventInput]] = []
    for number, data in decoded:
        try:
            validated = serializer.run_validation(data)
            valid.append((number, event_input(validated, who=None, source="import")))
        except ValidationError as error:
            result.found += [(number, name, message) for name, message in _flatten(error.detail)]
    stored = BatchResult()
    store(valid, stored)
    result.accepted, result.duplicates = stored.accepted, stored.duplicates
    result.found += [(e["index"], e["field"], e["message"]) for e in stored.errors]
    return result
