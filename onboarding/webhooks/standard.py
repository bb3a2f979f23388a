"""The Standard Webhooks wire format (https://www.standardwebhooks.com), for endpoints
configured with ``"format": "standard"``, so receivers can use its off-the-shelf verifiers.

Headers ``webhook-id`` (the delivery's id), ``webhook-timestamp`` (unix seconds) and
``webhook-signature``: space-separated ``v1,<base64>``, each the HMAC-SHA256 of
``"<id>.<timestamp>.<raw body>"`` keyed with a secret ``whsec_<base64 of the key>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random
import time
from collections.abc import Mapping, Sequence

from onboarding.webhooks.signing import DEFAULT_TOLERANCE, as_bytes, fresh, secrets_of

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
PREFIX = "whsec_"
# The specification's bounds on a symmetric key: 24 to 64 bytes.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def key_of(secret: str) -> bytes | None:
    """The HMAC key a ``whsec_...`` secret stands for (the prefix is optional), or
    ``None`` when it is not base64 of 24 to 64 bytes."""
    if not isinstance(secret, str):
        return None
    text = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES else None


def new_secret() -> str:
    """A fresh random secret in the specification's form (32 bytes)."""
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def _signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_standard(
    secret: str | Sequence[str], message_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers signing ``body``: one ``v1`` signature per valid secret (the
    current one and, during a rotation, the previous ones)."""
    at = int(time.time()) if timestamp is None else timestamp
    keys = [key for key in map(key_of, secrets_of(secret)) if key is not None]
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(at),
        SIGNATURE_HEADER: " ".join(f"v1,{_signature(key, message_id, at, body)}" for key in keys),
    }


def verify_standard(
    secret: str | Sequence[str],
    body: bytes | str,
    headers: Mapping[str, str] | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when the ``webhook-*`` headers (any case, e.g. ``request.headers``) sign
    ``body`` with ``secret`` (or any of several). Never raises: malformed is ``False``."""
    raw = as_bytes(body)
    keys = [key for key in map(key_of, secrets_of(secret)) if key is not None]
    if raw is None or not keys or not isinstance(headers, Mapping):
        return False
    try:
        lowered = {str(name).lower(): value for name, value in headers.items()}
    except (AttributeError, TypeError):
        return False
    message_id = lowered.get(ID_HEADER)
    timestamp = lowered.get(TIMESTAMP_HEADER)
    header = lowered.get(SIGNATURE_HEADER)
    if not (isinstance(message_id, str) and isinstance(timestamp, str) and isinstance(header, str)):
        return False
    at = fresh(timestamp.strip(), tolerance, now)
    if at is None:
        return False
    given = [
        value.encode()
        for version, _comma, value in (part.partition(",") for part in header.split())
        if version == "v1" and value.isascii()
    ]
    expected = [_signature(key, message_id, at, raw).encode() for key in keys]
    matches = [hmac.compare_digest(one, other) for one in expected for other in given]
    return any(matches)
