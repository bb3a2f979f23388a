"""The delivery log in admin (read-only), with an action to send failed ones again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from onboarding.webhooks.models import WebhookDelivery, WebhookStatus


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event",
        "endpoint",
        "flow_key",
        "step_key",
        "subject_label",
        "status",
        "attempts",
        "response_status",
        "delivered_at",
    )
    list_filter = ("status", "event", "endpoint", "flow_key")
    search_fields = ("subject_label", "id__exact")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Send the selected failed deliveries again"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        from onboarding.webhooks.tasks import deliver_webhook

        ids = list(queryset.filter(status=WebhookStatus.FAILED).values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=ids).update(status=WebhookStatus.PENDING)
        for pk in ids:
            deliver_webhook.delay(str(pk))
        self.message_user(
            request,
            ngettext("%(count)d delivery queued.", "%(count)d deliveries queued.", len(ids))
            % {"count": len(ids)},
            messages.SUCCESS,
        )
