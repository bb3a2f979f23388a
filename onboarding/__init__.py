"""django-onboarding: guided, measured onboarding funnels for Django.

Declare flows with :class:`Flow` and :class:`Step` in an ``onboarding_flows.py``
module, record what users do with :func:`track`, and read :func:`get_progress`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onboarding.declarations import Flow, Step
from onboarding.exceptions import InvalidEvent, NoDefault, OnboardingError, UnknownFlow, UnknownStep
from onboarding.registry import get_flow, register

__version__ = "0.1.0"

# Names that need the app registry are imported on first use, so that flow modules
# can ``from onboarding import Flow, Step, register`` at import time.
_LAZY = {
    "track": "onboarding.tracking",
    "track_many": "onboarding.tracking",
    "EventInput": "onboarding.tracking",
    "TrackResult": "onboarding.tracking",
    "complete": "onboarding.tracking",
    "accept_default": "onboarding.tracking",
    "skip": "onboarding.tracking",
    "dismiss": "onboarding.tracking",
    "get_progress": "onboarding.progress",
    "FlowProgress": "onboarding.progress",
    "StepProgress": "onboarding.progress",
    "sync_flows": "onboarding.sync",
}

if TYPE_CHECKING:
    from onboarding.progress import FlowProgress, StepProgress, get_progress
    from onboarding.sync import sync_flows
    from onboarding.tracking import (
        EventInput,
        TrackResult,
        accept_default,
        complete,
        dismiss,
        skip,
        track,
        track_many,
    )

__all__ = [
    "EventInput",
    "Flow",
    "FlowProgress",
    "InvalidEvent",
    "NoDefault",
    "OnboardingError",
    "Step",
    "StepProgress",
    "TrackResult",
    "UnknownFlow",
    "UnknownStep",
    "accept_default",
    "complete",
    "dismiss",
    "get_flow",
    "get_progress",
    "register",
    "skip",
    "sync_flows",
    "track",
    "track_many",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'onboarding' has no attribute {name!r}")
