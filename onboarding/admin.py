"""Django admin: a read-only window on the flow mirror, progress and the event log.

Nothing here writes. Flows and steps are written by ``onboarding_sync``, events and
progress only by ``track()``; the admin lets staff look, search and filter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from onboarding.admin_funnel.mixins import FunnelAdminMixin
from onboarding.admin_mixins import LargeTablePaginator, ReadOnlyAdminMixin
from onboarding.models import (
    Event,
    EventKind,
    FlowRecord,
    FlowVersion,
    Progress,
    StepRecord,
    StepState,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# The query parameter of the admin's "flow" RelatedFieldListFilter.
FLOW_PARAM = "flow__id__exact"


# What the get_queryset() methods below annotate onto the rows their columns read.
class _FlowCounts(TypedDict):
    entered_count: int


class _ProgressCounts(TypedDict):
    done_steps: int


class _EventLabel(TypedDict):
    subject_label: str | None


def _chosen_flow(request: HttpRequest) -> int | None:
    """The flow picked in the "flow" filter; None when none is, or the value is no id."""
    value = request.GET.get(FLOW_PARAM, "")
    return int(value) if value.isdigit() else None


# Flows and versions -----------------------------------------------------------------


class FlowVersionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = FlowVersion
    fields = ("number", "step_count", "fingerprint", "created_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0

    @admin.display(description=_("steps"))
    def step_count(self, obj: FlowVersion) -> int:
        return len(obj.steps)


@admin.register(FlowRecord)
class FlowRecordAdmin(FunnelAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Flows; ``FunnelAdminMixin`` adds each flow's funnel page (``<pk>/funnel/``)."""

    list_display = (
        "key",
        "title",
        "ordered",
        "window_days",
        "version_number",
        "declared",
        "synced_at",
        "entered",
    )
    list_filter = ("declared", "ordered")
    list_select_related = ("current_version",)
    search_fields = ("key", "title")
    fields = (
        "key",
        "title",
        "description",
        "ordered",
        "window_days",
        "variants",
        "declared",
        "current_version",
        "synced_at",
    )
    inlines = (FlowVersionInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[FlowRecord]:
        return super().get_queryset(request).annotate(entered_count=Count("progress"))

    @admin.display(description=_("current version"), ordering="current_version__number")
    def version_number(self, obj: FlowRecord) -> int | None:
        return obj.current_version.number if obj.current_version else None

    @admin.display(description=_("subjects entered"), ordering="entered_count")
    def entered(self, obj: WithAnnotations[FlowRecord, _FlowCounts]) -> int:
        return obj.entered_count


class StepRecordInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StepRecord
    fields = (
        "position",
        "key",
        "title",
        "optional",
        "estimated_seconds",
        "completed_by",
        "has_default",
        "has_predicate",
    )
    readonly_fields = fields
    ordering = ("position",)
    extra = 0


@admin.register(FlowVersion)
class FlowVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "flow", "number", "step_count", "created_at")
    list_filter = ("flow",)
    list_select_related = ("flow",)
    fields = ("flow", "number", "fingerprint", "created_at")
    inlines = (StepRecordInline,)

    @admin.display(description=_("steps"))
    def step_count(self, obj: FlowVersion) -> int:
        return len(obj.steps)


# Progress ---------------------------------------------------------------------------


class VariantFilter(admin.SimpleListFilter):
    """Variants as declared (from the flow mirror), not a DISTINCT over every row."""

    title = _("variant")
    parameter_name = "variant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        flows = FlowRecord.objects.all()
        if (flow_id := _chosen_flow(request)) is not None:
            flows = flows.filter(pk=flow_id)
        names = {name for variants in flows.values_list("variants", flat=True) for name in variants}
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(variant=self.value()) if self.value() else queryset


class FinishedFilter(admin.SimpleListFilter):
    title = _("finished")
    parameter_name = "finished"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(finished_at__isnull=self.value() == "no")
        return queryset


class StepStateInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StepState
    fields = ("step_key", "outcome", "completed_at", "first_seen_at", "skipped_at")
    readonly_fields = fields
    ordering = (F("completed_at").asc(nulls_last=True), "step_key")
    extra = 0


def _events_by_actors(term: str) -> QuerySet[Event]:
    """Events of the outer progress row's subject done by a user whose name or email match."""
    user_model = get_user_model()
    users = user_model._default_manager.filter(
        Q(**{f"{user_model.USERNAME_FIELD}__icontains": term})
        | Q(**{f"{user_model.get_email_field_name()}__icontains": term})
    ).values("pk")
    return Event.objects.filter(
        flow=OuterRef("flow"),
        subject_type=OuterRef("subject_type"),
        subject_id=OuterRef("subject_id"),
        actor__in=users,
    )


@admin.register(Progress)
class ProgressAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "subject_label",
        "flow",
        "version_number",
        "variant",
        "entered_at",
        "finished_at",
        "done_count",
    )
    list_filter = ("flow", VariantFilter, FinishedFilter)
    list_select_related = ("flow", "version")
    search_fields = ("subject_label", "subject_id__exact")
    search_help_text = _("Subject name or id, or the username or email of a member who acted.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    fields = (
        "flow",
        "version",
        "subject_type",
        "subject_id",
        "subject_label",
        "variant",
        "entered_at",
        "finished_at",
        "last_event_at",
        "updated_at",
    )
    inlines = (StepStateInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Progress]:
        # A correlated count rather than JOIN + GROUP BY: the database computes it for
        # the rows of one page only, not for the whole table before the LIMIT.
        done = (
            StepState.objects.filter(progress=OuterRef("pk"), completed_at__isnull=False)
            .order_by()
            .values("progress")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(done_steps=Coalesce(Subquery(done, output_field=IntegerField()), Value(0)))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Progress], search_term: str
    ) -> tuple[QuerySet[Progress], bool]:
        matched, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return matched, may_have_duplicates
        by_actor = queryset.filter(Exists(_events_by_actors(term)))
        return matched | by_actor, may_have_duplicates

    @admin.display(description=_("version"), ordering="version__number")
    def version_number(self, obj: Progress) -> int:
        return obj.version.number

    @admin.display(description=_("steps done"), ordering="done_steps")
    def done_count(self, obj: WithAnnotations[Progress, _ProgressCounts]) -> int:
        return obj.done_steps


# Events -----------------------------------------------------------------------------


class StepFilter(admin.SimpleListFilter):
    """Steps of the mirrored flows (of the chosen flow, if any): no scan of the log."""

    title = _("step")
    parameter_name = "step"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        steps = StepRecord.objects.all()
        if (flow_id := _chosen_flow(request)) is not None:
            steps = steps.filter(version__flow_id=flow_id)
        keys = steps.order_by("key").values_list("key", flat=True).distinct()
        return [(key, key) for key in keys]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(step_key=self.value()) if self.value() else queryset


class KindFilter(admin.SimpleListFilter):
    """The built-in kinds and the custom kinds steps are ``completed_by``."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        custom = (
            StepRecord.objects.exclude(completed_by="")
            .order_by("completed_by")
            .values_list("completed_by", flat=True)
            .distinct()
        )
        return [*EventKind.choices, *((kind, kind) for kind in custom)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "kind",
        "flow",
        "step_key",
        "subject_display",
        "actor",
        "source",
        "variant",
    )
    list_filter = ("flow", StepFilter, KindFilter, "source")
    list_select_related = ("flow", "actor", "subject_type")
    date_hierarchy = "occurred_at"
    # "subject_label" is the annotation made in get_queryset.
    search_fields = ("subject_id__exact", "subject_label")
    search_help_text = _("Subject id (exact) or subject name.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    list_per_page = 50
    fields = (
        "id",
        "occurred_at",
        "received_at",
        "kind",
        "flow",
        "step_key",
        "subject_type",
        "subject_id",
        "actor",
        "variant",
        "version",
        "source",
        "properties",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # The subject's name lives on its progress row (one per flow and subject).
        label = Progress.objects.filter(
            flow=OuterRef("flow"),
            subject_type=OuterRef("subject_type"),
            subject_id=OuterRef("subject_id"),
        ).values("subject_label")[:1]
        return super().get_queryset(request).annotate(subject_label=Subquery(label))

    @admin.display(description=_("subject"), ordering="subject_id")
    def subject_display(self, obj: WithAnnotations[Event, _EventLabel]) -> str:
        return obj.subject_label or f"{obj.subject_type.model} {obj.subject_id}"


# API keys are administered with the API (onboarding/api/admin.py).
from onboarding.api import admin as _api_admin  # noqa: E402, F401
from onboarding.health import admin as _health_admin  # noqa: E402, F401

# Nudge rules (with their lift), deliveries and opt-outs (onboarding/nudges/admin.py).
from onboarding.nudges import admin as _nudge_admin  # noqa: E402, F401
from onboarding.webhooks import admin as _webhook_admin  # noqa: E402, F401
