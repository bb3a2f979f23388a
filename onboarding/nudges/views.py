"""The unsubscribe link: GET asks to confirm (mail scanners follow links), POST opts out.

POST needs no CSRF token: the signed token in the URL is the credential, and mail
clients' one-click unsubscribe (RFC 8058) posts without one.
"""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from onboarding.nudges.optout import opt_out, read_token


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subject_type_id, subject_id = read_token(token)
    except signing.BadSignature:
        raise Http404(_("This unsubscribe link is not valid.")) from None
    if request.method == "POST":
        opt_out(subject_type_id, subject_id, source="unsubscribe")
        return render(request, "onboarding/nudges/unsubscribe.html", {"done": True})
    return render(request, "onboarding/nudges/unsubscribe.html", {"done": False})
