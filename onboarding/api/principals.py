"""Whose progress a request acts on."""

from __future__ import annotations

from typing import Any

from onboarding.api.embed import EmbedGrant
from onboarding.api.models import ApiKey
from onboarding.exceptions import InvalidEvent
from onboarding.subjects import ref, resolve


def who(request: Any) -> Any:
    """The user or subject the request acts for; ``None`` for API keys (events name one)."""
    if isinstance(request.auth, EmbedGrant):
        return request.auth.who
    if isinstance(request.auth, ApiKey):
        return None
    return request.user


def throttle_ident(request: Any) -> str | None:
    """A cache key part naming the subject, so team members share one budget."""
    cached = getattr(request, "_onboarding_subject_ident", None)
    if cached is not None:
        return cached
    actor = who(request)
    if actor is None or getattr(actor, "is_anonymous", False):
        return None
    try:
        subject, _actor = resolve(actor)
    except InvalidEvent:
        return None
    subject_ref = ref(subject)
    ident = f"{subject_ref.type_id}:{subject_ref.id}"
    request._onboarding_subject_ident = ident
    return ident
