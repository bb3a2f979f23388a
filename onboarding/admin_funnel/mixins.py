"""Wires the funnel page into a flow's ModelAdmin: URLs, a changelist column, a tool link."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from onboarding.admin_funnel import views


class FunnelAdminMixin:
    """Adds ``<pk>/funnel/`` and ``<pk>/funnel/<table>.csv`` to a FlowRecord admin.

    Both go through ``admin_site.admin_view`` (staff, login redirect) and then need
    ``onboarding.view_funnel``; the link and column only show to users who have it.
    """

    admin_site: admin.AdminSite
    opts: Any

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_funnel"
        wrap = self.admin_site.admin_view
        urls = [
            path("<path:object_id>/funnel/", wrap(self.funnel_view), name=name),
            path(
                "<path:object_id>/funnel/<slug:table>.csv",
                wrap(self.funnel_csv_view),
                name=f"{name}_csv",
            ),
        ]
        return urls + super().get_urls()  # type: ignore[misc]

    def funnel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return views.funnel_page(request, self, object_id)  # type: ignore[arg-type]

    def funnel_csv_view(self, request: HttpRequest, object_id: str, table: str) -> HttpResponse:
        return views.funnel_csv(request, self, object_id, table)  # type: ignore[arg-type]

    def funnel_url(self, pk: Any) -> str:
        name = f"{self.opts.app_label}_{self.opts.model_name}_funnel"
        return reverse(f"{self.admin_site.name}:{name}", args=[pk])

    def get_list_display(self, request: HttpRequest) -> list[Any] | tuple[Any, ...]:
        shown = super().get_list_display(request)  # type: ignore[misc]
        if request.user.has_perm(views.PERMISSION):
            return [*shown, "funnel_link"]
        return shown

    @admin.display(description=_("funnel"))
    def funnel_link(self, obj: Any) -> str:
        return format_html('<a href="{}">{}</a>', self.funnel_url(obj.pk), _("Funnel"))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        if request.user.has_perm(views.PERMISSION):
            extra["funnel_url"] = self.funnel_url(object_id)
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]
