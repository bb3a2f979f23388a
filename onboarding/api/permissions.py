"""Who may call which route: a subject (session user or embed token), or a scoped API key."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from onboarding.api.embed import EmbedGrant
from onboarding.api.models import ApiKey


def _acts_for_subject(request: Any) -> bool:
    if isinstance(request.auth, EmbedGrant):
        return True
    user = request.user
    return bool(user and user.is_authenticated and not isinstance(request.auth, ApiKey))


class ActsForSubject(BasePermission):
    """A signed-in user or an embed token: the routes about "my" progress."""

    message = _("These routes need a signed-in user or an embed token, not an API key.")

    def has_permission(self, request: Any, view: Any) -> bool:
        return _acts_for_subject(request)


class CanSendEvents(BasePermission):
    """A subject sending its own events, or an API key with the ``ingest`` scope."""

    message = _("This API key lacks the 'ingest' scope.")

    def has_permission(self, request: Any, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return "ingest" in request.auth.scopes
        return _acts_for_subject(request)


class CanViewFunnel(BasePermission):
    """A user with the ``onboarding.view_funnel`` permission, or an API key scoped ``read``."""

    message = _("Funnel reports need the 'onboarding.view_funnel' permission or a 'read' API key.")

    def has_permission(self, request: Any, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            return "read" in request.auth.scopes
        if isinstance(request.auth, EmbedGrant):
            # A widget acts for one subject; aggregate reports are not its business.
            return False
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("onboarding.view_funnel"))
