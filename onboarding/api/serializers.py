"""What the API reads and writes. Output serializers read the core's typed progress objects."""

from __future__ import annotations

import json
import math
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from onboarding.api.errors import safe_text, shown
from onboarding.api.subjects import find_subject, subject_type
from onboarding.api.text import json_text_problem
from onboarding.conf import onboarding_settings
from onboarding.registry import registry
from onboarding.tracking import KIND_PATTERN, STEP_KINDS, EventInput

EVENT_FIELDS = ("id", "flow", "step", "kind", "occurred_at", "properties")
MAX_PROPERTIES_DEPTH = 20


class StepProgressSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField()
    optional = serializers.BooleanField()
    estimated_seconds = serializers.IntegerField()
    has_default = serializers.BooleanField()
    default_label = serializers.CharField()
    status = serializers.ChoiceField(choices=["done", "skipped", "dismissed", "todo"])
    outcome = serializers.CharField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    is_next = serializers.BooleanField()


class FlowProgressSerializer(serializers.Serializer):
    """A subject's progress through one flow, with titles in the request's language."""

    flow = serializers.CharField(source="flow.key")
    title = serializers.CharField(source="flow.title")
    description = serializers.CharField(source="flow.description")
    ordered = serializers.BooleanField(source="flow.ordered")
    steps = StepProgressSerializer(many=True)
    done = serializers.IntegerField(help_text="Required steps done.")
    total = serializers.IntegerField(help_text="Required steps.")
    percent = serializers.IntegerField()
    seconds_left = serializers.IntegerField(help_text="Estimates of required steps not done.")
    next_step = serializers.SerializerMethodField(help_text="Key of the step to do next.")
    variant = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    entered_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    finished = serializers.BooleanField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_next_step(self, progress: Any) -> str | None:
        return progress.next_step.key if progress.next_step else None


_WHEN = serializers.DateTimeField()


def _when(value: Any) -> Any:
    return None if value is None else _WHEN.to_representation(value)


def progress_data(progress: Any) -> dict[str, Any]:
    """What :class:`FlowProgressSerializer` gives (the schema), built directly: every
    progress route answers with it, and DRF's per-field calls cost as much as the read.
    ``tests/test_api_progress.py`` holds the two equal."""
    flow = progress.flow
    return {
        "flow": flow.key,
        "title": str(flow.title),
        "description": str(flow.description),
        "ordered": bool(flow.ordered),
        "steps": [
            {
                "key": step.key,
                "title": str(step.title),
                "description": str(step.description),
                "url": str(step.url),
                "optional": bool(step.optional),
                "estimated_seconds": int(step.estimated_seconds),
                "has_default": bool(step.has_default),
                "default_label": str(step.default_label),
                "status": step.status,
                "outcome": None if step.outcome is None else str(step.outcome),
                "completed_at": _when(step.completed_at),
                "is_next": bool(step.is_next),
            }
            for step in progress.steps
        ],
        "done": int(progress.done),
        "total": int(progress.total),
        "percent": int(progress.percent),
        "seconds_left": int(progress.seconds_left),
        "next_step": progress.next_step.key if progress.next_step else None,
        "variant": str(progress.variant),
        "version": None if progress.version is None else int(progress.version),
        "entered_at": _when(progress.entered_at),
        "finished_at": _when(progress.finished_at),
        "finished": bool(progress.finished),
    }


class StrictSerializer(serializers.Serializer):
    """Refuses any field it does not declare, naming it: no mass assignment of
    user, subject, times, variant or version."""

    def writable_fields(self) -> tuple[str, ...]:
        return tuple(name for name, field in self.fields.items() if not field.read_only)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = self.writable_fields()
            unknown = [name for name in data if name not in writable]
            if unknown:
                message = _("Unknown or read-only field. Writable fields: %(fields)s.") % {
                    "fields": ", ".join(writable) or "-"
                }
                raise serializers.ValidationError(
                    {safe_text(name, 50): [message] for name in unknown}
                )
            unstorable = _unstorable_fields(self, data)
            if unstorable:
                raise serializers.ValidationError(unstorable)
        return super().to_internal_value(data)


def _unstorable_fields(serializer: serializers.Serializer, data: dict[str, Any]) -> dict[str, Any]:
    """``{field: [message]}`` for each field holding text no column can store, at any depth;
    checked before the fields parse, so no date parser lets it through and no lookup sends
    it to the database. A nested serializer's fields are named in it (``subject.type``)."""
    errors: dict[str, Any] = {}
    for name, field in serializer.fields.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(field, serializers.Serializer) and isinstance(value, dict):
            nested = _unstorable_fields(field, value)
            if nested:
                errors[name] = nested
            continue
        problem = json_text_problem(value)
        if problem:
            errors[name] = [problem]
    return errors


class UUIDStringField(serializers.UUIDField):
    """A UUID sent as a string. DRF's field reads a JSON integer ``n`` as ``UUID(int=n)``,
    so every client counting 1, 2, 3 would share ids and lose events as duplicates."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                _("Must be a UUID string, like %(example)s.")
                % {"example": "6f0c1b7e-4a4d-4d1e-9a57-2f1c8a3b9d60"}
            )
        return super().to_internal_value(data)


class StepActionSerializer(StrictSerializer):
    """Optional body of a step action: a client-made id makes a retried POST harmless."""

    id = UUIDStringField(required=False, help_text="Idempotency key of the event.")


class SubjectSerializer(serializers.Serializer):
    """``{"type": "app_label.model", "id": "42"}``: whose event it is (API keys only)."""

    type = serializers.CharField(max_length=200)
    id = serializers.CharField(max_length=64)

    def validate(self, attrs: dict[str, Any]) -> Any:
        content_type = subject_type(attrs["type"])
        if content_type is None:
            raise serializers.ValidationError(
                {"type": [_("Unknown subject type %(type)s.") % {"type": shown(attrs["type"])}]}
            )
        # A batch often names the same subjects again: looked up once per batch.
        cache = self.context.setdefault("subjects", {})  # type: ignore[attr-defined]
        key = (content_type.pk, attrs["id"])
        if key not in cache:
            cache[key] = find_subject(content_type, attrs["id"])
        if cache[key] is None:
            raise serializers.ValidationError(
                {
                    "id": [
                        _("No %(type)s with id %(id)s.")
                        % {"type": shown(attrs["type"]), "id": shown(attrs["id"])}
                    ]
                }
            )
        return cache[key]


class EventSerializer(StrictSerializer):
    """One event of a batch. Exactly these fields are writable; ``subject`` only with an API key."""

    id = UUIDStringField(help_text="Client-made UUID: the idempotency key, forever.")
    flow = serializers.CharField(max_length=100)
    step = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    kind = serializers.CharField(
        max_length=50,
        help_text=(
            "completed, defaulted, skipped, dismissed, viewed, started, nudged or a custom name."
        ),
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "When it happened; default now. More than MAX_FUTURE_SKEW_SECONDS ahead: "
            "clamped to the time of receipt."
        ),
    )
    properties = serializers.DictField(required=False, default=dict)
    subject = SubjectSerializer(
        required=False, help_text="API-key requests only: whose event it is."
    )

    @property
    def names_subjects(self) -> bool:
        """API keys and imports name each event's subject; others act for themselves."""
        return bool(self.context.get("api_key") or self.context.get("names_subjects"))

    def writable_fields(self) -> tuple[str, ...]:
        return EVENT_FIELDS + (("subject",) if self.names_subjects else ())

    def validate_flow(self, value: str) -> str:
        if value not in registry:
            raise serializers.ValidationError(_("Unknown flow %(flow)s.") % {"flow": shown(value)})
        return value

    def validate_kind(self, value: str) -> str:
        if not KIND_PATTERN.match(value):
            raise serializers.ValidationError(
                _("%(kind)s is not a valid event kind: lower-case letters, digits and _.:- .")
                % {"kind": shown(value)}
            )
        return value

    def validate_properties(self, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(value)
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())
        limit = onboarding_settings.MAX_PROPERTIES_BYTES
        if size > limit:
            raise serializers.ValidationError(
                _("%(size)d bytes is over the limit of %(limit)d (MAX_PROPERTIES_BYTES).")
                % {"size": size, "limit": limit}
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        flow = registry.get(attrs["flow"])
        if attrs["step"] and attrs["step"] not in flow.step_keys:
            raise serializers.ValidationError(
                {
                    "step": [
                        _("Unknown step %(step)s in onboarding flow %(flow)s.")
                        % {"step": shown(attrs["step"]), "flow": shown(flow.key)}
                    ]
                }
            )
        if attrs["kind"] in STEP_KINDS and not attrs["step"]:
            raise serializers.ValidationError(
                {"step": [_("A %(kind)s event needs a step.") % {"kind": shown(attrs["kind"])}]}
            )
        if self.names_subjects and "subject" not in attrs:
            raise serializers.ValidationError(
                {"subject": [_("This field is required for API-key requests.")]}
            )
        return attrs


def _check_json_value(value: Any) -> None:
    """Refuse what JSON columns cannot store: NaN/Infinity, deep nesting (text is checked
    for every field before, by :class:`StrictSerializer`)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_PROPERTIES_DEPTH:
            raise serializers.ValidationError(
                _("Nested deeper than %(depth)d levels.") % {"depth": MAX_PROPERTIES_DEPTH}
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise serializers.ValidationError(_("Numbers must be finite."))
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def event_input(data: dict[str, Any], *, who: Any, source: str) -> EventInput:
    """The core's input for one event :class:`EventSerializer` validated: for the subject
    it names (API keys, imports), else for ``who``."""
    return EventInput(
        who=data.get("subject", who),
        flow=data["flow"],
        step=data["step"],
        kind=data["kind"],
        occurred_at=data["occurred_at"],
        id=data["id"],
        properties=data["properties"],
        source=source,
    )


class EventBatchSerializer(serializers.Serializer):
    """The body of ``POST events/`` (documentation; events are validated one by one)."""

    events = EventSerializer(many=True)


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the batch.")
    field = serializers.CharField()
    message = serializers.CharField()


class BatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Events whose id was already stored.")
    # A field named like Serializer.errors: fine for an output-only serializer.
    errors = EventErrorSerializer(many=True, help_text="Invalid events, not stored.")  # type: ignore[assignment]
