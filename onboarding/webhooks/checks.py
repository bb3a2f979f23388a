"""System check of ``ONBOARDING["WEBHOOKS"]`` (``onboarding.E015``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from onboarding.conf import onboarding_settings
from onboarding.webhooks.config import WebhookConfigError, parse_endpoint


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
                    hint="Each endpoint: url (http or https), secret (16+ characters), "
                    "optional name, events (step_completed, flow_finished) and flows.",
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
    return errors
