"""Logins, recorded through Django's ``user_logged_in`` signal for the subject they act for."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from onboarding.exceptions import InvalidEvent


def record_login(user: Any, at: Any = None) -> None:
    """Store a login of ``user`` for its subject (a user without a subject is ignored)."""
    from django.utils import timezone

    from onboarding.nudges.models import Login
    from onboarding.subjects import ref, resolve

    try:
        subject, _actor = resolve(user)
    except InvalidEvent:
        return
    subject_ref = ref(subject)
    Login.objects.create(
        user=user,
        subject_type_id=subject_ref.type_id,
        subject_id=subject_ref.id,
        at=at or timezone.now(),
    )


@receiver(user_logged_in, dispatch_uid="onboarding.nudges.record_login")
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from onboarding.conf import onboarding_settings

    if onboarding_settings.NUDGE_RECORD_LOGINS:
        record_login(user)
