"""The median time subjects take for a step, from its most recent completions."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from onboarding.models import FlowRecord, StepState


def _previous_required(steps: list[dict[str, Any]], step_key: str) -> str | None:
    keys = [step["key"] for step in steps]
    if step_key not in keys:
        return None
    earlier = [step["key"] for step in steps[: keys.index(step_key)] if not step["optional"]]
    return earlier[-1] if earlier else None


def median_step_time(
    flow_record: FlowRecord, step_key: str, *, sample: int = 1000, min_samples: int = 20
) -> timedelta | None:
    """Median of (completion - previous required step's completion, or entry) over the
    last ``sample`` completions of ``step_key``; ``None`` below ``min_samples``.

    Bounded: two queries of at most ``sample`` rows, whatever the table size.
    """
    version = flow_record.current_version
    previous = _previous_required(version.steps if version else [], step_key)
    rows = (
        StepState.objects.filter(
            progress__flow=flow_record, step_key=step_key, completed_at__isnull=False
        )
        .order_by("-completed_at")
        .values_list("progress_id", "completed_at", "progress__entered_at")[:sample]
    )
    # The query excludes null completions; the stubs type the column nullable all the same.
    # A subject with no entry (only nudges) has no time to measure from.
    done = [
        (progress_id, at, entered)
        for progress_id, at, entered in rows
        if at is not None and entered is not None
    ]
    since: dict[int, datetime] = {progress_id: entered for progress_id, _at, entered in done}
    if previous and flow_record.ordered:
        since = {
            progress_id: at
            for progress_id, at in StepState.objects.filter(
                progress_id__in=list(since), step_key=previous, completed_at__isnull=False
            ).values_list("progress_id", "completed_at")
            if at is not None
        }
    durations = [
        (at - since[progress_id]).total_seconds()
        for progress_id, at, _entered in done
        if progress_id in since and at >= since[progress_id]
    ]
    if len(durations) < min_samples:
        return None
    return timedelta(seconds=statistics.median(durations))
