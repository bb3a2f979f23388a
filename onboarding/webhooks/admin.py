"""The delivery log in admin (read-only), with an action to send failed or pending ones
again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from onboarding.webhooks.models import WebhookDelivery, WebhookStatus
from onboarding.webhooks.requeue import enqueue


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

    @admin.action(description=_("Send the selected failed or pending deliveries again"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        # Pending ones too: a row whose task never reached the broker waits there.
        resendable = queryset.filter(status__in=[WebhookStatus.FAILED, WebhookStatus.PENDING])
        ids = list(resendable.values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=WebhookStatus.PENDING, next_attempt_at=timezone.now()
        )
        queued = 0
        for pk in ids:
            if not enqueue(pk):
                break
            queued += 1
        if queued or not ids:
            self.message_user(
                request,
                ngettext("%(count)d delivery queued.", "%(count)d deliveries queued.", queued)
                % {"count": queued},
                messages.SUCCESS,
            )
        if queued < len(ids):
            left = len(ids) - queued
            self.message_user(
                request,
                ngettext(
                    "The task queue could not be reached: %(count)d delivery stays pending "
                    "and is queued again automatically.",
                    "The task queue could not be reached: %(count)d deliveries stay pending "
                    "and are queued again automatically.",
                    left,
                )
                % {"count": left},
                messages.ERROR,
            )
