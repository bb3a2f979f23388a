"""CORS for the origins in ``ONBOARDING["API_CORS_ORIGINS"]`` only, and never with cookies.

Cross-origin callers authenticate with an embed token in the Authorization header,
so ``Access-Control-Allow-Credentials`` is never sent.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from onboarding.conf import onboarding_settings

ALLOWED_HEADERS = "Authorization, Content-Type, Accept-Language"
MAX_AGE = "600"


def allowed_origin(request: Any) -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in onboarding_settings.API_CORS_ORIGINS else None


def is_preflight(request: Any) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(request: Any, methods: list[str]) -> HttpResponse:
    """The answer to a browser's preflight: allow headers only for a configured origin."""
    response = HttpResponse(status=204)
    origin = allowed_origin(request)
    if origin:
        response["Access-Control-Allow-Methods"] = ", ".join(methods)
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = MAX_AGE
    return add_cors_headers(request, response)


def add_cors_headers(request: Any, response: Any) -> Any:
    origin = allowed_origin(request)
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    # The answer depends on Origin whether or not it is allowed: caches must know.
    patch_vary_headers(response, ("Origin",))
    return response
