"""What the worker does with a batch: ``track_many``, falling back to event by event.

Storing is idempotent by event id, so a batch delivered again (the worker died before
acknowledging it) stores nothing twice. An event the core refuses, or whose subject is
gone, is logged and left out; it never makes the rest of the batch fail or retry.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from onboarding.exceptions import OnboardingError
from onboarding.ingest.payload import PackedEvent, unpack_events
from onboarding.tracking import track_many

logger = logging.getLogger("onboarding.ingest")


@dataclass
class StoreResult:
    """Events stored now, ids already stored, and refused events with the reason."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def store_packed(packed: list[PackedEvent], *, batch_id: str = "") -> StoreResult:
    """Store a packed batch. Database errors propagate (the task retries on them)."""
    unpacked = unpack_events(packed)
    result = StoreResult()
    for event_id in unpacked.missing:
        result.rejected.append({"id": event_id, "error": "the subject no longer exists"})
    if unpacked.events:
        try:
            outcome = track_many(unpacked.events)
        except OnboardingError:
            # One bad event must not sink the batch: store the others one by one.
            for item in unpacked.events:
                try:
                    one = track_many([item])
                except OnboardingError as error:
                    result.rejected.append({"id": str(item.id), "error": str(error)})
                else:
                    result.accepted += one.accepted
                    result.duplicates += one.duplicates
        else:
            result.accepted += outcome.accepted
            result.duplicates += outcome.duplicates
    for refused in result.rejected:
        logger.warning(
            "Batch %s: event %s not stored: %s", batch_id, refused["id"], refused["error"]
        )
    return result
