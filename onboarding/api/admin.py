"""Admin for API keys: create one (its key is shown once), change scopes, revoke."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from onboarding.api.keys import hash_key, new_key
from onboarding.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "can_ingest", "can_read", "revoked", "created_at"]
    list_filter = ["revoked", "can_ingest", "can_read"]
    search_fields = ["name", "prefix"]
    fields = ["name", "can_ingest", "can_read", "revoked", "prefix", "created_at", "created_by"]
    readonly_fields = ["prefix", "created_at", "created_by"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            obj.prefix, key = new_key()
            obj.hashed_key = hash_key(key)
            obj.created_by = request.user  # type: ignore[assignment]  # admin users are real
            # The only time the key is visible: it is stored hashed.
            messages.warning(
                request,
                gettext("The new API key is %(key)s. Copy it now: it will not be shown again.")
                % {"key": key},
            )
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked=False).update(revoked=True)
        messages.success(request, gettext("Revoked %(count)d API key(s).") % {"count": count})
