"""How API callers prove who they are: API keys, embed tokens, or the session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from onboarding.api.embed import EmbedGrant, read_embed_token
from onboarding.api.keys import find_key
from onboarding.api.models import ApiKey


def _credentials(request: Any, keyword: str) -> str | None:
    """The credentials after ``keyword`` in the Authorization header, or ``None``."""
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != keyword.lower().encode():
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(
            _("Invalid %(keyword)s header: expected '%(keyword)s <value>'.") % {"keyword": keyword}
        )
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            _("Invalid %(keyword)s header.") % {"keyword": keyword}
        ) from None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``: ``request.user`` is anonymous, ``request.auth`` the key."""

    keyword = "Api-Key"

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        key = _credentials(request, self.keyword)
        if key is None:
            return None
        api_key = find_key(key)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class EmbedTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Embed <token>``: a signed, short-lived grant for one subject."""

    keyword = "Embed"

    def authenticate(self, request: Any) -> tuple[Any, EmbedGrant] | None:
        token = _credentials(request, self.keyword)
        if token is None:
            return None
        grant = read_embed_token(token)
        if grant is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired embed token."))
        return grant.user or AnonymousUser(), grant

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


# Same-origin pages: DRF's session authentication, which enforces CSRF on unsafe methods
# for every authenticated session.
SessionAuthentication = authentication.SessionAuthentication
