"""Signal receivers: a delivery row per interested endpoint, queued after commit.

The rows are written inside ``track``'s transaction, so an event that rolls back
leaves no webhook, and a committed one always has its row even if the broker is down:
queueing after commit never raises (``track()`` has returned its result by then), and
the sweep (:mod:`onboarding.webhooks.requeue`) queues a row left pending again.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from onboarding import signals
from onboarding.conf import onboarding_settings
from onboarding.webhooks.config import endpoints
from onboarding.webhooks.models import WebhookDelivery
from onboarding.webhooks.requeue import enqueue


def _subject(subject: Any) -> dict[str, Any]:
    meta = subject._meta
    return {"type": f"{meta.app_label}.{meta.model_name}", "id": str(subject.pk)}


def _actor(actor: Any) -> int | str | None:
    """The acting user's key as JSON: an integer as it is, any other key (UUID) as text."""
    pk = getattr(actor, "pk", None)
    return pk if pk is None or isinstance(pk, int) else str(pk)


def record(
    event: str, flow: str, step: str, payload: dict[str, Any], label: str
) -> list[WebhookDelivery]:
    """A delivery row for each endpoint that wants ``event`` of ``flow``; sent after commit."""
    rows = [
        WebhookDelivery(
            endpoint=one.name,
            url=one.url,
            event=event,
            flow_key=flow,
            step_key=step,
            subject_label=label[:255],
            payload=payload,
        )
        for one in endpoints()
        if one.wants(event, flow)
    ]
    for row in rows:
        row.payload = {"id": str(row.id), "event": event, **payload}
    WebhookDelivery.objects.bulk_create(rows)
    for row in rows:
        # enqueue() catches broker errors itself; robust: nothing else may raise either.
        transaction.on_commit(partial(enqueue, row.pk), robust=True)
    return rows


@receiver(signals.step_completed, dispatch_uid="onboarding.webhooks.step_completed")
def _step_completed(sender: Any, subject: Any, actor: Any, step: Any, **kwargs: Any) -> None:
    if not onboarding_settings.WEBHOOKS or step is None:
        return
    progress = kwargs["progress"]
    record(
        "step_completed",
        sender.key,
        step.key,
        {
            "flow": sender.key,
            "step": step.key,
            "outcome": kwargs["outcome"],
            "occurred_at": kwargs["occurred_at"].isoformat(),
            "subject": _subject(subject),
            "actor": _actor(actor),
            "variant": progress.variant,
        },
        progress.subject_label,
    )


@receiver(signals.flow_finished, dispatch_uid="onboarding.webhooks.flow_finished")
def _flow_finished(sender: Any, subject: Any, actor: Any, **kwargs: Any) -> None:
    if not onboarding_settings.WEBHOOKS:
        return
    progress = kwargs["progress"]
    record(
        "flow_finished",
        sender.key,
        "",
        {
            "flow": sender.key,
            "finished_at": kwargs["finished_at"].isoformat(),
            "entered_at": progress.entered_at.isoformat(),
            "subject": _subject(subject),
            "actor": _actor(actor),
            "variant": progress.variant,
        },
        progress.subject_label,
    )
