"""The API's view base: every policy is set here, so the host's REST_FRAMEWORK defaults
do not leak in."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from drf_spectacular.openapi import AutoSchema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from onboarding.api import cors
from onboarding.api.authentication import (
    ApiKeyAuthentication,
    EmbedTokenAuthentication,
    SessionAuthentication,
)
from onboarding.api.errors import exception_handler
from onboarding.api.limits import BoundedJSONParser, check_content_length, read_unsized_body
from onboarding.api.permissions import ActsForSubject
from onboarding.api.query import check_query
from onboarding.api.throttling import ApiKeyRateThrottle, SubjectRateThrottle


class AsciiJSONRenderer(JSONRenderer):
    """JSON with non-ASCII escaped: any text echoed from a client stays encodable."""

    ensure_ascii = True


class OnboardingAPIView(APIView):
    # Header credentials first: a request carrying a key or token is judged by it,
    # not by a session cookie that happens to ride along.
    authentication_classes = [ApiKeyAuthentication, EmbedTokenAuthentication, SessionAuthentication]
    permission_classes = [ActsForSubject]
    throttle_classes = [SubjectRateThrottle, ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [AsciiJSONRenderer]
    schema = AutoSchema()
    # Query parameters that may be given more than once; any other twice is a 400.
    repeatable_query_params: tuple[str, ...] = ()

    def get_exception_handler(self) -> Any:
        return exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if cors.is_preflight(request):
            return cors.preflight_response(request, self.allowed_methods)
        # Titles are translated in the request's language (LocaleMiddleware's choice
        # when installed, else Accept-Language), including while the response renders.
        language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language_from_request(
            request
        )
        with translation.override(language):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        response.headers.setdefault("Content-Language", language)
        return cors.add_cors_headers(request, response)

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        # Before authentication and parsing: an oversized body is refused unread, a
        # chunked one read under the same bound (authentication may parse it: CSRF).
        check_content_length(request.META)
        read_unsized_body(request._request)
        super().initial(request, *args, **kwargs)
        if request.method in ("GET", "HEAD"):  # the other routes read no query parameter
            check_query(request.query_params, repeatable=self.repeatable_query_params)
