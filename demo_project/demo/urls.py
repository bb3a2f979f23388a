"""URLs of the demo: the bingo site at the root, auth, admin and onboarding actions."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("onboarding/", include("onboarding.urls")),
    path("", include("bingo.urls")),
]
