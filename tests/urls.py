from django.contrib import admin
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

PAGE = engines["django"].from_string(
    '{% load onboarding_tags %}<main>{% onboarding_progress "wizard" %}</main>'
)


def page(request):
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("onboarding/", include("onboarding.urls")),
    path("projects/new/", page, name="project-new"),
    path("page/", page, name="page"),
    # The demo's pages, so the "bingo" flow's URL names reverse here too (check E003).
    path("bingo/", include("bingo.urls")),
]
