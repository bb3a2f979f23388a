"""HMAC signatures of webhook bodies, with a timestamp against replays.

The header is ``Onboarding-Signature: t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256 of ``"<t>.<raw body>"`` with the endpoint's secret. A receiver recomputes
it over the raw body and refuses a timestamp older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Onboarding-Signature"
DEFAULT_TOLERANCE = 300


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value signing ``body`` at ``timestamp`` (default now)."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - at) > tolerance:
        return False
    expected = sign(secret, body, timestamp=at).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
