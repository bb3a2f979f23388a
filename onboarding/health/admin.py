"""Health scores in admin: filter by segment and red flag, with the playbook's actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from onboarding.health.models import HealthScore
from onboarding.health.playbook import RED_FLAG_KINDS, actions


class RedFlagFilter(admin.SimpleListFilter):
    title = _("red flag")
    parameter_name = "red_flag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("any", _("any")), *((kind, kind.replace("_", " ")) for kind in RED_FLAG_KINDS)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "any":
            return queryset.exclude(red_flags="")
        if value in RED_FLAG_KINDS:
            return queryset.filter(red_flags__contains=f",{value},")
        return queryset


@admin.register(HealthScore)
class HealthScoreAdmin(admin.ModelAdmin):
    list_display = (
        "subject_label",
        "score",
        "previous_score",
        "segment",
        "flags_display",
        "playbook",
        "progress_display",
        "last_activity_at",
        "computed_at",
    )
    list_filter = ("segment", RedFlagFilter)
    search_fields = ("subject_label", "subject_id__exact")
    ordering = ("score",)
    show_full_result_count = False
    readonly_fields = [field.name for field in HealthScore._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("red flags"))
    def flags_display(self, obj: HealthScore) -> str:
        return ", ".join(flag.replace("_", " ") for flag in obj.flags) or "-"

    @admin.display(description=_("playbook"))
    def playbook(self, obj: HealthScore) -> str:
        return (
            format_html_join("", "<div><b>{}</b>: {}</div>", actions(obj.segment, obj.flags)) or "-"
        )

    @admin.display(description=_("progress"), ordering="progress")
    def progress_display(self, obj: HealthScore) -> str:
        return f"{100 * obj.progress:.0f} %"
