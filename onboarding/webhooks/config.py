"""The configured endpoints (``ONBOARDING["WEBHOOKS"]``), validated with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from onboarding.conf import onboarding_settings
from onboarding.webhooks.addresses import static_problem
from onboarding.webhooks.standard import key_of

EVENTS = ("step_completed", "flow_finished")
# "onboarding": the Onboarding-Signature header; "standard": Standard Webhooks headers.
FORMATS = ("onboarding", "standard")
KEYS = {"name", "url", "secret", "previous_secrets", "events", "flows", "format", "allow_private"}


class WebhookConfigError(ValueError):
    """An endpoint of ``ONBOARDING["WEBHOOKS"]`` is invalid; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    """One receiver: where, with which secret, for which events and flows (empty: all)."""

    name: str
    url: str
    secret: str
    events: tuple[str, ...] = EVENTS
    flows: tuple[str, ...] = ()
    format: str = "onboarding"
    # Secrets being rotated out: each delivery is signed with them too.
    previous_secrets: tuple[str, ...] = ()
    # Whether the URL may reach loopback, private and link-local addresses.
    allow_private: bool = False

    def wants(self, event: str, flow: str) -> bool:
        return event in self.events and (not self.flows or flow in self.flows)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.secret, *self.previous_secrets)


def parse_endpoint(index: int, raw: Any) -> Endpoint:
    where = f'ONBOARDING["WEBHOOKS"][{index}]'
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{where} must be a dict with 'url' and 'secret'.")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise WebhookConfigError(f"{where} has unknown keys {unknown}.")
    url = str(raw.get("url") or "")
    try:
        parts = urlparse(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        valid = False
    if not valid:
        raise WebhookConfigError(f"{where}['url'] must be an http(s) URL, not {url!r}.")
    wire = raw.get("format", "onboarding")
    if wire not in FORMATS:
        raise WebhookConfigError(f"{where}['format'] must be one of {FORMATS}, not {wire!r}.")
    secret = raw.get("secret")
    previous = raw.get("previous_secrets") or ()
    if not isinstance(previous, (list, tuple)):
        raise WebhookConfigError(f"{where}['previous_secrets'] must be a list of secrets.")
    for key, value in [("secret", secret), *(("previous_secrets", one) for one in previous)]:
        _check_secret(f"{where}[{key!r}]", value, wire)
    allow_private = raw.get("allow_private", False)
    if not isinstance(allow_private, bool):
        raise WebhookConfigError(f"{where}['allow_private'] must be True or False.")
    events = tuple(raw.get("events") or EVENTS)
    bad = [event for event in events if event not in EVENTS]
    if bad:
        raise WebhookConfigError(f"{where}['events'] has unknown events {bad}; use {EVENTS}.")
    return Endpoint(
        name=str(raw.get("name") or url)[:100],
        url=url,
        secret=str(secret),  # checked above
        events=events,
        flows=tuple(raw.get("flows") or ()),
        format=wire,
        previous_secrets=tuple(previous),
        allow_private=allow_private,
    )


def _check_secret(where: str, value: Any, wire: str) -> None:
    if wire == "standard":
        if not isinstance(value, str) or key_of(value) is None:
            raise WebhookConfigError(
                f"{where} must be a Standard Webhooks secret: 'whsec_' and the base64 of "
                "24 to 64 random bytes."
            )
    elif not isinstance(value, str) or len(value) < 16:
        raise WebhookConfigError(f"{where} must be a string of 16 characters or more.")


def address_problem(endpoint: Endpoint) -> str | None:
    """Why the endpoint's URL names a non-public address (without DNS), or ``None``;
    always ``None`` with ``allow_private``."""
    if endpoint.allow_private:
        return None
    return static_problem(urlparse(endpoint.url).hostname or "")


def endpoints() -> list[Endpoint]:
    """Every configured endpoint; raises :class:`WebhookConfigError` naming a bad one."""
    return [parse_endpoint(index, raw) for index, raw in enumerate(onboarding_settings.WEBHOOKS)]


def endpoint(name: str) -> Endpoint | None:
    return next((one for one in endpoints() if one.name == name), None)
