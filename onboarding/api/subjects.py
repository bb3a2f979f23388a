"""Subjects named by a type label and an id, as API keys, imports and erasure name them."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models


def subject_type(label: str) -> ContentType | None:
    """The content type of ``"app_label.model"`` (any case), or ``None`` for no such model."""
    app_label, dot, model = str(label).partition(".")
    if not dot:
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
    if model is None:
        return None
    try:
        return model._default_manager.filter(pk=subject_id).first()
    except (ValueError, TypeError, OverflowError, ValidationError):
        return None
