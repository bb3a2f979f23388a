"""Short-lived signed tokens that let a cross-origin widget act for one subject without cookies.

A token is ``django.core.signing`` (HMAC with ``SECRET_KEY``) over the subject, the
acting user (if any) and an expiry. Make one in a view or template and hand it to
the widget, which sends ``Authorization: Embed <token>``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import models

from onboarding.conf import onboarding_settings
from onboarding.exceptions import InvalidEvent
from onboarding.subjects import is_user, ref, resolve

SALT = "onboarding.api.embed"


@dataclass(frozen=True)
class EmbedGrant:
    """What a valid token allows: acting as ``who`` (a user, or a subject with no user)."""

    subject: models.Model
    user: Any = None

    @property
    def who(self) -> Any:
        return self.user if self.user is not None else self.subject


def make_embed_token(who: Any, *, max_age: int | None = None) -> str:
    """A token for ``who`` (a user, mapped to its subject, or a subject), valid ``max_age`` s."""
    subject, actor = resolve(who)
    lifetime = onboarding_settings.EMBED_TOKEN_MAX_AGE if max_age is None else max_age
    content_type = ContentType.objects.get_for_model(subject)
    payload = {
        "s": f"{content_type.app_label}.{content_type.model}:{subject.pk}",
        "u": actor.pk if is_user(actor) else None,
        "e": int(time.time()) + int(lifetime),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def read_embed_token(token: str) -> EmbedGrant | None:
    """The grant of a valid, unexpired token whose user still maps to its subject; else ``None``."""
    try:
        payload = signing.loads(token, salt=SALT)
        label, subject_pk = payload["s"].split(":", 1)
        app_label, model = label.split(".", 1)
        expires = int(payload["e"])
        user_pk = payload["u"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
    if expires < time.time():
        return None
    try:
        model_class = ContentType.objects.get_by_natural_key(app_label, model).model_class()
    except ContentType.DoesNotExist:
        return None
    subject = model_class._default_manager.filter(pk=subject_pk).first() if model_class else None
    if subject is None:
        return None
    if user_pk is None:
        return EmbedGrant(subject=subject)
    user = get_user_model()._default_manager.filter(pk=user_pk, is_active=True).first()
    if user is None:
        return None
    # A user who left the team since the token was made no longer acts for it.
    try:
        resolved, _actor = resolve(user)
    except InvalidEvent:
        return None
    now, then = ref(resolved), ref(subject)
    if (now.type_id, now.id) != (then.type_id, then.id):
        return None
    return EmbedGrant(subject=subject, user=user)
