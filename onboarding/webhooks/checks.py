"""System check of ``ONBOARDING["WEBHOOKS"]`` (``onboarding.E015``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from onboarding.conf import onboarding_settings
from onboarding.webhooks.config import WebhookConfigError, address_problem, parse_endpoint


@register("onboarding")
def check_webhooks(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    raw = onboarding_settings.WEBHOOKS
    if not isinstance(raw, (list, tuple)):
        return [
            Error(
                'ONBOARDING["WEBHOOKS"] must be a list of endpoints.',
                hint='For example [{"url": "https://example.com/hook", "secret": "..."}].',
                id="onboarding.E015",
            )
        ]
    names: set[str] = set()
    for index, one in enumerate(raw):
        try:
            endpoint = parse_endpoint(index, one)
        except WebhookConfigError as error:
            errors.append(
                Error(
                    str(error),
                    hint="Each endpoint: url (http or https), secret (16+ characters; "
                    "format 'standard': whsec_ and base64), optional name, events "
                    "(step_completed, flow_finished), flows, format, previous_secrets and "
                    "allow_private.",
                    id="onboarding.E015",
                )
            )
            continue
        if endpoint.name in names:
            errors.append(
                Error(
                    f'ONBOARDING["WEBHOOKS"][{index}]: the name {endpoint.name!r} is used twice.',
                    hint="Give each endpoint a unique name (the delivery log refers to it).",
                    id="onboarding.E015",
                )
            )
        names.add(endpoint.name)
        problem = address_problem(endpoint)
        if problem:
            errors.append(
                Error(
                    f"ONBOARDING[\"WEBHOOKS\"][{index}]['url']: {problem}; webhooks are "
                    "refused there.",
                    hint='Use the receiver\'s public address, or set "allow_private": True '
                    "on this endpoint if it is meant to reach this machine or its network "
                    "(a local receiver in development or tests).",
                    id="onboarding.E015",
                )
            )
    return errors
