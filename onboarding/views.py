"""Server-rendered step actions: the checklist's buttons work with JavaScript off."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from onboarding.exceptions import InvalidEvent, NoDefault, UnknownFlow, UnknownStep
from onboarding.tracking import accept_default, complete, dismiss, skip

ACTIONS = {"complete": complete, "default": accept_default, "skip": skip, "dismiss": dismiss}


def _next_url(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.headers.get("referer") or ""
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if allowed else fallback


@require_POST
@login_required
def step_action(request: HttpRequest, flow: str, step: str, action: str) -> HttpResponse:
    """Apply ``action`` to ``step`` for the current user, then go back where they were."""
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404(_("Unknown step action."))
    try:
        handler(request.user, flow, step, source="web")
    except (UnknownFlow, UnknownStep) as error:
        raise Http404(str(error)) from None
    except NoDefault as error:
        messages.error(request, str(error))
    except InvalidEvent as error:  # e.g. SUBJECT_RESOLVER maps this user to no subject
        return HttpResponseBadRequest(str(error))
    return HttpResponseRedirect(_next_url(request, fallback="/"))
