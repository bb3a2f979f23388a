"""``track``: the one write path. Records events and updates progress in one transaction."""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding import signals
from onboarding.bulk import (
    CopyFrom,
    Statement,
    insert_new,
    insert_new_statement,
    lock_or_create,
    lock_or_create_statement,
    pipelined,
    run_together,
    send,
    typed_arrays,
    update_rows,
    update_statements,
    upsert_statements,
)
from onboarding.conf import onboarding_settings
from onboarding.declarations import Flow
from onboarding.erase import erased_among
from onboarding.exceptions import InvalidEvent, NoDefault, SubjectErased
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
from onboarding.rollups.stale import changed_days
from onboarding.rollups.stale import mark as mark_stale
from onboarding.subjects import SubjectRef, is_user, ref, resolve
from onboarding.sync import flow_record
from onboarding.variants import assign_variant

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,49}$")
STEP_KINDS = {EventKind.COMPLETED, EventKind.DEFAULTED, EventKind.SKIPPED, EventKind.DISMISSED}
# EventKind.values builds a new list on every access: read once.
BUILT_IN_KINDS = frozenset(EventKind.values)
STATE_FIELDS = ["outcome", "completed_at", "first_seen_at", "skipped_at"]
PROGRESS_FIELDS = ["entered_at", "last_event_at", "finished_at", "updated_at"]


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


@dataclass(slots=True)
class _EventRow:
    """An event's own values (no model instance: a batch makes many)."""

    id: uuid.UUID
    step_key: str
    kind: str
    occurred_at: datetime
    received_at: datetime
    source: str
    properties: dict[str, Any]


@dataclass(slots=True)
class _State:
    """A step state as read and written here (fields as on :class:`StepState`)."""

    pk: int | None
    progress_id: int
    step_key: str
    outcome: str = ""
    completed_at: datetime | None = None
    first_seen_at: datetime | None = None
    skipped_at: datetime | None = None


@dataclass
class _Prepared:
    flow: Flow
    record: FlowRecord
    subject: models.Model
    subject_ref: SubjectRef
    actor: Any
    event: _EventRow


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


_Resolved = tuple[models.Model, Any, SubjectRef]


def _prepare(
    item: EventInput,
    received_at: datetime,
    records: dict[str, FlowRecord],
    resolved: dict[int, _Resolved],
    remembered: bool,
) -> _Prepared:
    """Check and normalize one event. ``records`` and ``resolved`` (by ``id()`` of the
    ``who``, alive for the whole batch) hold what the batch looked up already;
    ``remembered``: flow records may come from this process's memory (PostgreSQL)."""
    flow = get_flow(item.flow)
    kind = str(item.kind)
    if not KIND_PATTERN.match(kind):
        raise InvalidEvent("kind", _("%(kind)r is not a valid event kind") % {"kind": kind})
    if kind in STEP_KINDS and not item.step:
        raise InvalidEvent("step", _("a %(kind)r event needs a step") % {"kind": kind})
    if item.step and item.step not in flow.step_keys:
        # A step of an older version only: its subjects keep their version's steps.
        _older_step(flow, item.step, _record(flow, records, remembered))
    known = resolved.get(id(item.who))
    if known is None:
        subject, actor = resolve(item.who)
        known = resolved[id(item.who)] = (subject, actor, ref(subject))
    subject, actor, subject_ref = known
    return _Prepared(
        flow=flow,
        record=_record(flow, records, remembered),
        subject=subject,
        subject_ref=subject_ref,
        actor=item.actor or actor,
        event=_EventRow(
            id=_normalize_id(item.id),
            step_key=item.step,
            kind=kind,
            occurred_at=_normalize_time(item.occurred_at, received_at),
            received_at=received_at,
            source=item.source[:30],
            properties=_normalize_properties(item.properties),
        ),
    )


def _record(flow: Flow, records: dict[str, FlowRecord], remembered: bool) -> FlowRecord:
    if flow.key not in records:
        records[flow.key] = _flow_record(flow, remembered)
    return records[flow.key]


# Step keys of every version of a flow, by database, flow key and current version.
_OLDER_STEPS: dict[tuple[str, str, int | None], frozenset[str]] = {}


def _older_step(flow: Flow, key: str, record: FlowRecord) -> None:
    """Raise UnknownStep (naming the key) unless some version of ``flow`` has step ``key``."""
    cache_key = (router.db_for_read(FlowVersion), flow.key, record.current_version_id)
    keys = _OLDER_STEPS.get(cache_key)
    if keys is None:
        versions = FlowVersion.objects.filter(flow_id=record.pk).values_list("steps", flat=True)
        keys = frozenset(step["key"] for steps in versions for step in steps)
        _OLDER_STEPS[cache_key] = keys
    if key not in keys:
        flow.step(key)


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
        flow_id=item.record.pk,
        version=item.record.current_version,
        subject_type_id=item.subject_ref.type_id,
        subject_id=item.subject_ref.id,
        subject_label=item.subject_ref.label,
        variant=assign_variant(item.flow.key, item.flow.variants, subject_key),
        entered_at=_entry_time(item.event),
        last_event_at=item.event.occurred_at,
    )


def _entry_time(event: _EventRow) -> datetime | None:
    """When ``event`` enters its subject: never for the app's own ``nudged`` events."""
    return None if event.kind == EventKind.NUDGED else event.occurred_at


def _lock_progress(
    prepared: list[_Prepared],
) -> tuple[dict[tuple[int, int, str], Progress], set[tuple[int, int, str]]]:
    """Get or create every subject's progress row, locked until the transaction ends;
    also the keys of the rows that were missing."""
    wanted = _first_by_progress(prepared)
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


# Flow records read by this process, by database and flow key, with the fingerprint of
# the declaration they matched. On PostgreSQL a batch takes them from here and checks
# them in its first round trip, instead of reading them in one of their own before it.
_RECORDS: dict[tuple[str, str], tuple[str, FlowRecord]] = {}


class _StaleRecord(Exception):
    """A remembered flow record changed in the database since it was read."""


def _flow_record(flow: Flow, remembered: bool) -> FlowRecord:
    alias = router.db_for_write(FlowRecord)
    fingerprint = flow.fingerprint()
    cached = _RECORDS.get((alias, flow.key)) if remembered else None
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    record = flow_record(flow)
    _RECORDS[(alias, flow.key)] = (fingerprint, record)
    return record


def track_many(items: Iterable[EventInput]) -> TrackResult:
    """Record many events at once; all or nothing. Ids already stored count as duplicates."""
    items = list(items)  # alive until the end: the batch's lookups are keyed by id()
    if not _pipelines():
        return _track_many(items, remembered=False)
    try:
        return _track_many(items, remembered=True)
    except _StaleRecord:
        # Rolled back before commit and before any signal: again, records read anew.
        return _track_many(items, remembered=False)


def _track_many(items: list[EventInput], *, remembered: bool) -> TrackResult:
    received_at = timezone.now()
    records: dict[str, FlowRecord] = {}
    resolved: dict[int, _Resolved] = {}
    prepared: list[_Prepared] = []
    seen: set[uuid.UUID] = set()
    duplicates = 0
    for item in items:
        one = _prepare(item, received_at, records, resolved, remembered)
        if one.event.id in seen:
            duplicates += 1
            continue
        seen.add(one.event.id)
        prepared.append(one)
    if not prepared:
        return TrackResult(accepted=0, duplicates=duplicates)

    with transaction.atomic():
        pipelined_write = _write_pipelined(prepared, check=remembered)
        progress_rows, created, stored, states = pipelined_write or _write(prepared)
        # Flows whose late events mark their cohorts: those a rollup counted, when their
        # records were read in this transaction after its events went in (a rollup's
        # first count waits for such writes: see onboarding.rollups.build); else all.
        verified = remembered and pipelined_write is not None
        marking = {one.record.pk for one in prepared if one.record.rollup_counted or not verified}
        # Under the progress locks an erasure waits on (see onboarding.erase); refusing
        # rolls the events back too.
        erased_actors = _refuse_erased(prepared, created)
        # Only the events this batch stored act: an id stored by another batch (for any
        # subject) is a duplicate here.
        fresh = [one for one in prepared if one.event.id in stored]
        duplicates += len(prepared) - len(fresh)
        if erased_actors:
            _unname_actors(fresh, erased_actors)
        by_progress: dict[int, list[_Prepared]] = defaultdict(list)
        for one in fresh:
            by_progress[progress_rows[_progress_key(one)].pk].append(one)
        # A row made for a subject whose every event turned out stored by another batch
        # (the same id sent for another subject at the same moment): it never entered.
        unentered = [
            row.pk
            for key, row in progress_rows.items()
            if key in created and row.pk not in by_progress
        ]
        if unentered:
            Progress.objects.filter(pk__in=unentered).delete()
        # A new row's entry and last activity come from the events stored, not from an
        # id that turned out to belong to another subject.
        for key in created:
            row = progress_rows[key]
            stored_events = [one.event for one in by_progress.get(row.pk, ())]
            if stored_events:
                entries = [at for at in map(_entry_time, stored_events) if at is not None]
                row.entered_at = min(entries, default=None)
                row.last_event_at = max(event.occurred_at for event in stored_events)
        _apply(
            by_progress,
            {row.pk: row for row in progress_rows.values()},
            states,
            new_rows={progress_rows[key].pk for key in created},
            marking=marking,
        )
    return TrackResult(
        accepted=len(fresh),
        duplicates=duplicates,
        event_ids=[item.event.id for item in fresh],
    )


def _progress_key(item: _Prepared) -> tuple[int, int, str]:
    return (item.record.pk, item.subject_ref.type_id, item.subject_ref.id)


_Key = tuple[int, int, str]
_Written = tuple[dict[_Key, Progress], set[_Key], set[uuid.UUID], dict[tuple[int, str], _State]]
PROGRESS_KEY = ("flow_id", "subject_type_id", "subject_id")
STATE_COLUMNS = ("id", "progress_id", "step_key", *STATE_FIELDS)


def _pipelines() -> bool:
    """Whether batches are written by :func:`_write_pipelined`."""
    alias = router.db_for_write(Event)
    return connections[alias].vendor == "postgresql" and all(
        router.db_for_write(model) == alias for model in (Progress, StepState, FlowRecord)
    )


def _write_pipelined(prepared: list[_Prepared], *, check: bool) -> _Written | None:
    """On PostgreSQL, in one round trip: lock or create the progress rows, insert the new
    events (variant and version copied from their progress row), read the step states;
    with ``check``, also the flow records, so that remembered ones are known current
    (else :class:`_StaleRecord`, raised before the transaction commits). ``None``
    elsewhere."""
    if not _pipelines():
        return None
    connection = connections[router.db_for_write(Event)]
    wanted = _first_by_progress(prepared)
    keys = sorted(wanted)
    lock, read_locked = lock_or_create_statement(
        [_new_progress(wanted[key]) for key in keys],
        ["flow", "subject_type", "subject_id"],
        connection,
    )
    insert = insert_new_statement(
        Event,
        _event_columns(prepared),
        connection,
        copy_from=CopyFrom(Progress, on=PROGRESS_KEY, columns=("variant", "version_id")),
    )
    # The key too: ids are handed out again after a flush that resets sequences.
    records = {
        one.record.pk: (one.record.key, one.record.current_version_id, one.record.rollup_counted)
        for one in prepared
    }
    statements = [lock, insert, _states_statement(keys, connection)]
    if check:
        statements.append(
            Statement(
                "SELECT id, key, current_version_id, rollup_counted FROM "
                f"{connection.ops.quote_name(FlowRecord._meta.db_table)} WHERE id = ANY(%s) "
                # Held to the end (as the deferred foreign-key checks would at commit), so
                # that a rollup's first count waits for this batch: rollup_counted is
                # current (see onboarding.rollups.build._mark_counted).
                "FOR KEY SHARE",
                [list(records)],
                rows=True,
            )
        )
    locked, inserted, found, *current = run_together(connection, statements)
    if check and {pk: tuple(values) for pk, *values in current[0]} != records:
        raise _StaleRecord
    rows, created = _locked_rows(prepared, read_locked(locked))
    states = {(row[1], row[2]): _State(*row) for row in found}
    return rows, created, {value for (value,) in inserted}, states


def _event_columns(prepared: list[_Prepared]) -> dict[str, list[Any]]:
    """The batch's events by column, as :class:`Event` stores them (bar variant and version)."""
    return {
        "id": [one.event.id for one in prepared],
        "flow_id": [one.record.pk for one in prepared],
        "step_key": [one.event.step_key for one in prepared],
        "subject_type_id": [one.subject_ref.type_id for one in prepared],
        "subject_id": [one.subject_ref.id for one in prepared],
        # Event.actor is a user: an actor of another model is not recorded.
        "actor_id": [one.actor.pk if is_user(one.actor) else None for one in prepared],
        "kind": [one.event.kind for one in prepared],
        "occurred_at": [one.event.occurred_at for one in prepared],
        "received_at": [one.event.received_at for one in prepared],
        "source": [one.event.source for one in prepared],
        "properties": [one.event.properties for one in prepared],
    }


def _states_statement(keys: list[_Key], connection: Any) -> Statement:
    """The step states of the progress rows of ``keys`` (run after they are locked)."""
    quote = connection.ops.quote_name
    progress: Any = Progress._meta
    arrays = typed_arrays(
        [progress.get_field(name) for name in ("flow", "subject_type", "subject_id")], connection
    )
    columns = ", ".join(f"s.{quote(name)}" for name in STATE_COLUMNS)
    matches = " AND ".join(f"p.{quote(name)} = k.{quote(name)}" for name in PROGRESS_KEY)
    sql = (
        f"SELECT {columns} FROM {quote(StepState._meta.db_table)} AS s "
        f"JOIN {quote(progress.db_table)} AS p ON p.id = s.progress_id "
        f"JOIN UNNEST({arrays}) AS k ({', '.join(quote(n) for n in PROGRESS_KEY)}) ON {matches}"
    )
    return Statement(sql, [list(column) for column in zip(*keys, strict=True)], rows=True)


def _write(prepared: list[_Prepared]) -> _Written:
    """What :func:`_write_pipelined` does, through the ORM, statement by statement."""
    progress_rows, created = _lock_progress(prepared)
    events = []
    for one in prepared:
        progress = progress_rows[_progress_key(one)]
        events.append(
            Event(
                id=one.event.id,
                flow=one.record,
                step_key=one.event.step_key,
                subject_type_id=one.subject_ref.type_id,
                subject_id=one.subject_ref.id,
                actor_id=one.actor.pk if is_user(one.actor) else None,
                kind=one.event.kind,
                occurred_at=one.event.occurred_at,
                received_at=one.event.received_at,
                variant=progress.variant,
                version_id=progress.version_id,
                source=one.event.source,
                properties=one.event.properties,
            )
        )
    stored = _store_new(events)
    found = StepState.objects.filter(
        progress_id__in=[row.pk for row in progress_rows.values()]
    ).values_list(*STATE_COLUMNS)
    states = {(row[1], row[2]): _State(*row) for row in found}
    return progress_rows, created, stored, states


def _first_by_progress(prepared: list[_Prepared]) -> dict[_Key, _Prepared]:
    """The earliest event of each progress row the batch names (its entry if new): the
    earliest that enters (not ``nudged``) if there is one."""
    wanted: dict[_Key, _Prepared] = {}
    for item in prepared:
        key = _progress_key(item)
        first = wanted.get(key)
        if first is None or _entry_order(item.event) < _entry_order(first.event):
            wanted[key] = item
    return wanted


def _entry_order(event: _EventRow) -> tuple[bool, datetime]:
    return (event.kind == EventKind.NUDGED, event.occurred_at)


def _store_new(events: list[Event]) -> set[uuid.UUID]:
    """Insert the events whose id is new; the ids inserted (the others are duplicates)."""
    size = onboarding_settings.BATCH_SIZE
    # In id order, as the pipelined insert (insert_new_statement) goes: two batches
    # sharing ids then wait for each other on the unique index in one order instead of
    # deadlocking.
    events = sorted(events, key=lambda event: event.id)
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


def _actor_key(item: _Prepared) -> tuple[int, str] | None:
    if isinstance(item.actor, models.Model) and item.actor.pk is not None:
        return (ContentType.objects.get_for_model(item.actor).pk, str(item.actor.pk))
    return None


def _refuse_erased(
    prepared: list[_Prepared], created: set[tuple[int, int, str]]
) -> set[tuple[int, str]]:
    """Raise :class:`SubjectErased` for an erased subject; return the erased actors
    acting for subjects that are not (a team's erased member), as ``(type id, id)``.

    An erasure renames the subject's progress, so a subject whose progress row was
    found under its own id is not erased: only new rows, and actors acting for
    another subject (a team's member), need a look (none in the steady state).
    """
    subjects: set[tuple[int, str]] = set()
    actors: set[tuple[int, str]] = set()
    for item in prepared:
        subject = (item.subject_ref.type_id, item.subject_ref.id)
        if _progress_key(item) in created:
            subjects.add(subject)
        actor = _actor_key(item)
        if actor is not None and actor != subject:
            actors.add(actor)
    erased = erased_among(subjects | actors)
    for key, label in erased.items():
        if key in subjects:
            raise SubjectErased(label)
    return set(erased)


def _unname_actors(fresh: list[_Prepared], erased: set[tuple[int, str]]) -> None:
    """Record the events of erased actors with no actor: the subject they acted for is
    not erased and keeps its events, but nothing may name the erased user again."""
    ids: list[uuid.UUID] = []
    for item in fresh:
        if _actor_key(item) in erased:
            item.actor = None  # the signals (webhooks) do not name it either
            ids.append(item.event.id)
    if ids:
        Event.objects.filter(id__in=ids).update(actor=None)


def _apply(
    by_progress: dict[int, list[_Prepared]],
    progress_by_pk: dict[int, Progress],
    states: dict[tuple[int, str], _State],
    *,
    new_rows: set[int],
    marking: set[int],
) -> None:
    """Fold new events into step states (``states``: those stored) and progress; send
    signals for first completions; mark the closed rollup cohorts a late event changed
    (``new_rows``: progress rows this batch made; ``marking``: the flows to mark)."""
    stale: set[tuple[int, date]] = set()
    new_states: list[_State] = []
    changed_states: dict[int, _State] = {}
    pending_signals: list[tuple[list[StepChange], _Prepared, Progress, bool]] = []
    size = onboarding_settings.BATCH_SIZE
    for progress_pk, items in by_progress.items():
        progress = progress_by_pk[progress_pk]
        was_finished = progress.finished_at is not None
        old_entry = None if progress_pk in new_rows else progress.entered_at
        completions: list[datetime] = []
        flow = items[0].flow
        finisher = items[-1]
        # Sorted by time, then kind, so that a batch sends the same signals in any order.
        for item in sorted(items, key=lambda one: (one.event.occurred_at, one.event.kind)):
            event = item.event
            entry = _entry_time(event)
            if entry is not None:
                progress.entered_at = min(progress.entered_at or entry, entry)
            progress.last_event_at = max(progress.last_event_at, event.occurred_at)
            step_keys = _steps_touched(flow, event, progress)
            changes = []
            for step_key in step_keys:
                state = states.get((progress_pk, step_key))
                if state is None:
                    state = _State(pk=None, progress_id=progress_pk, step_key=step_key)
                    states[(progress_pk, step_key)] = state
                    new_states.append(state)
                before = (state.completed_at, state.outcome)
                change = apply_event(state, event.kind, event.occurred_at, step_key)
                if state.completed_at is not None and before != (state.completed_at, state.outcome):
                    completions.append(state.completed_at)
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
        if progress.flow_id in marking:
            window = timedelta(days=flow.effective_window_days())
            days = changed_days(
                old_entry,
                progress.entered_at,
                completions,
                now=finisher.event.received_at,
                window=window,
            )
            stale.update((progress.flow_id, day) for day in days)

    rows = [progress_by_pk[pk] for pk in by_progress]
    connection = connections[router.db_for_write(StepState)]
    # On PostgreSQL the writes below share one round trip.
    with pipelined(connection):
        _save_states(new_states, list(changed_states.values()), connection)
        if connection.vendor == "postgresql":
            send(connection, update_statements(rows, PROGRESS_FIELDS, connection, batch_size=size))
        else:
            update_rows(rows, PROGRESS_FIELDS, batch_size=size)
        # The funnel's per-subject row, in the same transaction (onboarding.funnel.paths);
        # it reads outcome and completed_at, which _State has as StepState does.
        save_paths(rows, cast("dict[tuple[int, str], StepState]", states))
        mark_stale(stale, connection)
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


def _save_states(new: list[_State], changed: list[_State], connection: Any) -> None:
    """New and changed step states in one upsert where the database has them."""
    if not new and not changed:
        return
    if connection.vendor == "postgresql":
        send(
            connection,
            upsert_statements(
                StepState, [*new, *changed], ["progress", "step_key"], STATE_FIELDS, connection
            ),
        )
        return
    size = onboarding_settings.BATCH_SIZE
    if not connection.features.supports_update_conflicts_with_target:
        StepState.objects.bulk_create([_model_state(state) for state in new], batch_size=size)
        update_rows([_model_state(state) for state in changed], STATE_FIELDS, batch_size=size)
        return
    # Changed rows go in without their key too, so that one statement takes all.
    StepState.objects.bulk_create(
        [_model_state(state, with_key=False) for state in [*new, *changed]],
        update_conflicts=True,
        unique_fields=["progress", "step_key"],
        update_fields=STATE_FIELDS,
        batch_size=size,
    )


def _model_state(state: _State, *, with_key: bool = True) -> StepState:
    return StepState(
        pk=state.pk if with_key else None,
        progress_id=state.progress_id,
        step_key=state.step_key,
        **{name: getattr(state, name) for name in STATE_FIELDS},
    )


def _steps_touched(flow: Flow, event: _EventRow, progress: Progress) -> list[str]:
    """The steps an event acts on.

    A built-in kind acts on its own step (``nudged`` on none); a custom kind completes
    the steps of the subject's version declared ``completed_by`` that kind.
    """
    if event.kind == EventKind.NUDGED:
        return []
    if event.kind in BUILT_IN_KINDS:
        # An older version's step: only for that version's subjects.
        known = not event.step_key or event.step_key in flow.step_keys
        if not known and event.step_key not in progress.version.step_keys:
            flow.step(event.step_key)  # raises UnknownStep naming the key
        return [event.step_key] if event.step_key else []
    version_keys = set(progress.version.step_keys)
    declared = [
        step.key for step in flow.steps_completed_by(event.kind) if step.key in version_keys
    ]
    # An older version's own steps complete by the kinds they were declared with.
    older = [
        step["key"]
        for step in progress.version.steps
        if step.get("completed_by") == event.kind and step["key"] not in flow.step_keys
    ]
    return declared + older


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
