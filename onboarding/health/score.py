"""Computing health scores in bounded batches of subjects.

score = 100 * (w_progress * progress + w_recency * recency) / (w_progress + w_recency)
        - w_red_flag * red flags, clamped to 0..100

``progress`` is the share of required steps done over the subject's flows; ``recency``
is 1 while the last activity (an event other than ``nudged``, or a login) is at most
``HEALTH_ACTIVE_DAYS`` old and falls linearly to 0 at ``HEALTH_LAPSED_DAYS``.

Segments: ``lapsed`` (idle ``HEALTH_LAPSED_DAYS`` or more), else ``new`` (entered in the
last ``HEALTH_NEW_DAYS``), else ``declining`` (idle longer than ``HEALTH_ACTIVE_DAYS``,
or the score fell by ``HEALTH_DECLINE_POINTS`` since the last computation), else
``active``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from onboarding.conf import onboarding_settings
from onboarding.health.models import HealthScore, Segment
from onboarding.health.playbook import RED_FLAG_KINDS
from onboarding.models import Event, EventKind, Progress, StepState
from onboarding.nudges.models import Login, NudgeDelivery

Key = tuple[int, str]


@dataclass
class ScoreReport:
    subjects: int = 0
    batches: int = 0
    segments: Counter[str] = field(default_factory=Counter)


def recency(idle: timedelta) -> float:
    active = onboarding_settings.HEALTH_ACTIVE_DAYS
    lapsed = onboarding_settings.HEALTH_LAPSED_DAYS
    days = idle.total_seconds() / 86400
    if days <= active:
        return 1.0
    if days >= lapsed:
        return 0.0
    return (lapsed - days) / (lapsed - active)


def score_of(progress: float, recent: float, flags: int) -> int:
    weights = onboarding_settings.HEALTH_WEIGHTS
    wp, wr, wf = weights["progress"], weights["recency"], weights["red_flag"]
    base = 100 * (wp * progress + wr * recent) / (wp + wr)
    return max(0, min(100, round(base - wf * flags)))


def segment_of(
    *, now: datetime, entered: datetime, idle: timedelta, score: int, previous: int | None
) -> str:
    settings = onboarding_settings
    if idle >= timedelta(days=settings.HEALTH_LAPSED_DAYS):
        return Segment.LAPSED
    if now - entered < timedelta(days=settings.HEALTH_NEW_DAYS):
        return Segment.NEW
    fell = previous is not None and previous - score >= settings.HEALTH_DECLINE_POINTS
    if fell or idle > timedelta(days=settings.HEALTH_ACTIVE_DAYS):
        return Segment.DECLINING
    return Segment.ACTIVE


def _batch_facts(keys: list[Key]) -> dict[str, Any]:
    """Progress rows, required steps done, last logins, red flags and previous scores."""
    by_type: dict[int, list[str]] = defaultdict(list)
    for type_id, subject_id in keys:
        by_type[type_id].append(subject_id)
    rows: dict[Key, list[Progress]] = defaultdict(list)
    logins: dict[Key, datetime] = {}
    events: dict[Key, datetime] = {}
    flags: dict[Key, set[str]] = defaultdict(set)
    previous: dict[Key, HealthScore] = {}
    for type_id, ids in by_type.items():
        where = {"subject_type_id": type_id, "subject_id__in": ids}
        for row in Progress.objects.filter(**where).select_related("version"):
            rows[(type_id, row.subject_id)].append(row)
        # The subject's own last event: a ``nudged`` event is ours, not its activity.
        flows = {row.flow_id for key in rows if key[0] == type_id for row in rows[key]}
        own = (
            Event.objects.filter(flow_id__in=flows, **where)
            .exclude(kind=EventKind.NUDGED)
            .values("subject_id")
            .annotate(last=Max("occurred_at"))
        )
        events.update({(type_id, one["subject_id"]): one["last"] for one in own})
        last = Login.objects.filter(**where).values("subject_id").annotate(last=Max("at"))
        logins.update({(type_id, one["subject_id"]): one["last"] for one in last})
        found = NudgeDelivery.objects.filter(**where, rule__kind__in=RED_FLAG_KINDS)
        for subject_id, kind in found.values_list("subject_id", "rule__kind"):
            flags[(type_id, subject_id)].add(kind)
        for old in HealthScore.objects.filter(**where):
            previous[(type_id, old.subject_id)] = old
    done = set(
        StepState.objects.filter(
            progress_id__in=[row.pk for group in rows.values() for row in group],
            completed_at__isnull=False,
        ).values_list("progress_id", "step_key")
    )
    return {
        "rows": rows,
        "events": events,
        "logins": logins,
        "flags": flags,
        "previous": previous,
        "done": done,
    }


def _score_subject(key: Key, facts: dict[str, Any], now: datetime) -> HealthScore:
    rows: list[Progress] = facts["rows"][key]
    required = [(row.pk, s["key"]) for row in rows for s in row.version.steps if not s["optional"]]
    progress = sum(1 for one in required if one in facts["done"]) / len(required) if required else 0
    times = [facts[kind][key] for kind in ("events", "logins") if key in facts[kind]]
    # Only our own nudges (no entry yet): the last of them stands for entry.
    entered = min(row.entered_at or row.last_event_at for row in rows)
    if not times:  # only our own nudges: entry is the last activity we know of
        times = [entered]
    last_activity = max(times)
    idle = max(now - last_activity, timedelta(0))
    flags = sorted(facts["flags"].get(key, ()))
    recent = recency(idle)
    score = score_of(progress, recent, len(flags))
    old = facts["previous"].get(key)
    previous = old.score if old else None
    return HealthScore(
        subject_type_id=key[0],
        subject_id=key[1],
        subject_label=rows[0].subject_label,
        score=score,
        previous_score=previous,
        segment=segment_of(now=now, entered=entered, idle=idle, score=score, previous=previous),
        progress=progress,
        recency=recent,
        red_flags="," + ",".join(flags) + "," if flags else "",
        entered_at=entered,
        last_activity_at=last_activity,
        computed_at=now,
    )


def compute_scores(*, now: datetime | None = None, batch_size: int | None = None) -> ScoreReport:
    """Score every subject with progress, ``batch_size`` subjects at a time."""
    now = now or timezone.now()
    size = batch_size or onboarding_settings.NUDGE_BATCH_SIZE
    report = ScoreReport()
    subjects = Progress.objects.values_list("subject_type_id", "subject_id").order_by(
        "subject_type_id", "subject_id"
    )
    after: Key | None = None
    while True:
        page = subjects
        if after is not None:
            page = page.filter(
                Q(subject_type_id__gt=after[0])
                | Q(subject_type_id=after[0], subject_id__gt=after[1])
            )
        keys: list[Key] = list(dict.fromkeys(page.distinct()[:size]))
        if not keys:
            break
        after = keys[-1]
        facts = _batch_facts(keys)
        scores = [_score_subject(key, facts, now) for key in keys]
        HealthScore.objects.bulk_create(
            scores,
            update_conflicts=True,
            unique_fields=["subject_type", "subject_id"],
            update_fields=[
                "subject_label",
                "score",
                "previous_score",
                "segment",
                "progress",
                "recency",
                "red_flags",
                "entered_at",
                "last_activity_at",
                "computed_at",
            ],
        )
        report.batches += 1
        report.subjects += len(scores)
        report.segments.update(one.segment for one in scores)
    return report
