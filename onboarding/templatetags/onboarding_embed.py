"""``{% load onboarding_embed %}``: a signed token for the embeddable widget."""

from __future__ import annotations

from django import template

from onboarding.api.embed import make_embed_token
from onboarding.exceptions import InvalidEvent

register = template.Library()


@register.simple_tag(takes_context=True)
def onboarding_embed_token(context: template.Context, max_age: int | None = None) -> str:
    """``{% onboarding_embed_token as token %}``: a short-lived token for the signed-in user's
    subject, sent by the widget as ``Authorization: Embed <token>``; ``""`` when anonymous."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    try:
        return make_embed_token(user, max_age=max_age)
    except InvalidEvent:  # the resolver maps this user to no subject
        return ""
