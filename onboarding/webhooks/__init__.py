"""Webhooks: ``step_completed`` and ``flow_finished`` POSTed to configured URLs.

Configure endpoints in ``ONBOARDING["WEBHOOKS"]``; each delivery is a row
(:class:`~onboarding.webhooks.models.WebhookDelivery`, in admin) written in the same
transaction as the event, sent by a Celery task after commit, signed with HMAC-SHA256
(:mod:`onboarding.webhooks.signing`) and retried with exponential backoff.
"""

from onboarding.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]
