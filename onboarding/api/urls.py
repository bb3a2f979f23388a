"""API routes, included by ``onboarding.urls`` under ``api/`` (namespace ``onboarding:api``)."""

from django.urls import path, re_path

from onboarding.api import views
from onboarding.api.funnel import FunnelView
from onboarding.api.schema import SchemaView

app_name = "api"

urlpatterns = [
    path("flows/", views.FlowListView.as_view(), name="flow-list"),
    path("flows/<slug:flow>/progress/", views.ProgressView.as_view(), name="progress"),
    *[
        path(
            f"flows/<slug:flow>/steps/<slug:step>/{action}/",
            views.StepActionView.as_view(action_name=action),
            name=f"step-{action}",
        )
        for action in views.ACTIONS
    ],
    path("flows/<slug:flow>/funnel/", FunnelView.as_view(), name="funnel"),
    path("events/", views.EventBatchView.as_view(), name="events"),
    path("schema/", SchemaView.as_view(), name="schema"),
    # Last: any other path under the API (a flow or step key no route accepts) is a JSON
    # 404. Only paths ending in "/", so APPEND_SLASH still redirects the rest.
    re_path(r"^[\s\S]*/$", views.not_found),
]
