"""``track``: the one write path. Records events and updates progress in one transaction."""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding import signals
from onboarding.bulk import insert_new, lock_or_create, update_rows, upsert_rows
from onboarding.conf import onboarding_settings
from onboarding.declarations import Flow
from onboarding.erase import refuse_erased
from onboarding.exceptions import InvalidEvent, NoDefault
from onboarding.funnel.paths import save_paths
from onboarding.models import (
    Event,
    EventKind,
    FlowRecord,
    FlowVersion,
    Outcome,
    Progress,
    StepState,
)
from onboarding.progress_state import StepChange, apply_event
from onboarding.registry import get_flow
from onboarding.subjects import SubjectRef, ref, resolve
from onboarding.sync import flow_record
from onboarding.variants import assign_variant

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,49}$")
STEP_KINDS = {EventKind.COMPLETED, EventKind.DEFAULTED, EventKind.SKIPPED, EventKind.DISMISSED}


@dataclass(frozen=True)
class EventInput:
    """One event to record. ``who`` is a user (mapped to its subject) or a subject."""

    who: Any
    flow: str
    step: str = ""
    kind: str = EventKind.COMPLETED
    occurred_at: datetime | None = None
    id: uuid.UUID | str | None = None
    properties: Mapping[str, Any] | None = None
    source: str = "server"
    actor: Any = None


@dataclass(frozen=True)
class TrackResult:
    """How many events were stored, how many ids were already known, and the new ids."""

    accepted: int
    duplicates: int
    event_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class _Prepared:
    flow: Flow
    record: FlowRecord
    subject: models.Model
    subject_ref: SubjectRef
    actor: Any
    event: Event


def _normalize_time(value: datetime | None, received_at: datetime) -> datetime:
    if value is None:
        return received_at
    if not isinstance(value, datetime):
        raise InvalidEvent("occurred_at", _("must be a datetime"))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    # Client clocks drift: a time in the future is clamped to the time of receipt.
    if value - received_at > timedelta(seconds=onboarding_settings.MAX_FUTURE_SKEW_SECONDS):
        return received_at
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item) for item in value)
    return False


def _normalize_properties(value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidEvent("properties", _("must be a JSON object"))
    try:
        # NaN/Infinity, NUL characters and lone surrogates are not valid JSON for
        # every database (PostgreSQL's jsonb refuses them): refuse them here.
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        size = len(text.encode())
    except (TypeError, ValueError) as error:
        raise InvalidEvent(
            "properties", _("must be JSON-serializable (%(error)s)") % {"error": error}
        ) from None
    if _has_nul(value):
        raise InvalidEvent("properties", _("must not contain NUL characters"))
    limit = onboarding_settings.MAX_PROPERTIES_BYTES
    if size > limit:
        raise InvalidEvent(
            "properties",
            _("is %(size)d bytes, over the limit of %(limit)d") % {"size": size, "limit": limit},
        )
    return dict(value)


def _normalize_id(value: uuid.UUID | str | None) -> uuid.UUID:
    if value is None:
        return uuid.uuid4()
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise InvalidEvent("id", _("%(value)r is not a UUID") % {"value": value}) from None


def _prepare(item: EventInput, received_at: datetime, records: dict[str, FlowRecord]) -> _Prepared:
    flow = get_flow(item.flow)
    kind = str(item.kind)
    if not KIND_PATTERN.match(kind):
        raise InvalidEvent("kind", _("%(kind)r is not a valid event kind") % {"kind": kind})
    if kind in STEP_KINDS and not item.step:
        raise InvalidEvent("step", _("a %(kind)r event needs a step") % {"kind": kind})
    if item.step:
        flow.step(item.step)  # raises UnknownStep naming the key
    subject, actor = resolve(item.who)
    if flow.key not in records:
        records[flow.key] = flow_record(flow)
    return _Prepared(
        flow=flow,
        record=records[flow.key],
        subject=subject,
        subject_ref=ref(subject),
        actor=item.actor or actor,
        event=Event(
            id=_normalize_id(item.id),
            step_key=item.step,
            kind=kind,
            occurred_at=_normalize_time(item.occurred_at, received_at),
            received_at=received_at,
            source=item.source[:30],
            properties=_normalize_properties(item.properties),
        ),
    )


def _select_progress(
    keys: list[tuple[int, int, str]], *, lock: bool
) -> dict[tuple[int, int, str], Progress]:
    rows: dict[tuple[int, int, str], Progress] = {}
    by_group: dict[tuple[int, int], list[str]] = defaultdict(list)
    for flow_id, type_id, subject_id in keys:
        by_group[(flow_id, type_id)].append(subject_id)
    for (flow_id, type_id), subject_ids in sorted(by_group.items()):
        query = Progress.objects.select_related("version").filter(
            flow_id=flow_id, subject_type_id=type_id, subject_id__in=subject_ids
        )
        if lock:
            # A fixed lock order (by id) keeps concurrent batches from deadlocking.
            query = query.select_for_update(of=("self",)).order_by("pk")
        for row in query:
            rows[(row.flow_id, row.subject_type_id, row.subject_id)] = row
    return rows


def _existing_progress(keys: list[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
    """Which of ``keys`` have a progress row (read without locking, keys only)."""
    found: set[tuple[int, int, str]] = set()
    by_group: dict[tuple[int, int], list[str]] = defaultdict(list)
    for flow_id, type_id, subject_id in keys:
        by_group[(flow_id, type_id)].append(subject_id)
    for (flow_id, type_id), subject_ids in sorted(by_group.items()):
        found.update(
            Progress.objects.filter(
                flow_id=flow_id, subject_type_id=type_id, subject_id__in=subject_ids
            ).values_list("flow_id", "subject_type_id", "subject_id")
        )
    return found


def _new_progress(item: _Prepared) -> Progress:
    subject_key = f"{item.subject_ref.type_id}:{item.subject_ref.id}"
    return Progress(
        flow=item.record,
        version=item.record.current_version,
        subject_type_id=item.subject_ref.type_id,
        subject_id=item.subject_ref.id,
        subject_label=item.subject_ref.label,
        variant=assign_variant(item.flow.key, item.flow.variants, subject_key),
        entered_at=item.event.occurred_at,
        last_event_at=item.event.occurred_at,
    )


def _lock_progress(
    prepared: list[_Prepared],
) -> tuple[dict[tuple[int, int, str], Progress], set[tuple[int, int, str]]]:
    """Get or create every subject's progress row, locked until the transaction ends;
    also the keys of the rows that were missing."""
    wanted: dict[tuple[int, int, str], _Prepared] = {}
    for item in prepared:
        key = (item.record.pk, item.subject_ref.type_id, item.subject_ref.id)
        first = wanted.get(key)
        if first is None or item.event.occurred_at < first.event.occurred_at:
            wanted[key] = item
    keys = sorted(wanted)
    locked = lock_or_create(
        [_new_progress(wanted[key]) for key in keys], ["flow", "subject_type", "subject_id"]
    )
    if locked is not None:
        return _locked_rows(prepared, locked)
    # Locking before inserting is safe for one row only: a batch holding locks while
    # it waits on another's uncommitted insert could deadlock with it.
    rows = _select_progress(keys, lock=True) if len(keys) == 1 else {}
    present = set(rows) if len(keys) == 1 else _existing_progress(keys)
    missing = [key for key in keys if key not in present]
    if missing:
        # Inserted in key order; a concurrent writer's rows are ignored, then read.
        Progress.objects.bulk_create(
            [_new_progress(wanted[key]) for key in missing], ignore_conflicts=True
        )
    if missing or len(keys) > 1:
        rows = _select_progress(keys, lock=True)
    return rows, set(missing)


def _locked_rows(
    prepared: list[_Prepared], locked: list[tuple[Progress, bool]]
) -> tuple[dict[tuple[int, int, str], Progress], set[tuple[int, int, str]]]:
    """Index the rows :func:`~onboarding.bulk.lock_or_create` gave, with their flow and
    version attached as ``select_related`` would (versions of older entries: one query)."""
    flows = {item.record.pk: item.record for item in prepared}
    versions = {
        record.current_version_id: record.current_version
        for record in flows.values()
        if record.current_version is not None
    }
    older = {row.version_id for row, _new in locked} - set(versions)
    if older:
        versions.update(FlowVersion.objects.in_bulk(older))
    rows: dict[tuple[int, int, str], Progress] = {}
    created: set[tuple[int, int, str]] = set()
    for row, new in locked:
        row.flow = flows[row.flow_id]
        row.version = versions[row.version_id]
        key = (row.flow_id, row.subject_type_id, row.subject_id)
        rows[key] = row
        if new:
            created.add(key)
    return rows, created


def _send_signals(changes: list[StepChange], prepared: _Prepared, progress: Progress) -> None:
    for change in changes:
        if change.newly_completed:
            signals.step_completed.send(
                sender=prepared.flow,
                subject=prepared.subject,
                actor=prepared.actor,
                step=prepared.flow.step(change.step_key)
                if change.step_key in prepared.flow.step_keys
                else None,
                outcome=change.outcome,
                occurred_at=change.at,
                progress=progress,
            )


def track_many(items: Iterable[EventInput]) -> TrackResult:
    """Record many events at once; all or nothing. Ids already stored count as duplicates."""
    received_at = timezone.now()
    records: dict[str, FlowRecord] = {}
    prepared: list[_Prepared] = []
    seen: set[uuid.UUID] = set()
    duplicates = 0
    for item in items:
        one = _prepare(item, received_at, records)
        if one.event.id in seen:
            duplicates += 1
            continue
        seen.add(one.event.id)
        prepared.append(one)
    if not prepared:
        return TrackResult(accepted=0, duplicates=duplicates)

    with transaction.atomic():
        progress_rows, created = _lock_progress(prepared)
        # Under the progress locks an erasure waits on: see onboarding.erase.
        refuse_erased(_named(prepared, created))
        for one in prepared:
            progress = progress_rows[_progress_key(one)]
            one.event.flow = one.record
            one.event.subject_type_id = one.subject_ref.type_id
            one.event.subject_id = one.subject_ref.id
            one.event.actor = one.actor if getattr(one.actor, "pk", None) else None
            one.event.variant = progress.variant
            one.event.version_id = progress.version_id
        stored = _store_new([one.event for one in prepared])
        fresh = [one for one in prepared if one.event.id in stored]
        duplicates += len(prepared) - len(fresh)
        by_progress: dict[int, list[_Prepared]] = defaultdict(list)
        for one in fresh:
            by_progress[progress_rows[_progress_key(one)].pk].append(one)
        _apply(by_progress, {row.pk: row for row in progress_rows.values()})
    return TrackResult(
        accepted=len(fresh),
        duplicates=duplicates,
        event_ids=[item.event.id for item in fresh],
    )


def _progress_key(item: _Prepared) -> tuple[int, int, str]:
    return (item.record.pk, item.subject_ref.type_id, item.subject_ref.id)


def _store_new(events: list[Event]) -> set[uuid.UUID]:
    """Insert the events whose id is new; the ids inserted (the others are duplicates)."""
    size = onboarding_settings.BATCH_SIZE
    inserted = insert_new(events, batch_size=size)
    if inserted is not None:
        return inserted
    # No INSERT ... RETURNING: read the known ids under the progress locks (a concurrent
    # batch re-sending the same ids for the same subjects waits for us, then sees ours).
    ids = [event.id for event in events]
    known: set[uuid.UUID] = set()
    for start in range(0, len(ids), size):
        known.update(
            Event.objects.filter(id__in=ids[start : start + size]).values_list("id", flat=True)
        )
    new = [event for event in events if event.id not in known]
    Event.objects.bulk_create(new, ignore_conflicts=True, batch_size=size)
    return {event.id for event in new}


def _named(prepared: list[_Prepared], created: set[tuple[int, int, str]]) -> set[tuple[int, str]]:
    """The subjects and acting users of a batch that may have been erased, as
    ``(content type id, id)``.

    An erasure renames the subject's progress, so a subject whose progress row was
    found under its own id is not erased: only new rows, and actors acting for
    another subject (a team's member), need a look (none in the steady state).
    """
    named: set[tuple[int, str]] = set()
    for item in prepared:
        subject = (item.subject_ref.type_id, item.subject_ref.id)
        if _progress_key(item) in created:
            named.add(subject)
        if isinstance(item.actor, models.Model) and item.actor.pk is not None:
            actor = (ContentType.objects.get_for_model(item.actor).pk, str(item.actor.pk))
            if actor != subject:
                named.add(actor)
    return named


def _apply(by_progress: dict[int, list[_Prepared]], progress_by_pk: dict[int, Progress]) -> None:
    """Fold new events into step states and progress; send signals for first completions."""
    states: dict[tuple[int, str], StepState] = {
        (state.progress_id, state.step_key): state
        for state in StepState.objects.filter(progress_id__in=list(by_progress))
    }
    new_states: list[StepState] = []
    changed_states: dict[int, StepState] = {}
    pending_signals: list[tuple[list[StepChange], _Prepared, Progress, bool]] = []
    for progress_pk, items in by_progress.items():
        progress = progress_by_pk[progress_pk]
        was_finished = progress.finished_at is not None
        flow = items[0].flow
        finisher = items[-1]
        # Sorted by time, then kind, so that a batch sends the same signals in any order.
        for item in sorted(items, key=lambda one: (one.event.occurred_at, one.event.kind)):
            event = item.event
            progress.entered_at = min(progress.entered_at, event.occurred_at)
            progress.last_event_at = max(progress.last_event_at, event.occurred_at)
            step_keys = _steps_touched(flow, event, progress)
            changes = []
            for step_key in step_keys:
                state = states.get((progress_pk, step_key))
                if state is None:
                    state = StepState(progress=progress, step_key=step_key)
                    states[(progress_pk, step_key)] = state
                    new_states.append(state)
                change = apply_event(state, event.kind, event.occurred_at, step_key)
                if change is not None:
                    changes.append(change)
                    if state.pk:
                        changed_states[state.pk] = state
            if changes:
                pending_signals.append((changes, item, progress, False))
                if any(change.newly_completed for change in changes):
                    finisher = item
        required = [step["key"] for step in progress.version.steps if not step["optional"]]
        times = [getattr(states.get((progress_pk, key)), "completed_at", None) for key in required]
        done = [time for time in times if time is not None]
        progress.finished_at = max(done) if times and len(done) == len(times) else None
        if progress.finished_at and not was_finished:
            pending_signals.append(([], finisher, progress, True))
        # bulk_update() does not apply auto_now.
        progress.updated_at = timezone.now()

    _save_states(new_states, list(changed_states.values()))
    update_rows(
        [progress_by_pk[pk] for pk in by_progress],
        ["entered_at", "last_event_at", "finished_at", "updated_at"],
        batch_size=onboarding_settings.BATCH_SIZE,
    )
    # The funnel's per-subject row, in the same transaction (onboarding.funnel.paths).
    save_paths([progress_by_pk[pk] for pk in by_progress], states)
    for changes, item, progress, finished in pending_signals:
        if finished:
            signals.flow_finished.send(
                sender=item.flow,
                subject=item.subject,
                actor=item.actor,
                progress=progress,
                finished_at=progress.finished_at,
            )
        else:
            _send_signals(changes, item, progress)


STATE_FIELDS = ["outcome", "completed_at", "first_seen_at", "skipped_at"]
# EventKind.values builds a new list on every access: read once.
BUILT_IN_KINDS = frozenset(EventKind.values)


def _save_states(new: list[StepState], changed: list[StepState]) -> None:
    """New and changed step states in one upsert where the database has them."""
    if upsert_rows([*new, *changed], ["progress", "step_key"], STATE_FIELDS):
        return
    size = onboarding_settings.BATCH_SIZE
    features = connections[router.db_for_write(StepState)].features
    if not features.supports_update_conflicts_with_target:
        StepState.objects.bulk_create(new, batch_size=size)
        update_rows(changed, STATE_FIELDS, batch_size=size)
        return
    # Changed rows go in as copies without their key, so that one statement takes all.
    copies = [
        StepState(
            progress_id=state.progress_id,
            step_key=state.step_key,
            **{name: getattr(state, name) for name in STATE_FIELDS},
        )
        for state in changed
    ]
    StepState.objects.bulk_create(
        [*new, *copies],
        update_conflicts=True,
        unique_fields=["progress", "step_key"],
        update_fields=STATE_FIELDS,
        batch_size=size,
    )


def _steps_touched(flow: Flow, event: Event, progress: Progress) -> list[str]:
    """The steps an event acts on.

    A built-in kind acts on its own step (``nudged`` on none); a custom kind completes
    the steps of the subject's version declared ``completed_by`` that kind.
    """
    if event.kind == EventKind.NUDGED:
        return []
    if event.kind in BUILT_IN_KINDS:
        return [event.step_key] if event.step_key else []
    version_keys = set(progress.version.step_keys)
    return [step.key for step in flow.steps_completed_by(event.kind) if step.key in version_keys]


def track(
    who: Any,
    flow: str,
    step: str = "",
    *,
    kind: str = EventKind.COMPLETED,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | str | None = None,
    properties: Mapping[str, Any] | None = None,
    source: str = "server",
) -> TrackResult:
    """Record one event for ``who`` (a user or a subject) and update its progress.

    Runs in the caller's transaction (or its own). Re-sending an ``event_id`` changes
    nothing and counts as a duplicate.
    """
    return track_many(
        [
            EventInput(
                who=who,
                flow=flow,
                step=step,
                kind=kind,
                occurred_at=occurred_at,
                id=event_id,
                properties=properties,
                source=source,
            )
        ]
    )


def complete(who: Any, flow: str, step: str, **options: Any) -> TrackResult:
    """Mark ``step`` completed (customized) for ``who``."""
    return track(who, flow, step, kind=Outcome.COMPLETED, **options)


def _step_done(subject: models.Model, flow: str, step: str) -> bool:
    subject_ref = ref(subject)
    return StepState.objects.filter(
        progress__flow__key=flow,
        progress__subject_type_id=subject_ref.type_id,
        progress__subject_id=subject_ref.id,
        step_key=step,
        completed_at__isnull=False,
    ).exists()


def accept_default(who: Any, flow: str, step: str, **options: Any) -> TrackResult:
    """Apply the step's smart default, then record the ``defaulted`` outcome, atomically."""
    declaration = get_flow(flow).step(step)
    if declaration.default is None:
        raise NoDefault(flow, step)
    subject, actor = resolve(who)
    event_id = options.get("event_id")
    with transaction.atomic():
        # A retried request (same event id) records a duplicate without applying the
        # default a second time (e.g. a second sample project).
        retried = event_id is not None and Event.objects.filter(pk=_normalize_id(event_id)).exists()
        # A step already done keeps what the user made: a double-submitted form must
        # not apply the default over it.
        if not retried and not _step_done(subject, flow, step):
            declaration.default(subject, actor)
        return track(who, flow, step, kind=Outcome.DEFAULTED, **options)


def skip(who: Any, flow: str, step: str, **options: Any) -> TrackResult:
    """Record that ``who`` skipped ``step`` (not done)."""
    return track(who, flow, step, kind=Outcome.SKIPPED, **options)


def dismiss(who: Any, flow: str, step: str, **options: Any) -> TrackResult:
    """Record that ``who`` dismissed ``step`` (not done)."""
    return track(who, flow, step, kind=Outcome.DISMISSED, **options)
