"""Size limits checked before a body is parsed: Content-Length first, then a bounded read.

A body without Content-Length (``Transfer-Encoding: chunked``) is read here, at most
``API_MAX_BATCH_BYTES`` + 1 bytes, when the server passed it on: see docs/api.md.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from onboarding.api.errors import PayloadTooLarge
from onboarding.conf import onboarding_settings


def too_large(setting: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        _("Request body is over the limit of %(limit)d bytes (ONBOARDING['%(setting)s']).")
        % {"limit": limit, "setting": setting}
    )


def check_content_length(meta: Mapping[str, Any]) -> None:
    """Refuse a declared body over ``API_MAX_BATCH_BYTES`` without reading any of it."""
    limit = onboarding_settings.API_MAX_BATCH_BYTES
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError(_("Content-Length is not a number.")) from None
    if length > limit:
        raise too_large("API_MAX_BATCH_BYTES", limit)


class LengthRequired(APIException):
    """411: a chunked body the WSGI server did not pass on (Django's runserver drops it)."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = gettext_lazy(
        "This server passed on no body for a chunked request: send Content-Length."
    )
    default_code = "length_required"


def read_unsized_body(request: HttpRequest) -> None:
    """Read a body sent without Content-Length under ``API_MAX_BATCH_BYTES`` and give it
    its length, as a buffering server does: 413 over the limit, 411 if the server passed
    none on (else the view would read a chunked batch as empty)."""
    meta = request.META
    chunked = "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()
    terminated = bool(meta.get("wsgi.input_terminated"))
    if meta.get("CONTENT_LENGTH") or not (chunked or terminated):
        return
    limit = onboarding_settings.API_MAX_BATCH_BYTES
    raw = _read_at_most(meta.get("wsgi.input"), limit + 1)
    if len(raw) > limit:
        raise too_large("API_MAX_BATCH_BYTES", limit)
    if chunked and not raw and not terminated:
        raise LengthRequired()
    meta["CONTENT_LENGTH"] = str(len(raw))
    # As if the server had declared the length: Django's and DRF's readers take it from here.
    request.__dict__.pop("_body", None)
    request._stream = io.BytesIO(raw)
    request._read_started = False  # type: ignore[attr-defined]  # WSGIRequest's, unstubbed


def _read_at_most(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, to its end: a WSGI input may return short reads."""
    parts: list[bytes] = []
    left = size
    try:
        while stream is not None and left > 0:
            part = stream.read(left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
    except OSError:  # the client went away mid-body
        raise ParseError(_("The request body could not be read.")) from None
    return b"".join(parts)


class BoundedJSONParser(JSONParser):
    """JSON, read at most ``API_MAX_BATCH_BYTES`` + 1 bytes, so a body without (or lying
    about) its Content-Length is still cut off before parsing."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = onboarding_settings.API_MAX_BATCH_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large("API_MAX_BATCH_BYTES", limit)
        try:
            text = raw.decode("utf-8")
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:
            # RecursionError: deeply nested arrays, which json reports that way.
            raise ParseError(_("JSON parse error: %(error)s") % {"error": _short(error)}) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _short(error: Exception) -> str:
    return str(error)[:200] or error.__class__.__name__
