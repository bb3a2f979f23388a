"""GDPR erasure: anonymize everything naming a subject while funnel counts stay.

The subject's id is replaced everywhere by a stable pseudonym (an HMAC of its type
and id with ``SECRET_KEY``), so its progress, step times and events still count,
grouped as before, but no longer point to anyone. What names a person outright
is removed: labels, event properties, the acting user, nudge recipients, the user's
logins and the subject and actor in the webhook log. The pseudonym is recorded in
:class:`~onboarding.models.ErasedSubject` and ``track`` refuses the subject's later
events; an erased user acting for a subject that is not erased is recorded with no actor.

Erasing twice changes nothing the second time. Rotating ``SECRET_KEY`` changes the
pseudonyms of later erasures, not of rows already anonymized; subjects erased
before the rotation are then no longer recognised (their events are accepted).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils.crypto import salted_hmac

from onboarding.exceptions import SubjectErased
from onboarding.models import ErasedSubject, Event, Progress
from onboarding.nudges.models import Login, NudgeDelivery, NudgeOptOut
from onboarding.webhooks.models import WebhookDelivery

SALT = "onboarding.erase"
# 63 bits: a negative number that fits a BigAutoField, never an auto-increment key.
_INT_RANGE = 2**63 - 1


@dataclass(frozen=True)
class ErasureReport:
    """How many rows one erasure changed. All zero (and ``newly_erased`` False) on a re-run."""

    pseudonym: str
    newly_erased: bool
    events: int = 0
    actor_cleared: int = 0
    progress: int = 0
    nudge_deliveries: int = 0
    opt_outs: int = 0
    logins_deleted: int = 0
    webhook_deliveries: int = 0

    @property
    def changed(self) -> int:
        return (
            self.events
            + self.actor_cleared
            + self.progress
            + self.nudge_deliveries
            + self.opt_outs
            + self.logins_deleted
            + self.webhook_deliveries
        )


def pseudonym(subject_type: ContentType, subject_id: str | int) -> str:
    """The stable stand-in for a subject's id: still a valid key of its model (a negative
    integer, a UUID or text) that no row has, so lookups by it simply find nothing."""
    digest = salted_hmac(
        SALT, f"{subject_type.app_label}.{subject_type.model}:{subject_id}", algorithm="sha256"
    ).digest()
    model = subject_type.model_class()
    pk: Any = model._meta.pk if model is not None else None
    if pk is not None and pk.is_relation:
        pk = pk.target_field
    if isinstance(pk, models.IntegerField):
        return str(-(1 + int.from_bytes(digest[:8], "big") % _INT_RANGE))
    if isinstance(pk, models.UUIDField):
        return str(uuid.UUID(bytes=digest[:16]))
    return f"erased-{digest.hex()[:32]}"


def erase_subject(subject: models.Model) -> ErasureReport:
    """Anonymize everything naming ``subject`` (a user, team, account...), as it is: a
    user is erased as a user, not mapped through ``SUBJECT_RESOLVER``."""
    return erase(ContentType.objects.get_for_model(subject), subject.pk)


def erase(subject_type: ContentType, subject_id: str | int) -> ErasureReport:
    """Like :func:`erase_subject` for a subject named by type and id (it may be deleted)."""
    original = str(subject_id)
    alias = pseudonym(subject_type, original)
    mine = {"subject_type": subject_type, "subject_id": original}
    with transaction.atomic():
        # Recorded first: a batch for this subject that commits while we wait on its
        # progress locks below is still anonymized by the event update that follows.
        _row, newly_erased = ErasedSubject.objects.get_or_create(
            subject_type=subject_type, pseudonym=alias
        )
        progress = Progress.objects.filter(**mine).update(subject_id=alias, subject_label="")
        events = Event.objects.filter(**mine).update(subject_id=alias, actor=None, properties={})
        deliveries = NudgeDelivery.objects.filter(**mine).update(
            subject_id=alias, subject_label="", recipients=[], last_error=""
        )
        opt_outs = NudgeOptOut.objects.filter(**mine).update(subject_id=alias)
        actor_cleared = logins_deleted = 0
        is_user = subject_type.model_class() is get_user_model()
        if is_user:
            # The user also acted for other subjects (a team): those events stay, unnamed.
            actor_cleared = Event.objects.filter(actor__pk=original).update(actor=None)
            logins_deleted, _by_model = Login.objects.filter(user_id=original).delete()
        logins_deleted += Login.objects.filter(**mine).delete()[0]
        webhooks = _erase_webhooks(subject_type, original, alias, is_user=is_user)
    return ErasureReport(
        pseudonym=alias,
        newly_erased=newly_erased,
        events=events,
        actor_cleared=actor_cleared,
        progress=progress,
        nudge_deliveries=deliveries,
        opt_outs=opt_outs,
        logins_deleted=logins_deleted,
        webhook_deliveries=webhooks,
    )


def _erase_webhooks(subject_type: ContentType, original: str, alias: str, *, is_user: bool) -> int:
    """The webhook log's rows naming the subject (its payload's subject, or as a user its
    ``actor``): subject id replaced by the pseudonym, label and actor removed (as on its
    events)."""
    label = f"{subject_type.app_label}.{subject_type.model}"
    named = models.Q(payload__subject__type=label, payload__subject__id=original)
    if is_user:
        # The payload keeps an integer key as a JSON number, any other key as text.
        named |= models.Q(payload__actor=original)
        if original.lstrip("-").isdigit():
            named |= models.Q(payload__actor=int(original))
    rows = list(WebhookDelivery.objects.filter(named).only("payload", "subject_label"))
    for row in rows:
        payload = dict(row.payload)
        subject = payload.get("subject")
        if isinstance(subject, dict) and (subject.get("type"), subject.get("id")) == (
            label,
            original,
        ):
            payload["subject"] = {**subject, "id": alias}
            payload["actor"] = None
            row.subject_label = ""
        if is_user and str(payload.get("actor")) == original:
            payload["actor"] = None
        row.payload = payload
    WebhookDelivery.objects.bulk_update(rows, ["payload", "subject_label"], batch_size=500)
    return len(rows)


def erased_among(subjects: Iterable[tuple[ContentType | int, str]]) -> dict[tuple[int, str], str]:
    """Which of ``(content type or its id, subject id)`` pairs were erased, as
    ``(content type id, subject id) -> label``; one query."""
    wanted: dict[tuple[int, str], tuple[tuple[int, str], str]] = {}
    for type_or_id, subject_id in subjects:
        content_type = (
            type_or_id
            if isinstance(type_or_id, ContentType)
            else ContentType.objects.get_for_id(type_or_id)
        )
        key = (content_type.pk, pseudonym(content_type, subject_id))
        label = f"{content_type.app_label}.{content_type.model} {subject_id}"
        wanted.setdefault(key, ((content_type.pk, str(subject_id)), label))
    if not wanted:
        return {}
    by_type: dict[int, list[str]] = {}
    for type_id, alias in wanted:
        by_type.setdefault(type_id, []).append(alias)
    query = models.Q()
    for type_id, aliases in by_type.items():
        query |= models.Q(subject_type_id=type_id, pseudonym__in=aliases)
    found = ErasedSubject.objects.filter(query).values_list("subject_type_id", "pseudonym")
    return dict(sorted(wanted[key] for key in found))


def refuse_erased(subjects: Iterable[tuple[ContentType | int, str]]) -> None:
    """Raise :class:`~onboarding.exceptions.SubjectErased` naming the first erased subject
    among ``(content type or its id, subject id)`` pairs; one query."""
    for _key, label in erased_among(subjects).items():
        raise SubjectErased(label)
