from django.urls import include, path

from onboarding import views

app_name = "onboarding"

urlpatterns = [
    path(
        "actions/<slug:flow>/<slug:step>/<slug:action>/",
        views.step_action,
        name="step-action",
    ),
    path("api/", include("onboarding.api.urls")),
]
