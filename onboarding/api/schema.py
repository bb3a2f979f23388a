"""OpenAPI 3 (drf-spectacular): security schemes for the API's own credentials, and the
served schema limited to this app's routes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.views import SpectacularAPIView

from onboarding import __version__
from onboarding.api.errors import exception_handler
from onboarding.api.query import check_query


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "onboarding.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; scopes ingest (POST events/) and read.",
        }


class EmbedScheme(OpenApiAuthenticationExtension):
    target_class = "onboarding.api.authentication.EmbedTokenAuthentication"
    name = "EmbedToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Embed <token>`: a short-lived signed token for one subject.",
        }


def only_onboarding(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Preprocessing hook: keep the endpoints of this app, whatever else the project has."""
    from onboarding.api.base import OnboardingAPIView

    return [
        endpoint
        for endpoint in endpoints
        if issubclass(getattr(endpoint[3], "cls", type(None)), OnboardingAPIView)
    ]


class SchemaView(SpectacularAPIView):
    """The OpenAPI document of the onboarding API, as mounted in this project."""

    # Explicit, so this works whatever the project's DEFAULT_SCHEMA_CLASS is.
    schema = AutoSchema()

    def get_exception_handler(self) -> Any:
        # The API's, not the project's: a failing database (the session lookup) is a 503.
        return exception_handler

    custom_settings = {
        "TITLE": "django-onboarding API",
        "VERSION": __version__,
        "PREPROCESSING_HOOKS": ["onboarding.api.schema.only_onboarding"],
    }

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        check_query(request.query_params)  # as on every GET route of the API
