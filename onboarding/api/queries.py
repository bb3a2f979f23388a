"""Reading progress of many flows for one subject in a constant number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onboarding.declarations import Flow
from onboarding.models import Progress
from onboarding.progress import FlowProgress, build_progress
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
