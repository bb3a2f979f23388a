"""HMAC signatures of webhook bodies, with a timestamp against replays.

The header is ``Onboarding-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``, where
each hex is HMAC-SHA256 of ``"<t>.<raw body>"`` with one of the endpoint's secrets (the
current one and, during a rotation, the previous ones). A receiver recomputes it over
the raw body, accepts any ``v1`` made with a secret it knows and refuses a timestamp
more than a few minutes away. :mod:`onboarding.webhooks.standard` signs the Standard
Webhooks way instead.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Onboarding-Signature"
DEFAULT_TOLERANCE = 300
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def secrets_of(secret: str | Sequence[str]) -> list[str]:
    """One secret or a list of them, as a list (empty strings and non-strings dropped)."""
    items = [secret] if isinstance(secret, str) else secret
    if not isinstance(items, (list, tuple)):
        return []
    return [item for item in items if isinstance(item, str) and item]


def as_bytes(body: bytes | bytearray | memoryview | str) -> bytes | None:
    """The raw body; a ``str`` is taken as its UTF-8 bytes; anything else: ``None``."""
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    return None


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | Sequence[str], body: bytes, *, timestamp: int | None = None) -> str:
    """The header value signing ``body`` at ``timestamp`` (default now), one ``v1`` per
    secret: sign with the new and the old secret while receivers switch over."""
    at = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={at}", *(f"v1={_digest(one, at, body)}" for one in secrets_of(secret))])


def fresh(timestamp: str, tolerance: float, now: float | None) -> int | None:
    """The timestamp as an int if it is digits within ``tolerance`` seconds of now."""
    if not _TIMESTAMP.fullmatch(timestamp):
        return None
    at = int(timestamp)
    current = time.time() if now is None else now
    return at if abs(current - at) <= tolerance else None


def verify(
    secret: str | Sequence[str],
    body: bytes | str,
    header: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` (or any of several secrets)
    within ``tolerance`` seconds. Never raises: anything malformed is ``False``."""
    raw = as_bytes(body)
    keys = secrets_of(secret)
    if raw is None or not keys or not isinstance(header, str):
        return False
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, _equals, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value.strip())
        elif name == "v1" and _HEX.fullmatch(value.strip()):
            signatures.append(value.strip().lower())
    if len(timestamps) != 1 or not signatures:
        return False
    at = fresh(timestamps[0], tolerance, now)
    if at is None:
        return False
    expected = [_digest(key, at, raw) for key in keys]
    # Every pair is compared (no early exit) so the time taken says nothing of which.
    matches = [hmac.compare_digest(one, given) for one in expected for given in signatures]
    return any(matches)
