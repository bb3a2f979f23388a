"""Making, checking and revoking API keys. The plaintext key is shown once, never stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from onboarding.api.models import ApiKey
from onboarding.api.text import storable

SCOPES = ("ingest", "read")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(prefix, key)``; the key is ``<prefix>.<secret>``."""
    prefix = secrets.token_hex(4)
    return prefix, f"{prefix}.{secrets.token_urlsafe(32)}"


def check_scopes(scopes: Iterable[str]) -> set[str]:
    wanted = set(scopes)
    unknown = wanted - set(SCOPES)
    if unknown:
        raise ValueError(
            _("Unknown API key scope(s): %(scopes)s. Use %(known)s.")
            % {"scopes": ", ".join(sorted(unknown)), "known": ", ".join(SCOPES)}
        )
    return wanted


def create_key(
    name: str, *, scopes: Iterable[str] = ("ingest",), created_by: Any = None
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plaintext, which is shown to the caller once."""
    wanted = check_scopes(scopes)
    prefix, key = new_key()
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        hashed_key=hash_key(key),
        can_ingest="ingest" in wanted,
        can_read="read" in wanted,
        created_by=created_by,
    )
    return api_key, key


def find_key(key: str) -> ApiKey | None:
    """The live key matching ``key``, or ``None`` (unknown, mistyped or revoked)."""
    prefix, dot, _secret = key.partition(".")
    if not dot or not prefix or not storable(prefix):  # PostgreSQL refuses NUL in a lookup
        return None
    api_key = ApiKey.objects.filter(prefix=prefix, revoked=False).first()
    # Compared in constant time so the response time does not leak the hash.
    if api_key is None or not hmac.compare_digest(api_key.hashed_key, hash_key(key)):
        return None
    return api_key


def revoke_key(prefix: str) -> bool:
    """Revoke the key with ``prefix``; ``False`` when there is no such live key."""
    return bool(ApiKey.objects.filter(prefix=prefix, revoked=False).update(revoked=True))
