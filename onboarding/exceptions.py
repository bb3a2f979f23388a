"""Errors raised by the public API. One place for their messages."""

from __future__ import annotations

from django.utils.translation import gettext as _


class OnboardingError(Exception):
    """Base class of every error this app raises on purpose."""


class UnknownFlow(OnboardingError, LookupError):
    def __init__(self, flow_key: str) -> None:
        self.flow_key = flow_key
        super().__init__(_("Unknown onboarding flow %(flow)r.") % {"flow": flow_key})


class UnknownStep(OnboardingError, LookupError):
    def __init__(self, flow_key: str, step_key: str) -> None:
        self.flow_key = flow_key
        self.step_key = step_key
        super().__init__(
            _("Unknown step %(step)r in onboarding flow %(flow)r.")
            % {"step": step_key, "flow": flow_key}
        )


class InvalidEvent(OnboardingError, ValueError):
    """An event that cannot be recorded; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NoDefault(OnboardingError):
    def __init__(self, flow_key: str, step_key: str) -> None:
        self.flow_key = flow_key
        self.step_key = step_key
        super().__init__(
            _("Step %(step)r of flow %(flow)r has no smart default.")
            % {"step": step_key, "flow": flow_key}
        )


class SubjectErased(InvalidEvent):
    """The subject's data was erased (GDPR): its events are refused from then on."""

    def __init__(self, label: str) -> None:
        super().__init__(
            "subject",
            _("The onboarding data of %(subject)s was erased; its events are refused.")
            % {"subject": label},
        )


class InvalidQuery(OnboardingError, ValueError):
    """A funnel query that cannot be answered; ``field`` names the offending input
    (forms and the API show ``message`` there)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)
