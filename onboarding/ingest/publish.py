"""Publishing a batch: returns once the broker has it (or, eagerly, the database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from celery.result import EagerResult
from django.db import transaction
from django.utils import timezone

from onboarding.ingest.payload import PackedEvent, pack_event
from onboarding.tracking import EventInput


def _publish(batch_id: str, packed: list[PackedEvent]) -> None:
    from onboarding.ingest.tasks import store_batch

    # retry=True: a lost connection is re-established and the publish repeated (a
    # repeat is harmless, storing is idempotent) before giving up with an error.
    result = store_batch.apply_async(
        args=(batch_id, packed),
        task_id=batch_id,
        retry=True,
        retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
    )
    if isinstance(result, EagerResult):
        # Eager (the embedded default): the batch was stored inline, or this raises.
        result.get(propagate=True)


def enqueue_packed(packed: list[PackedEvent], *, batch_id: uuid.UUID | None = None) -> uuid.UUID:
    """Publish already packed events as one batch; returns the batch id.

    Outside a transaction it returns after the publish. Inside one, the publish runs
    when it commits (a worker must not store events of a transaction that rolls back)
    and an error then is raised from the commit.
    """
    batch = batch_id or uuid.uuid4()
    if packed:
        transaction.on_commit(lambda: _publish(str(batch), packed), robust=False)
    return batch


def enqueue_batch(events: Iterable[EventInput], *, batch_id: uuid.UUID | None = None) -> uuid.UUID:
    """Pack and publish ``events`` for a Celery worker to store; returns the batch id.

    Raises ``InvalidEvent`` (before publishing anything) for an event with no subject.
    """
    received_at = timezone.now()
    return enqueue_packed(
        [pack_event(item, received_at=received_at) for item in events], batch_id=batch_id
    )
