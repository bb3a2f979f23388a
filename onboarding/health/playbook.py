"""The playbook: what to do for each trigger (a segment or a red flag)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from onboarding.conf import onboarding_settings

# Red flags are the nudge rules of these kinds that found a subject due.
RED_FLAG_KINDS = ("short_first_session", "few_logins", "slow_step")

DEFAULT_PLAYBOOK: dict[str, Any] = {
    "new": _("Send the welcome series; check in after the first session."),
    "declining": _("Personal e-mail from the account owner: ask what got in the way."),
    "lapsed": _("Win-back offer, or a call if the account is large."),
    "short_first_session": _("Send a two-minute getting-started video."),
    "few_logins": _("Remind them what they set up and link straight back to it."),
    "slow_step": _("Offer help with the step they are stuck on."),
}


def playbook() -> dict[str, Any]:
    """Built-in actions overridden by ``HEALTH_PLAYBOOK`` (``None`` drops a trigger)."""
    merged = {**DEFAULT_PLAYBOOK, **(onboarding_settings.HEALTH_PLAYBOOK or {})}
    return {trigger: action for trigger, action in merged.items() if action}


def actions(segment: str, flags: list[str]) -> list[tuple[str, str]]:
    """``(trigger, action)`` for the segment and each red flag that has an action."""
    book = playbook()
    return [(trigger, str(book[trigger])) for trigger in [segment, *flags] if trigger in book]
