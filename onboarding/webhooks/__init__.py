"""Webhooks: ``step_completed`` and ``flow_finished`` POSTed to configured URLs.

Configure endpoints in ``ONBOARDING["WEBHOOKS"]``; each delivery is a row
(:class:`~onboarding.webhooks.models.WebhookDelivery`, in admin) written in the same
transaction as the event, sent by a Celery task after commit, signed with HMAC-SHA256
(:mod:`onboarding.webhooks.signing`, or :mod:`onboarding.webhooks.standard`) and retried
with exponential backoff; rows whose task was lost are queued again by
:func:`requeue_stale_deliveries`.
"""

from typing import Any

from onboarding.webhooks.signing import SIGNATURE_HEADER, sign, verify
from onboarding.webhooks.standard import new_secret, sign_standard, verify_standard

__all__ = [
    "SIGNATURE_HEADER",
    "new_secret",
    "requeue_stale_deliveries",
    "sign",
    "sign_standard",
    "verify",
    "verify_standard",
]


def __getattr__(name: str) -> Any:
    # Loaded on use: it needs the models, and this package is imported before apps are.
    if name == "requeue_stale_deliveries":
        from onboarding.webhooks.requeue import requeue_stale_deliveries

        return requeue_stale_deliveries
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
