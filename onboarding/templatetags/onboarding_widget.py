"""``{% load onboarding_widget %}``: the ``<onboarding-progress>`` element, first state included.

The tag renders the widget's shadow DOM on the server (declarative shadow DOM), so the
page shows the right progress before any script runs and without an extra request;
``static/onboarding/widget.js`` then keeps it live through the API.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.api.embed import make_embed_token
from onboarding.exceptions import InvalidEvent
from onboarding.models import Event
from onboarding.progress import FlowProgress, get_progress
from onboarding.subjects import ref, resolve

register = template.Library()

# The custom event kind the widget sends when the user dismisses it.
DISMISSED = "widget_dismissed"
LEFT = ("about %(seconds)s second left", "about %(seconds)s seconds left")


@lru_cache(maxsize=1)
def widget_css() -> str:
    """The widget's stylesheet, inlined into the shadow root so the first paint is styled."""
    path = finders.find("onboarding/widget.css")
    if not path:
        return ""
    with open(path, encoding="utf-8") as css:
        return css.read()


def widget_strings() -> dict[str, Any]:
    """Every text the script shows, in the active language (``%(name)s`` placeholders)."""
    return {
        "of": _("%(done)s of %(total)s done"),
        "steps": _("%(done)s of %(total)s steps"),
        # Translators: joins "3 of 5 done" and "about 40 seconds left".
        "summary": _("%(done)s, %(left)s"),
        # The script picks a form with Intl.PluralRules: "one" or "other".
        "left": {"one": ngettext(*LEFT, 1), "other": ngettext(*LEFT, 2)},
        "finished": _("All done. Welcome aboard!"),
        "optional": _("(optional)"),
        "use_default": _("Use defaults and continue"),
        "skip": _("Skip"),
        "skip_label": _("Skip: %(title)s"),
        "hide": _("Dismiss: %(title)s"),
        "status": {
            "done": _("Done:"),
            "todo": _("To do:"),
            "skipped": _("Skipped:"),
            "dismissed": _("Dismissed:"),
        },
        "offline": _("Saved on this device; it will be sent when you are back online."),
        "refused": _("Your progress could not be saved. Please reload the page."),
    }


def summary(progress: FlowProgress, strings: dict[str, Any]) -> str:
    """ "3 of 5 done, about 40 seconds left", worded exactly as the script words it."""
    if progress.finished:
        return str(strings["finished"])
    done = strings["of"] % {"done": progress.done, "total": progress.total}
    if not progress.seconds_left:
        return str(done)
    left = ngettext(*LEFT, progress.seconds_left) % {"seconds": progress.seconds_left}
    return str(strings["summary"] % {"done": done, "left": left})


def _dismissed(who: Any, flow: str) -> bool:
    subject_ref = ref(resolve(who)[0])
    return Event.objects.filter(
        flow__key=flow,
        subject_type_id=subject_ref.type_id,
        subject_id=subject_ref.id,
        kind=DISMISSED,
    ).exists()


def _queue_scope(who: Any) -> str:
    """Names the subject's localStorage queue without revealing its id."""
    subject_ref = ref(resolve(who)[0])
    return salted_hmac(
        "onboarding.widget.queue", f"{subject_ref.type_id}:{subject_ref.id}", algorithm="sha256"
    ).hexdigest()[:20]


@register.inclusion_tag("onboarding/widget.html", takes_context=True)
def onboarding_widget(
    context: template.Context,
    flow: str,
    *,
    mode: str = "full",
    variant: str = "",
    hide_finished: bool = False,
    origin: str = "",
) -> dict[str, Any]:
    """``{% onboarding_widget "flow" mode="compact" variant="shown" %}``.

    ``variant``: render only for subjects in that A/B variant. ``origin``: the site
    serving the API (``"https://app.example.com"``) when the page is on another origin;
    the widget then authenticates with a signed embed token instead of the session.
    """
    from onboarding.api.serializers import FlowProgressSerializer

    request = context.get("request")
    # Rendered without a request (say, in an e-mail): there is nobody to show it to.
    if not isinstance(request, HttpRequest):
        return {"show": False}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    try:
        progress = get_progress(user, flow)
        hidden = _dismissed(user, flow)
    except InvalidEvent:  # the resolver maps this user to no subject
        return {"show": False}
    if hidden or (variant and progress.variant != variant) or (hide_finished and progress.finished):
        return {"show": False}
    strings = widget_strings()
    state = FlowProgressSerializer(progress).data
    steps = [
        {
            **step,
            "status_text": strings["status"][step["status"]],
            "skip_label": strings["skip_label"] % {"title": step["title"]},
        }
        for step in state["steps"]
    ]
    origin = origin.rstrip("/")
    return {
        "show": True,
        "p": progress,
        "steps": steps,
        "compact": mode == "compact",
        "mode": "compact" if mode == "compact" else "full",
        "strings": strings,
        "summary": summary(progress, strings),
        "valuetext": strings["steps"] % {"done": progress.done, "total": progress.total},
        "dismiss_label": strings["hide"] % {"title": progress.flow.title},
        "boot": {"state": state, "strings": strings},
        "css": widget_css(),
        "lang": translation.get_language() or "",
        "scope": _queue_scope(user),
        "api": origin + reverse("onboarding:api:flow-list").removesuffix("flows/"),
        "script": static("onboarding/widget.js"),
        "token": make_embed_token(user) if origin else "",
        "csrf": "" if origin else get_token(request),
    }
