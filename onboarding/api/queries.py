"""Reading a subject's progress in a constant number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import F

from onboarding.declarations import Flow
from onboarding.models import Progress, StepState
from onboarding.progress import FlowProgress, build_progress
from onboarding.registry import get_flow
from onboarding.subjects import ref, resolve
from onboarding.variants import assign_variant


def progress_of_flows(who: Any, flows: Sequence[Flow]) -> list[FlowProgress]:
    """The progress of ``who`` through each of ``flows``, in order; two queries at most."""
    subject, _actor = resolve(who)
    subject_ref = ref(subject)
    rows = {
        row.flow.key: row
        for row in Progress.objects.select_related("flow", "version")
        .prefetch_related("step_states")
        .filter(
            flow__key__in=[flow.key for flow in flows],
            subject_type_id=subject_ref.type_id,
            subject_id=subject_ref.id,
        )
    }
    subject_key = f"{subject_ref.type_id}:{subject_ref.id}"
    return [
        build_progress(
            flow,
            rows.get(flow.key),
            default_variant=assign_variant(flow.key, flow.variants, subject_key),
        )
        for flow in flows
    ]


STATE_FIELDS = ("id", "step_key", "outcome", "completed_at", "first_seen_at", "skipped_at")


def progress_of_flow(who: Any, flow: str) -> FlowProgress:
    """The progress of ``who`` through ``flow`` in one query, whatever its state: the
    progress row and version, LEFT JOINed to its step states (one row per state)."""
    declaration = get_flow(flow)
    subject, _actor = resolve(who)
    subject_ref = ref(subject)
    joined = list(
        Progress.objects.select_related("version")
        .filter(flow__key=flow, subject_type_id=subject_ref.type_id, subject_id=subject_ref.id)
        .annotate(**{f"state_{name}": F(f"step_states__{name}") for name in STATE_FIELDS})
        .order_by()  # one subject's rows: the model's ordering would only cost a sort
    )
    row = joined[0] if joined else None
    states = [
        StepState(progress=row, **{name: getattr(one, f"state_{name}") for name in STATE_FIELDS})
        for one in joined
        if getattr(one, "state_id", None) is not None
    ]
    subject_key = f"{subject_ref.type_id}:{subject_ref.id}"
    return build_progress(
        declaration,
        row,
        default_variant=assign_variant(declaration.key, declaration.variants, subject_key),
        step_states=states,
    )
