"""Subjects named by a type label and an id, as API keys, imports and erasure name them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models

from onboarding.api.text import storable


def subject_type(label: str) -> ContentType | None:
    """The content type of ``"app_label.model"`` (any case), or ``None`` for no such model."""
    app_label, dot, model = str(label).partition(".")
    if not dot or not storable(str(label)):  # PostgreSQL would refuse the lookup: a 500
        return None
    try:
        content_type = ContentType.objects.get_by_natural_key(app_label, model.lower())
    except ContentType.DoesNotExist:
        return None
    return content_type if content_type.model_class() is not None else None


def find_subject(content_type: ContentType, subject_id: str) -> models.Model | None:
    """The instance of ``content_type`` with primary key ``subject_id``, or ``None`` (also
    for an id its key field cannot hold)."""
    model = content_type.model_class()
    if model is None or not storable(str(subject_id)):
        return None
    try:
        return model._default_manager.filter(pk=subject_id).first()
    except (ValueError, TypeError, OverflowError, ValidationError):
        return None


def prefetch_subjects(events: Iterable[Any]) -> dict[tuple[int, str], models.Model]:
    """The subjects a batch names, one query per subject type, keyed like the serializer's
    per-batch cache: ``(content type id, str(pk))``. Ids not found are left out."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        subject = event.get("subject") if isinstance(event, dict) else None
        if not isinstance(subject, dict):
            continue
        label, subject_id = subject.get("type"), subject.get("id")
        # An id no column can hold is left to the serializer to name, unqueried.
        if (
            isinstance(label, str)
            and isinstance(subject_id, (str, int))
            and storable(str(subject_id))
        ):
            wanted[label].add(str(subject_id).strip())
    found: dict[tuple[int, str], models.Model] = {}
    for label, ids in wanted.items():
        content_type = subject_type(label)
        model = content_type.model_class() if content_type else None
        if content_type is None or model is None:
            continue
        try:
            rows = model._default_manager.in_bulk(list(ids))
        except (ValueError, TypeError, OverflowError, ValidationError):
            continue  # an id the key cannot hold: the serializer names it
        for pk, obj in rows.items():
            found[(content_type.pk, str(pk))] = obj
    return found
