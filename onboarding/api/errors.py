"""One place for the API's error responses: core errors mapped to 400/404, input echoed safely."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from onboarding.api.unavailable import DATABASE_ERRORS, database_unavailable
from onboarding.exceptions import InvalidEvent, InvalidQuery, NoDefault, UnknownFlow, UnknownStep


class PayloadTooLarge(exceptions.APIException):
    """413: the body, the batch or one event is over a configured limit (named in the detail)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("Request body too large.")
    default_code = "payload_too_large"


def safe_text(value: Any, limit: int = 80) -> str:
    """``value`` cut short and encodable even if it holds lone surrogates, so echoing
    client input never breaks a response."""
    return str(value)[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value: Any, limit: int = 80) -> str:
    """``value`` quoted for an error message (see :func:`safe_text`)."""
    return repr(safe_text(value, limit))


def to_api_exception(error: Exception) -> exceptions.APIException | None:
    """The API error for a core :class:`~onboarding.exceptions.OnboardingError`, if any."""
    if isinstance(error, UnknownFlow):
        return exceptions.NotFound(
            _("Unknown onboarding flow %(flow)s.") % {"flow": shown(error.flow_key)}
        )
    if isinstance(error, UnknownStep):
        return exceptions.ValidationError(
            {
                "step": [
                    _("Unknown step %(step)s in onboarding flow %(flow)s.")
                    % {"step": shown(error.step_key), "flow": shown(error.flow_key)}
                ]
            }
        )
    if isinstance(error, NoDefault):
        return exceptions.ValidationError({"step": [str(error)]})
    if isinstance(error, (InvalidEvent, InvalidQuery)):
        return exceptions.ValidationError({error.field: [error.message]})
    return None


def exception_handler(error: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """DRF's handler, after mapping the core's errors (which are not APIExceptions); a
    database that fails under the request is a 503 (see :mod:`onboarding.api.unavailable`)."""
    if isinstance(error, DATABASE_ERRORS):
        return database_unavailable(error)
    return drf_exception_handler(to_api_exception(error) or error, context)
