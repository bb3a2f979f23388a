"""The flows declared in code, collected from every app's ``onboarding_flows`` module."""

from __future__ import annotations

from django.utils.module_loading import autodiscover_modules

from onboarding.declarations import Flow
from onboarding.exceptions import UnknownFlow


class FlowRegistry:
    """Declared flows by key. A key registered twice is kept for system check E001."""

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}
        self.duplicate_keys: list[str] = []

    def register(self, flow: Flow) -> Flow:
        if flow.key in self._flows and self._flows[flow.key] is not flow:
            self.duplicate_keys.append(flow.key)
        self._flows[flow.key] = flow
        return flow

    def unregister(self, key: str) -> None:
        self._flows.pop(key, None)

    def get(self, key: str) -> Flow:
        try:
            return self._flows[key]
        except KeyError:
            raise UnknownFlow(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._flows

    def all(self) -> list[Flow]:
        return list(self._flows.values())


registry = FlowRegistry()


def register(flow: Flow) -> Flow:
    """Declare ``flow``; call it at import time of an ``onboarding_flows.py`` module."""
    return registry.register(flow)


def get_flow(key: str) -> Flow:
    """The declared flow named ``key``, or :class:`~onboarding.exceptions.UnknownFlow`."""
    return registry.get(key)


def autodiscover() -> None:
    from onboarding.conf import onboarding_settings

    autodiscover_modules(onboarding_settings.FLOWS_MODULE)
