"""Size limits checked before a body is parsed: Content-Length first, then a bounded read."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
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
