"""Async ingestion: event batches go to Celery and a worker stores them with ``track_many``.

:func:`enqueue_batch` returns only once the batch is durable: handed to the broker (with
RabbitMQ, set ``broker_transport_options={"confirm_publish": True}`` so a publish waits
for the broker's ack; with Redis the publish returning *is* the broker's reply, and
durability is what Redis's own persistence, ``appendonly``/``appendfsync``, gives), or
stored in the database when Celery runs eagerly. Inside a transaction the batch is
published when it commits, so an answer given after the commit is given after the
publish. The worker's task is idempotent (event ids are fixed before publishing),
``acks_late`` with ``reject_on_worker_lost`` and retried with backoff.

Redelivery after a worker dies is the broker's job: on Redis an unacknowledged message
comes back after ``broker_transport_options["visibility_timeout"]`` seconds (default one
hour); keep every countdown shorter than that (system check ``onboarding.W002``).
"""

from onboarding.ingest.payload import pack_event, unpack_events
from onboarding.ingest.publish import enqueue_batch, enqueue_packed

__all__ = ["enqueue_batch", "enqueue_packed", "pack_event", "unpack_events"]
