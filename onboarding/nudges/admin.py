"""Admin for nudges: rules with their sent and held-out counts and lift; deliveries.

Rules and deliveries are written by code (``register_rule``, the evaluator); staff
read them here, and may send again a delivery stuck in ``sending`` or ``failed``.
Opt-outs may be added or removed by staff.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from onboarding.admin_mixins import ReadOnlyAdminMixin
from onboarding.conf import onboarding_settings
from onboarding.experiments import wording
from onboarding.nudges.models import NudgeDelivery, NudgeOptOut, NudgeRule
from onboarding.nudges.stats import Lift, rule_lift
from onboarding.nudges.sweep import overdue, retry_deliveries, stuck_sending


def _sweep_minutes() -> int:
    """Minutes until a pending row is swept at the latest (the beat entry runs every 5)."""
    return -(-onboarding_settings.NUDGE_SWEEP_AFTER_SECONDS // 60) + 5


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


@admin.register(NudgeRule)
class NudgeRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "key",
        "flow",
        "kind",
        "step_key",
        "holdout_display",
        "sent_count",
        "sent_rate",
        "held_out_count",
        "held_out_rate",
        "lift",
        "interval",
        "p_value",
        "split",
        "declared",
    )
    list_filter = ("flow", "kind", "declared")
    list_select_related = ("flow",)
    search_fields = ("key",)
    fields = (
        "key",
        "flow",
        "kind",
        "step_key",
        "params",
        "template",
        "holdout",
        "description",
        "declared",
        "synced_at",
        "sent_count",
        "sent_rate",
        "held_out_count",
        "held_out_rate",
        "lift",
        "interval",
        "p_value",
        "split",
        "verdict",
    )
    readonly_fields = fields

    def _lift(self, obj: NudgeRule) -> Lift:
        # One aggregate query per rule, cached on the row (not on this admin, which every
        # request shares) for the columns of one line.
        lift = obj.__dict__.get("_onboarding_lift")
        if not isinstance(lift, Lift):
            lift = obj.__dict__["_onboarding_lift"] = rule_lift(obj.pk)
        return lift

    @admin.display(description=_("holdout"))
    def holdout_display(self, obj: NudgeRule) -> str:
        return _percent(obj.holdout)

    @admin.display(description=_("sent"))
    def sent_count(self, obj: NudgeRule) -> int:
        return self._lift(obj).sent

    @admin.display(description=_("converted (sent)"))
    def sent_rate(self, obj: NudgeRule) -> str:
        return _percent(self._lift(obj).sent_rate)

    @admin.display(description=_("held out"))
    def held_out_count(self, obj: NudgeRule) -> int:
        return self._lift(obj).held_out

    @admin.display(description=_("converted (held out)"))
    def held_out_rate(self, obj: NudgeRule) -> str:
        return _percent(self._lift(obj).held_out_rate)

    @admin.display(description=_("lift"))
    def lift(self, obj: NudgeRule) -> str:
        difference = self._lift(obj).difference
        return "-" if difference is None else f"{100 * difference:+.1f} pp"

    @admin.display(description=_("interval"))
    def interval(self, obj: NudgeRule) -> str:
        test = self._lift(obj).test
        if test is None:
            return "-"
        return _("%(lower)s to %(upper)s pp") % {
            "lower": f"{100 * test.lower:+.1f}",
            "upper": f"{100 * test.upper:+.1f}",
        }

    @admin.display(description=_("p-value"))
    def p_value(self, obj: NudgeRule) -> str:
        lift = self._lift(obj)
        if lift.p_value is None or lift.test is None:
            return "-"
        label = _("always valid") if lift.test.method == "sequential" else _("fixed horizon")
        return f"{lift.p_value:.3g} ({label})"

    @admin.display(description=_("split"))
    def split(self, obj: NudgeRule) -> str:
        split = self._lift(obj).sample_ratio
        if split is None:
            return "-"
        if split.mismatch:
            return str(_("broken: %(text)s") % {"text": wording.sample_ratio_text(split)})
        return str(_("as declared"))

    @admin.display(description=_("verdict"))
    def verdict(self, obj: NudgeRule) -> str:
        return self._lift(obj).verdict


class AttentionFilter(admin.SimpleListFilter):
    """Rows whose task was lost: stuck in ``sending``, or pending past their attempt."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("stuck", _("stuck in sending")),
            ("overdue", _("pending, overdue")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "stuck":
            return queryset.filter(pk__in=stuck_sending().values("pk"))
        if self.value() == "overdue":
            return queryset.filter(pk__in=overdue().values("pk"))
        return queryset


@admin.register(NudgeDelivery)
class NudgeDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "rule",
        "subject_label",
        "step_key",
        "status",
        "attempts",
        "attempt_at",
        "sent_at",
    )
    list_filter = (AttentionFilter, "status", "rule")
    list_select_related = ("rule",)
    search_fields = ("subject_label", "subject_id__exact")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["send_again"]
    fields = (
        "rule",
        "subject_type",
        "subject_id",
        "subject_label",
        "step_key",
        "status",
        "recipients",
        "attempts",
        "attempt_at",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("onboarding.change_nudgedelivery")

    @admin.action(description=_("Send again (stuck in sending or failed)"), permissions=["retry"])
    def send_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = retry_deliveries(list(queryset.values_list("pk", flat=True)))
        count = len(retried.ids)
        skipped = queryset.count() - count
        if retried.error:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery is pending again, but the broker could not be "
                    "reached (%(error)s): the sweeper queues it within %(minutes)d minutes.",
                    "%(count)d deliveries are pending again, but the broker could not be "
                    "reached (%(error)s): the sweeper queues them within %(minutes)d minutes.",
                    count,
                )
                % {"count": count, "error": retried.error, "minutes": _sweep_minutes()},
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery queued again.", "%(count)d deliveries queued again.", count
                )
                % {"count": count},
                messages.SUCCESS if count else messages.WARNING,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery was left as it is: only deliveries stuck in sending "
                    "or failed are sent again.",
                    "%(count)d deliveries were left as they are: only deliveries stuck in "
                    "sending or failed are sent again.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        stuck = stuck_sending().count()
        if stuck and request.method == "GET":
            self.message_user(
                request,
                ngettext(
                    "%(count)d delivery has been sending for too long: its worker was lost "
                    "and the e-mail may or may not have gone out. Filter by "
                    '"stuck in sending", check, and use "Send again".',
                    "%(count)d deliveries have been sending for too long: their worker was "
                    "lost and the e-mails may or may not have gone out. Filter by "
                    '"stuck in sending", check, and use "Send again".',
                    stuck,
                )
                % {"count": stuck},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


@admin.register(NudgeOptOut)
class NudgeOptOutAdmin(admin.ModelAdmin):
    list_display = ("subject_type", "subject_id", "source", "created_at")
    list_filter = ("source", "subject_type")
    search_fields = ("subject_id__exact",)
