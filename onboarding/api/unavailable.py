"""503 JSON with ``Retry-After`` when the database fails under a request, not an HTML 500.

A lost connection (server restarted, backend terminated), a server that refuses new
ones, SQLite's "database is locked" past its busy timeout: the request may well succeed
when repeated, and repeating a batch is safe (events are idempotent by id; a batch is
stored in one transaction, so a failed one stored nothing).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("onboarding.api")

# What Django raises when the database cannot be reached or used right now; errors the
# data causes (IntegrityError, DataError) are not among them.
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _roll_back_atomic_requests() -> None:
    # With ATOMIC_REQUESTS the view runs in a transaction: answering instead of raising
    # must not let it commit what ran before the error.
    for connection in connections.all(initialized_only=True):
        if connection.settings_dict["ATOMIC_REQUESTS"] and connection.in_atomic_block:
            connection.set_rollback(True)


def database_unavailable(error: Exception) -> HttpResponse:
    """The 503 for a database error (logged with its traceback): JSON whatever the
    request negotiated, so that clients can tell it from their own mistakes."""
    logger.warning("The database failed under an API request: %s", error, exc_info=error)
    _roll_back_atomic_requests()
    response = JsonResponse(
        {"detail": _("The database is unavailable right now. Try again shortly.")},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def answers_503_when_the_database_fails(view: Callable[..., Any]) -> Callable[..., Any]:
    """For the API's plain Django views (DRF views get the same from the exception handler)."""

    @functools.wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except DATABASE_ERRORS as error:
            return database_unavailable(error)

    return wrapped
