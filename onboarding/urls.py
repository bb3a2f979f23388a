from django.urls import include, path

from onboarding import views
from onboarding.nudges import views as nudge_views

app_name = "onboarding"

urlpatterns = [
    path(
        "actions/<slug:flow>/<slug:step>/<slug:action>/",
        views.step_action,
        name="step-action",
    ),
    path("api/", include("onboarding.api.urls")),
    path("unsubscribe/<str:token>/", nudge_views.unsubscribe, name="nudge-unsubscribe"),
]
