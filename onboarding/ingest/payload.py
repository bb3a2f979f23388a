"""Events as JSON for the broker: the subject and actor by id, the event id fixed now.

Packing resolves the subject in the web process (so a user without one is an error the
caller sees) and gives an event without an id its UUID before publishing: a batch that
is delivered twice then stores each event once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from onboarding.exceptions import InvalidEvent
from onboarding.subjects import ref, resolve
from onboarding.tracking import EventInput

PackedEvent = dict[str, Any]


def _event_id(value: uuid.UUID | str | None) -> str:
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        raise InvalidEvent("id", _("%(value)r is not a UUID") % {"value": value}) from None


def pack_event(item: EventInput, *, received_at: datetime | None = None) -> PackedEvent:
    """One event as JSON-ready data. Raises ``InvalidEvent`` when it has no subject.

    An event without ``occurred_at`` happened when it was received here, not when a
    worker gets to it.
    """
    subject, actor = resolve(item.who)
    subject_ref = ref(subject)
    actor = item.actor or actor
    occurred_at = item.occurred_at or received_at or timezone.now()
    return {
        "id": _event_id(item.id),
        "flow": item.flow,
        "step": item.step,
        "kind": str(item.kind),
        "occurred_at": occurred_at.isoformat(),
        "properties": dict(item.properties or {}),
        "source": item.source,
        "subject": [subject_ref.type_id, subject_ref.id],
        "actor": getattr(actor, "pk", None),
    }


@dataclass
class Unpacked:
    """Events ready for ``track_many`` and, by id, those whose subject is gone."""

    events: list[EventInput] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _subjects(packed: Iterable[PackedEvent]) -> dict[tuple[int, str], Any]:
    """Subject instances, one query per content type."""
    by_type: dict[int, set[str]] = defaultdict(set)
    for one in packed:
        by_type[int(one["subject"][0])].add(str(one["subject"][1]))
    found: dict[tuple[int, str], Any] = {}
    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:
            continue
        for pk, obj in model._default_manager.in_bulk(list(ids)).items():
            found[(type_id, str(pk))] = obj
    return found


def unpack_events(packed: list[PackedEvent]) -> Unpacked:
    """Load the subjects and actors of packed events (two or three queries)."""
    subjects = _subjects(packed)
    actor_ids = {one["actor"] for one in packed if one.get("actor") is not None}
    actors: Mapping[Any, Any] = (
        get_user_model()._default_manager.in_bulk(list(actor_ids)) if actor_ids else {}
    )
    result = Unpacked()
    for one in packed:
        subject = subjects.get((int(one["subject"][0]), str(one["subject"][1])))
        if subject is None:
            result.missing.append(one["id"])
            continue
        result.events.append(
            EventInput(
                who=subject,
                flow=one["flow"],
                step=one["step"],
                kind=one["kind"],
                occurred_at=parse_datetime(one["occurred_at"]),
                id=one["id"],
                properties=one["properties"],
                source=one["source"],
                actor=actors.get(one.get("actor")),
            )
        )
    return result
