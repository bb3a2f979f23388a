"""Mirror declared flows into the database, idempotently, making versions as steps change."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from onboarding.declarations import Flow
from onboarding.models import FlowRecord, FlowVersion, StepRecord
from onboarding.registry import registry


@dataclass
class SyncReport:
    """What a sync changed (or, with ``check``, would change)."""

    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class _Rollback(Exception):
    pass


def _text(value: Any) -> str:
    """Lazy translations are stored in the project's default language."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(value)


def _flow_fields(flow: Flow) -> dict[str, Any]:
    return {
        "title": _text(flow.title)[:200],
        "description": _text(flow.description),
        "ordered": flow.ordered,
        "window_days": flow.effective_window_days(),
        "variants": dict(flow.variants),
        "declared": True,
    }


def _step_fields(flow: Flow) -> list[dict[str, Any]]:
    return [
        {
            "key": step.key,
            "position": position,
            "title": _text(step.title)[:200],
            "description": _text(step.description),
            "url": step.url,
            "optional": step.optional,
            "estimated_seconds": step.estimated_seconds,
            "completed_by": step.completed_by,
            "has_default": step.has_default,
            "has_predicate": step.done_when is not None,
        }
        for position, step in enumerate(flow.steps)
    ]


def _version_steps(flow: Flow) -> list[dict[str, Any]]:
    keep = ("key", "title", "optional", "estimated_seconds", "completed_by", "has_default")
    return [{name: fields[name] for name in keep} for fields in _step_fields(flow)]


def _sync_one(flow: Flow, report: SyncReport) -> FlowRecord:
    record = FlowRecord.objects.select_for_update().filter(key=flow.key).first()
    wanted = _flow_fields(flow)
    if record is None:
        record = FlowRecord.objects.create(key=flow.key, **wanted)
        report.changes.append(f"created flow {flow.key!r}")
    else:
        stale = [name for name, value in wanted.items() if getattr(record, name) != value]
        if stale:
            for name in stale:
                setattr(record, name, wanted[name])
            report.changes.append(f"updated flow {flow.key!r}: {', '.join(stale)}")

    current = record.current_version
    fingerprint = flow.fingerprint()
    if current is None or current.fingerprint != fingerprint:
        number = (current.number + 1) if current else 1
        current = FlowVersion.objects.create(
            flow=record, number=number, fingerprint=fingerprint, steps=_version_steps(flow)
        )
        StepRecord.objects.bulk_create(
            StepRecord(version=current, **fields) for fields in _step_fields(flow)
        )
        record.current_version = current
        report.changes.append(f"flow {flow.key!r} is now version {number}")
    else:
        _refresh_cosmetics(flow, current, report)
    record.synced_at = timezone.now()
    record.save()
    return record


def _refresh_cosmetics(flow: Flow, version: FlowVersion, report: SyncReport) -> None:
    """Titles, URLs and estimates change in place: they do not make a new version."""
    if version.steps != _version_steps(flow):
        version.steps = _version_steps(flow)
        version.save(update_fields=["steps"])
    records = {record.key: record for record in version.step_records.all()}
    for fields in _step_fields(flow):
        record = records[fields["key"]]
        stale = [name for name, value in fields.items() if getattr(record, name) != value]
        if stale:
            for name in stale:
                setattr(record, name, fields[name])
            record.save(update_fields=stale)
            report.changes.append(
                f"updated step {flow.key}.{fields['key']}: {', '.join(sorted(stale))}"
            )


def sync_flows(*, check: bool = False, flows: list[Flow] | None = None) -> SyncReport:
    """Mirror ``flows`` (default: every declared flow) into the database.

    With ``check`` nothing is written; the report lists what a sync would change.
    """
    report = SyncReport()
    declared = registry.all() if flows is None else flows
    try:
        with transaction.atomic():
            for flow in sorted(declared, key=lambda f: f.key):
                _sync_one(flow, report)
            if flows is None:
                gone = FlowRecord.objects.filter(declared=True).exclude(
                    key__in=[flow.key for flow in declared]
                )
                for key in gone.values_list("key", flat=True):
                    report.changes.append(f"flow {key!r} is no longer declared")
                gone.update(declared=False)
            if check:
                raise _Rollback
    except _Rollback:
        pass
    return report


def flow_record(flow: Flow) -> FlowRecord:
    """The synced record of ``flow``, syncing it first if it is missing or out of date."""
    record = FlowRecord.objects.select_related("current_version").filter(key=flow.key).first()
    if (
        record is None
        or record.current_version is None
        or (record.current_version.fingerprint != flow.fingerprint())
    ):
        # Another process may create the record at the same time: then use theirs.
        with suppress(IntegrityError):
            sync_flows(flows=[flow])
        record = FlowRecord.objects.select_related("current_version").get(key=flow.key)
    return record
