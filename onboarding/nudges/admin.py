"""Admin for nudges: rules with their sent and held-out counts and lift; deliveries.

Rules and deliveries are written by code (``register_rule``, the evaluator); staff
read them here. Opt-outs may be added or removed by staff.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from onboarding.admin_mixins import ReadOnlyAdminMixin
from onboarding.experiments import wording
from onboarding.nudges.models import NudgeDelivery, NudgeOptOut, NudgeRule
from onboarding.nudges.stats import Lift, rule_lift


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


@admin.register(NudgeDelivery)
class NudgeDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "rule",
        "subject_label",
        "step_key",
        "status",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "rule")
    list_select_related = ("rule",)
    search_fields = ("subject_label", "subject_id__exact")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "rule",
        "subject_type",
        "subject_id",
        "subject_label",
        "step_key",
        "status",
        "recipients",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields


@admin.register(NudgeOptOut)
class NudgeOptOutAdmin(admin.ModelAdmin):
    list_display = ("subject_type", "subject_id", "source", "created_at")
    list_filter = ("source", "subject_type")
    search_fields = ("subject_id__exact",)
