"""Who must not be nudged, and the signed token of the unsubscribe link."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction

from onboarding.conf import onboarding_settings
from onboarding.nudges.models import NudgeOptOut
from onboarding.subjects import ref

SALT = "onboarding.nudges.unsubscribe"


def opted_out_ids(subject_type_id: int, subject_ids: Iterable[str]) -> set[str]:
    """Of ``subject_ids`` (one content type), those with an opt-out row; one query."""
    return set(
        NudgeOptOut.objects.filter(
            subject_type_id=subject_type_id, subject_id__in=list(subject_ids)
        ).values_list("subject_id", flat=True)
    )


def setting_opts_out(subject: Any) -> bool:
    """What the host's ``NUDGE_OPTED_OUT`` callable says (no callable: nobody)."""
    check = onboarding_settings.NUDGE_OPTED_OUT
    return bool(check and subject is not None and check(subject))


def is_opted_out(subject: Any) -> bool:
    subject_ref = ref(subject)
    return setting_opts_out(subject) or bool(opted_out_ids(subject_ref.type_id, [subject_ref.id]))


def opt_out(subject_type_id: int, subject_id: str, *, source: str = "unsubscribe") -> bool:
    """Record an opt-out; False when there already was one."""
    try:
        with transaction.atomic():
            NudgeOptOut.objects.create(
                subject_type_id=subject_type_id, subject_id=subject_id, source=source
            )
    except IntegrityError:
        return False
    return True


def unsubscribe_token(subject: Any) -> str:
    subject_ref = ref(subject)
    # No timestamp: the link in an old e-mail keeps working, and one subject has one link.
    return signing.Signer(salt=SALT).sign_object([subject_ref.type_id, subject_ref.id])


def read_token(token: str) -> tuple[int, str]:
    """``(subject_type_id, subject_id)``; raises ``signing.BadSignature`` when forged."""
    type_id, subject_id = signing.Signer(salt=SALT).unsign_object(token)
    return int(type_id), str(subject_id)
