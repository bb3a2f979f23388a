"""Rate limits per subject (team members share one) and per API key; 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from onboarding.api.models import ApiKey
from onboarding.api.principals import throttle_ident
from onboarding.conf import onboarding_settings


class _SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from ``ONBOARDING["API_THROTTLE_RATES"][scope]`` (``None``: off)."""

    def get_rate(self) -> str | None:
        return (onboarding_settings.API_THROTTLE_RATES or {}).get(self.scope)


class SubjectRateThrottle(_SettingsRateThrottle):
    scope = "subject"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return None
        ident = throttle_ident(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": "onboarding-subject", "ident": ident}


class ApiKeyRateThrottle(_SettingsRateThrottle):
    scope = "key"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": "onboarding-key", "ident": request.auth.pk}
