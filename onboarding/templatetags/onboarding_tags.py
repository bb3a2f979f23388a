"""``{% load onboarding_tags %}``: server-rendered progress bar and checklist."""

from __future__ import annotations

from typing import Any

from django import template

from onboarding.exceptions import InvalidEvent
from onboarding.progress import FlowProgress, get_progress

register = template.Library()


def _progress_for(context: template.Context, flow: str) -> FlowProgress | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    try:
        return get_progress(user, flow)
    except InvalidEvent:  # e.g. the resolver maps this user to no subject
        return None


@register.simple_tag(takes_context=True)
def get_onboarding_progress(context: template.Context, flow: str) -> FlowProgress | None:
    """``{% get_onboarding_progress "flow" as progress %}`` for custom markup."""
    return _progress_for(context, flow)


@register.inclusion_tag("onboarding/progress.html", takes_context=True)
def onboarding_progress(
    context: template.Context,
    flow: str,
    compact: bool = False,
    hide_finished: bool = False,
    variant: str = "",
) -> dict[str, Any]:
    """Progress bar (and, unless ``compact``, the checklist) for the current subject.

    ``variant``: render only for subjects in that A/B variant (``variant="shown"``).
    """
    progress = _progress_for(context, flow)
    request = context.get("request")
    show = (
        progress is not None
        and not (hide_finished and progress.finished)
        and not (variant and progress.variant != variant)
    )
    return {
        "progress": progress,
        "compact": compact,
        "show": show,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "next_url": request.get_full_path() if request else "",
    }
