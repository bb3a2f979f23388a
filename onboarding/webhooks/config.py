"""The configured endpoints (``ONBOARDING["WEBHOOKS"]``), validated with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from onboarding.conf import onboarding_settings

EVENTS = ("step_completed", "flow_finished")


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

    def wants(self, event: str, flow: str) -> bool:
        return event in self.events and (not self.flows or flow in self.flows)


def parse_endpoint(index: int, raw: Any) -> Endpoint:
    where = f'ONBOARDING["WEBHOOKS"][{index}]'
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{where} must be a dict with 'url' and 'secret'.")
    unknown = sorted(set(raw) - {"name", "url", "secret", "events", "flows"})
    if unknown:
        raise WebhookConfigError(f"{where} has unknown keys {unknown}.")
    url = str(raw.get("url") or "")
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise WebhookConfigError(f"{where}['url'] must be an http(s) URL, not {url!r}.")
    secret = raw.get("secret")
    if not isinstance(secret, str) or len(secret) < 16:
        raise WebhookConfigError(f"{where}['secret'] must be a string of 16 characters or more.")
    events = tuple(raw.get("events") or EVENTS)
    bad = [event for event in events if event not in EVENTS]
    if bad:
        raise WebhookConfigError(f"{where}['events'] has unknown events {bad}; use {EVENTS}.")
    return Endpoint(
        name=str(raw.get("name") or url)[:100],
        url=url,
        secret=secret,
        events=events,
        flows=tuple(raw.get("flows") or ()),
    )


def endpoints() -> list[Endpoint]:
    """Every configured endpoint; raises :class:`WebhookConfigError` naming a bad one."""
    return [parse_endpoint(index, raw) for index, raw in enumerate(onboarding_settings.WEBHOOKS)]


def endpoint(name: str) -> Endpoint | None:
    return next((one for one in endpoints() if one.name == name), None)
