"""The evaluator: walks a flow's progress rows in bounded batches and claims due nudges.

Each batch is one primary-key range read with a LIMIT, so memory does not grow with the
number of subjects. A nudge is claimed by inserting its unique delivery row before any
e-mail is sent; held-out subjects get a row marked ``held_out`` and nothing else.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.models import Event, EventKind, Progress, StepState
from onboarding.nudges.holdout import held_out
from onboarding.nudges.mirror import holdout_share, sync_rule
from onboarding.nudges.models import DeliveryStatus, Login, NudgeDelivery, NudgeRule
from onboarding.nudges.optout import opted_out_ids, setting_opts_out
from onboarding.nudges.rules import Rule, SubjectFacts, rule_registry

Enqueue = Callable[[int], None]


@dataclass
class RuleReport:
    """What one evaluation of a rule did."""

    rule: str
    batches: int = 0
    scanned: int = 0
    due: int = 0
    opted_out: int = 0
    claimed: int = 0
    held_out: int = 0
    queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def enqueue_send(delivery_id: int) -> None:
    """Hand a claimed delivery to Celery (inline when eager)."""
    from onboarding.nudges.tasks import send_nudge

    send_nudge.delay(delivery_id)


def _subjects(batch: list[Progress]) -> dict[tuple[int, str], Any]:
    """The subject instances of a batch: one query per content type."""
    by_type: dict[int, list[str]] = defaultdict(list)
    for row in batch:
        by_type[row.subject_type_id].append(row.subject_id)
    found: dict[tuple[int, str], Any] = {}
    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:
            continue
        for pk, obj in model._default_manager.in_bulk(ids).items():
            found[(type_id, str(pk))] = obj
    return found


def _activity(
    batch: list[Progress], now: datetime
) -> tuple[dict[int, list[datetime]], dict[int, list[datetime]]]:
    """Per progress row: sorted activity times (events and logins) and login times.

    Logins and events are read for the batch's subjects only; ``nudged`` events are ours,
    not the subject's activity.
    """
    index = {(row.subject_type_id, row.subject_id): row.pk for row in batch}
    logins: dict[int, list[datetime]] = defaultdict(list)
    activity: dict[int, list[datetime]] = defaultdict(list)
    by_type: dict[int, list[str]] = defaultdict(list)
    for row in batch:
        by_type[row.subject_type_id].append(row.subject_id)
    for type_id, ids in by_type.items():
        rows = Login.objects.filter(subject_type_id=type_id, subject_id__in=ids, at__lte=now)
        for subject_id, at in rows.values_list("subject_id", "at"):
            logins[index[(type_id, subject_id)]].append(at)
        events = Event.objects.filter(
            flow_id=batch[0].flow_id,
            subject_type_id=type_id,
            subject_id__in=ids,
            occurred_at__lte=now,
        ).exclude(kind=EventKind.NUDGED)
        for subject_id, at in events.values_list("subject_id", "occurred_at"):
            activity[index[(type_id, subject_id)]].append(at)
    for pk, times in logins.items():
        activity[pk].extend(times)
    return (
        {pk: sorted(times) for pk, times in activity.items()},
        {pk: sorted(times) for pk, times in logins.items()},
    )


def _already(rule_row: NudgeRule, batch: list[Progress]) -> set[int]:
    return set(
        NudgeDelivery.objects.filter(
            rule=rule_row, progress_id__in=[row.pk for row in batch]
        ).values_list("progress_id", flat=True)
    )


def _facts(
    rule: Rule, batch: list[Progress], now: datetime
) -> tuple[list[SubjectFacts], dict[tuple[int, str], Any]]:
    states: dict[int, dict[str, StepState]] = defaultdict(dict)
    for state in StepState.objects.filter(progress_id__in=[row.pk for row in batch]):
        states[state.progress_id][state.step_key] = state
    subjects = _subjects(batch)
    activity, logins = _activity(batch, now) if rule.needs_activity else ({}, {})
    facts = [
        SubjectFacts(
            progress=row,
            states=states.get(row.pk, {}),
            subject=subjects.get((row.subject_type_id, row.subject_id)),
            activity=activity.get(row.pk, ()),
            logins=logins.get(row.pk, ()),
        )
        for row in batch
    ]
    return facts, subjects


def _process_batch(
    rule: Rule,
    rule_row: NudgeRule,
    batch: list[Progress],
    *,
    now: datetime,
    context: Any,
    report: RuleReport,
    enqueue: Enqueue,
) -> None:
    done = _already(rule_row, batch)
    pending = [row for row in batch if row.pk not in done]
    if not pending:
        return
    facts, subjects = _facts(rule, pending, now)
    due: list[tuple[SubjectFacts, str]] = []
    for one in facts:
        step = rule.due(one, now, context, ordered=rule_row.flow.ordered)
        if step is not None:
            due.append((one, step))
    report.due += len(due)
    blocked: set[tuple[int, str]] = set()
    by_type: dict[int, list[str]] = defaultdict(list)
    for one, _step in due:
        by_type[one.progress.subject_type_id].append(one.progress.subject_id)
    for type_id, ids in by_type.items():
        blocked.update((type_id, subject_id) for subject_id in opted_out_ids(type_id, ids))
    share = holdout_share(rule)
    claim = uuid.uuid4()
    rows = []
    for one, step in due:
        key = (one.progress.subject_type_id, one.progress.subject_id)
        if key in blocked or setting_opts_out(subjects.get(key)):
            report.opted_out += 1
            continue
        status = (
            DeliveryStatus.HELD_OUT
            if held_out(rule.rule_key, key[0], key[1], share)
            else DeliveryStatus.PENDING
        )
        rows.append(
            NudgeDelivery(
                rule=rule_row,
                progress=one.progress,
                subject_type_id=key[0],
                subject_id=key[1],
                subject_label=one.progress.subject_label,
                step_key=step,
                status=status,
                claim=claim,
                created_at=now,
            )
        )
    if not rows:
        return
    with transaction.atomic():
        # A concurrent evaluation's rows win the unique constraint; ours are read back
        # by the claim token, so each nudge is queued by exactly one evaluator.
        NudgeDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        claimed = list(NudgeDelivery.objects.filter(claim=claim).values_list("pk", "status"))
        for pk, claimed_status in claimed:
            report.claimed += 1
            if claimed_status == DeliveryStatus.HELD_OUT:
                report.held_out += 1
            else:
                report.queued += 1
                transaction.on_commit(partial(enqueue, pk))


def evaluate_rule(
    rule: Rule,
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    enqueue: Enqueue = enqueue_send,
) -> RuleReport:
    """Claim the nudges ``rule`` finds due at ``now``; queue the sends after commit."""
    now = now or timezone.now()
    size = batch_size or onboarding_settings.NUDGE_BATCH_SIZE
    rule_row = sync_rule(rule)
    report = RuleReport(rule=rule.rule_key)
    context = rule.prepare(rule_row.flow, now)
    rows = rule.narrow(Progress.objects.filter(flow=rule_row.flow), now)
    rows = rows.select_related("version").order_by("pk")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:size])
        if not batch:
            break
        last = batch[-1].pk
        report.batches += 1
        report.scanned += len(batch)
        _process_batch(
            rule, rule_row, batch, now=now, context=context, report=report, enqueue=enqueue
        )
    return report


def evaluate(
    keys: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    enqueue: Enqueue = enqueue_send,
) -> list[RuleReport]:
    """Evaluate the declared rules (or those named by ``keys``), one after the other."""
    rules = [rule_registry.get(key) for key in keys] if keys else rule_registry.all()
    now = now or timezone.now()
    return [evaluate_rule(rule, now=now, batch_size=batch_size, enqueue=enqueue) for rule in rules]


__all__ = ["RuleReport", "evaluate", "evaluate_rule"]
