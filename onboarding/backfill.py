"""Backfill progress from existing data through each step's ``done_when`` predicate.

Every user is visited in primary-key order, in batches, and mapped to its subject.
For each subject, steps not yet done whose predicate holds are recorded as
``completed`` events through :func:`~onboarding.tracking.track_many` with ids derived
from flow, step and subject, so a re-run never counts a step twice. After each batch
the last user pk is stored in a :class:`~onboarding.models.Checkpoint`, so an
interrupted run continues where it stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils.translation import gettext as _

from onboarding.conf import onboarding_settings
from onboarding.declarations import Flow, Predicate
from onboarding.exceptions import InvalidEvent, OnboardingError
from onboarding.models import Checkpoint, EventKind, FlowRecord, StepState
from onboarding.registry import get_flow, registry
from onboarding.subjects import SubjectRef, ref, resolve
from onboarding.sync import flow_record
from onboarding.tracking import EventInput, track_many

SOURCE = "backfill"
# Namespace of the deterministic event ids; never change it, or re-runs count twice.
EVENT_NAMESPACE = uuid.UUID("5d6f0c39-8a57-4d3e-9b8f-2f1d0e6c4a10")


class BackfillError(OnboardingError):
    """A ``done_when`` predicate failed; batches before it are kept."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a flow's backfill is, reported after each batch."""

    flow: str
    processed: int
    total: int

    @property
    def percent(self) -> int:
        return 100 * self.processed // self.total if self.total else 100


@dataclass
class FlowBackfill:
    """What the backfill of one flow did (or, in a dry run, would do)."""

    flow: str
    steps: list[str]
    resumed_after: Any = None
    users_processed: int = 0
    users_without_subject: int = 0
    subjects_examined: int = 0
    events_recorded: int = 0


@dataclass
class BackfillReport:
    flows: list[FlowBackfill] = field(default_factory=list)
    dry_run: bool = False

    @property
    def subjects_examined(self) -> int:
        return sum(one.subjects_examined for one in self.flows)

    @property
    def events_recorded(self) -> int:
        return sum(one.events_recorded for one in self.flows)


def checkpoint_name(flow_key: str) -> str:
    return f"backfill:{flow_key}"


def event_id(flow_key: str, step_key: str, subject: models.Model) -> uuid.UUID:
    """The same id for the same flow, step and subject, on every run and every database."""
    return uuid.uuid5(
        EVENT_NAMESPACE, f"{flow_key}/{step_key}/{subject._meta.label_lower}/{subject.pk}"
    )


def backfill(
    *,
    flows: Sequence[str] | None = None,
    batch_size: int | None = None,
    restart: bool = False,
    dry_run: bool = False,
    on_batch: Callable[[BatchProgress], None] | None = None,
) -> BackfillReport:
    """Record the steps existing data says are done, for ``flows`` (default: every flow
    with a ``done_when`` step). ``dry_run`` writes nothing, not even the checkpoint.
    """
    size = batch_size if batch_size is not None else onboarding_settings.BATCH_SIZE
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, got {size}")
    report = BackfillReport(dry_run=dry_run)
    for flow in _flows(flows):
        runner = _FlowRunner(flow, size=size, dry_run=dry_run, on_batch=on_batch)
        report.flows.append(runner.run(restart=restart))
    return report


def _flows(keys: Sequence[str] | None) -> list[Flow]:
    if keys:
        return [get_flow(key) for key in dict.fromkeys(keys)]  # UnknownFlow names the key
    declared = [flow for flow in registry.all() if _predicate_steps(flow)]
    return sorted(declared, key=lambda flow: flow.key)


def _predicate_steps(flow: Flow) -> list[tuple[str, Predicate]]:
    return [(step.key, step.done_when) for step in flow.steps if step.done_when is not None]


def _json_pk(pk: Any) -> Any:
    return pk if isinstance(pk, int | str) else str(pk)


def _done_at(result: Any) -> tuple[bool, datetime | None]:
    """A predicate's answer: a datetime is when it was done; any other truth is "now"."""
    if isinstance(result, datetime):
        return True, result
    return bool(result), None


class _FlowRunner:
    def __init__(
        self,
        flow: Flow,
        *,
        size: int,
        dry_run: bool,
        on_batch: Callable[[BatchProgress], None] | None,
    ) -> None:
        self.flow = flow
        self.size = size
        self.dry_run = dry_run
        self.on_batch = on_batch
        self.steps = _predicate_steps(flow)
        self.result = FlowBackfill(flow=flow.key, steps=[key for key, _ in self.steps])
        # Subjects already examined in this run: several users may share a team.
        self.seen: set[tuple[int, str]] = set()
        self.record: FlowRecord | None = None

    def run(self, *, restart: bool) -> FlowBackfill:
        if not self.steps:
            return self.result
        if self.dry_run:
            self.record = FlowRecord.objects.filter(key=self.flow.key).first()
        else:
            self.record = flow_record(self.flow)
        name = checkpoint_name(self.flow.key)
        if restart and not self.dry_run:
            Checkpoint.objects.filter(name=name).delete()
        last_pk = None if restart else self._checkpoint(name)
        self.result.resumed_after = last_pk

        users = get_user_model()._default_manager.order_by("pk")
        total = users.count()
        processed = users.filter(pk__lte=last_pk).count() if last_pk is not None else 0
        while True:
            batch = list((users if last_pk is None else users.filter(pk__gt=last_pk))[: self.size])
            if not batch:
                break
            with transaction.atomic():
                self._run_batch(batch)
                last_pk = _json_pk(batch[-1].pk)
                if not self.dry_run:
                    Checkpoint.objects.update_or_create(
                        name=name, defaults={"value": {"last_pk": last_pk}}
                    )
            processed += len(batch)
            self.result.users_processed += len(batch)
            if self.on_batch is not None:
                self.on_batch(BatchProgress(self.flow.key, processed, total))
        return self.result

    def _checkpoint(self, name: str) -> Any:
        checkpoint = Checkpoint.objects.filter(name=name).first()
        return checkpoint.value.get("last_pk") if checkpoint else None

    def _run_batch(self, users: Sequence[models.Model]) -> None:
        subjects = list(self._new_subjects(users))
        if not subjects:
            return
        done = self._done_steps([subject_ref for _, subject_ref in subjects])
        inputs = list(self._completions(subjects, done))
        if self.dry_run:
            self.result.events_recorded += len(inputs)
        elif inputs:
            self.result.events_recorded += track_many(inputs).accepted

    def _new_subjects(
        self, users: Iterable[models.Model]
    ) -> Iterable[tuple[models.Model, SubjectRef]]:
        for user in users:
            try:
                subject, _actor = resolve(user)
            except InvalidEvent:
                # SUBJECT_RESOLVER maps this user to nothing (say, a user without a team).
                self.result.users_without_subject += 1
                continue
            subject_ref = ref(subject)
            key = (subject_ref.type_id, subject_ref.id)
            if key in self.seen:
                continue
            self.seen.add(key)
            self.result.subjects_examined += 1
            yield subject, subject_ref

    def _done_steps(self, refs: list[SubjectRef]) -> set[tuple[int, str, str]]:
        """(subject type, subject id, step) of steps these subjects have already done."""
        if self.record is None:
            return set()
        by_type: dict[int, list[str]] = {}
        for subject_ref in refs:
            by_type.setdefault(subject_ref.type_id, []).append(subject_ref.id)
        which = models.Q()
        for type_id, ids in by_type.items():
            which |= models.Q(progress__subject_type_id=type_id, progress__subject_id__in=ids)
        rows = StepState.objects.filter(
            which, progress__flow=self.record, completed_at__isnull=False
        ).values_list("progress__subject_type_id", "progress__subject_id", "step_key")
        return set(rows)

    def _completions(
        self,
        subjects: list[tuple[models.Model, SubjectRef]],
        done: set[tuple[int, str, str]],
    ) -> Iterable[EventInput]:
        for subject, subject_ref in subjects:
            for step_key, predicate in self.steps:
                if (subject_ref.type_id, subject_ref.id, step_key) in done:
                    continue
                try:
                    holds, occurred_at = _done_at(predicate(subject))
                except Exception as error:
                    raise BackfillError(
                        _(
                            "done_when of step %(step)r in flow %(flow)r failed for "
                            "%(subject)r: %(error)s"
                        )
                        % {
                            "step": step_key,
                            "flow": self.flow.key,
                            "subject": subject_ref.label,
                            "error": error,
                        }
                    ) from error
                if holds:
                    yield EventInput(
                        who=subject,
                        flow=self.flow.key,
                        step=step_key,
                        kind=EventKind.COMPLETED,
                        occurred_at=occurred_at,
                        id=event_id(self.flow.key, step_key, subject),
                        source=SOURCE,
                    )
