"""Pages the browser tests open: the widget alone, as a host project would place it."""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.utils import translation

from tests.urls import urlpatterns as suite_urlpatterns

PAGE = engines["django"].from_string(
    """{% load onboarding_widget %}<!doctype html>
<html lang="{{ lang }}" dir="{{ dir }}"><head><meta charset="utf-8"><title>Widget</title>
<style>body { font-family: sans-serif; margin: 2rem; max-width: 36rem; }
@media (prefers-color-scheme: dark) {
  body { background: #0d1117; color: #e6edf3; } a { color: #79aaff; } }</style>
</head><body><main><h1>Dashboard</h1>
<a href="#before" id="before">Before the widget</a>
{% onboarding_widget flow mode=mode %}
<a href="#after" id="after">After the widget</a>
</main></body></html>"""
)


def widget_page(request: HttpRequest) -> HttpResponse:
    """``/widget/?flow=wizard&mode=full&lang=en&dir=ltr``."""
    lang = request.GET.get("lang", "en")
    with translation.override(lang):
        html = PAGE.render(
            {
                "flow": request.GET.get("flow", "wizard"),
                "mode": request.GET.get("mode", "full"),
                "lang": lang,
                "dir": request.GET.get("dir", "ltr"),
            },
            request,
        )
    return HttpResponse(html)


urlpatterns = [path("widget/", widget_page, name="widget-page"), *suite_urlpatterns]
