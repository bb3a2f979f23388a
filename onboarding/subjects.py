"""Whose progress it is: the user by default, or what ``SUBJECT_RESOLVER`` maps a user to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext as _

from onboarding.conf import onboarding_settings
from onboarding.exceptions import InvalidEvent


@dataclass(frozen=True)
class SubjectRef:
    """A subject as stored: its content type id and primary key as text."""

    type_id: int
    id: str
    label: str = ""


def is_user(obj: Any) -> bool:
    return isinstance(obj, get_user_model())


def resolve(obj: Any) -> tuple[models.Model, Any]:
    """``(subject, actor)`` for a user or a subject instance.

    A user is mapped through ``SUBJECT_RESOLVER`` and is the actor; any other model
    instance is the subject itself, with no actor.
    """
    if obj is None or getattr(obj, "is_anonymous", False):
        raise InvalidEvent("subject", _("anonymous users have no onboarding progress"))
    if not isinstance(obj, models.Model) or obj.pk is None:
        raise InvalidEvent("subject", _("the subject must be a saved model instance"))
    if not is_user(obj):
        return obj, None
    resolver = onboarding_settings.SUBJECT_RESOLVER
    subject = resolver(obj) if resolver else obj
    if not isinstance(subject, models.Model) or subject.pk is None:
        raise InvalidEvent(
            "subject",
            _("SUBJECT_RESOLVER gave no saved model instance for user %(user)s") % {"user": obj.pk},
        )
    return subject, obj


# Length of the stored subject id (``subject_id`` columns).
MAX_SUBJECT_ID = 64


def ref(subject: models.Model) -> SubjectRef:
    key = str(subject.pk)
    if len(key) > MAX_SUBJECT_ID:
        # PostgreSQL's bulk statements would cut it silently, merging subjects.
        raise InvalidEvent(
            "subject",
            _("the subject's primary key is longer than %(max)d characters")
            % {"max": MAX_SUBJECT_ID},
        )
    content_type = ContentType.objects.get_for_model(subject)
    return SubjectRef(content_type.id, key, str(subject)[:255])
