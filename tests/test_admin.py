"""The admin: read-only pages that render, search and filter in a constant number of queries."""

from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.contrib import admin
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding import complete, track
from onboarding.admin import LargeTablePaginator
from onboarding.models import Event, FlowRecord, FlowVersion, Progress
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.testapp.models import Membership

pytestmark = pytest.mark.django_db

T1 = datetime(2024, 3, 1, 9, 30, tzinfo=dt_timezone.utc)
T2 = datetime(2025, 6, 2, 12, 0, tzinfo=dt_timezone.utc)
MODELS = [FlowRecord, FlowVersion, Progress, Event]
WIZARD_REQUIRED = ["signup", "profile", "project", "publish"]


def team_of(user):
    membership = Membership.objects.filter(user=user).select_related("team").first()
    return membership.team if membership else None


def url(model, view, *args):
    return reverse(f"admin:onboarding_{model._meta.model_name}_{view}", args=args)


def listed(response):
    return list(response.context["cl"].result_list)


def start_wizard(count, at=T1):
    """``count`` users who each did the first two steps of the wizard."""
    users = UserFactory.create_batch(count)
    for user in users:
        complete(user, "wizard", "signup", occurred_at=at)
        complete(user, "wizard", "profile", occurred_at=at)
    return users


def finish_wizard(user, at=T1):
    for step in WIZARD_REQUIRED:
        complete(user, "wizard", step, occurred_at=at)


# Pages and permissions --------------------------------------------------------------


def test_every_page_renders_for_a_superuser(admin_client):
    (user,) = start_wizard(1)
    track(user, "checklist", "a", kind="viewed")
    flow = FlowRecord.objects.get(key="wizard")
    progress = Progress.objects.get(flow=flow)
    event = Event.objects.filter(flow=flow).first()

    for model in MODELS:
        assert admin_client.get(url(model, "changelist")).status_code == 200
    pages = {
        FlowRecord: flow.pk,
        FlowVersion: flow.current_version.pk,
        Progress: progress.pk,
        Event: event.pk,
    }
    for model, pk in pages.items():
        response = admin_client.get(url(model, "change", pk))
        assert response.status_code == 200
        assert b'name="_save"' not in response.content


def test_flow_page_lists_versions_and_version_page_lists_steps(admin_client):
    flow = FlowRecord.objects.get(key="wizard")

    flow_page = admin_client.get(url(FlowRecord, "change", flow.pk)).content.decode()
    version_page = admin_client.get(
        url(FlowVersion, "change", flow.current_version.pk)
    ).content.decode()

    assert url(FlowVersion, "change", flow.current_version.pk) in flow_page
    for title in ["Sign up", "Fill in your profile", "Create a project", "Publish"]:
        assert title in version_page
    assert "project_created" in version_page  # completed_by of the "project" step


@pytest.mark.parametrize("model", MODELS)
def test_nobody_may_add_change_or_delete(model, admin_user, rf):
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    for inline in model_admin.get_inline_instances(request):
        assert not inline.has_add_permission(request, None)
        assert not inline.has_change_permission(request)
        assert not inline.has_delete_permission(request)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_writes_through_the_admin_are_forbidden(admin_client):
    start_wizard(1)
    flow = FlowRecord.objects.get(key="wizard")
    event = Event.objects.first()

    assert admin_client.get(url(FlowRecord, "add")).status_code == 403
    assert admin_client.post(url(Event, "delete", event.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(url(FlowRecord, "change", flow.pk), {"title": "Hacked"})
    assert response.status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()
    assert FlowRecord.objects.get(pk=flow.pk).title == "Set up your account"


def test_flow_list_shows_version_and_subjects_entered(admin_client):
    start_wizard(3)
    track(UserFactory(), "checklist", "a", kind="viewed")

    rows = {row.key: row for row in listed(admin_client.get(url(FlowRecord, "changelist")))}

    assert rows["wizard"].entered_count == 3
    assert rows["checklist"].entered_count == 1
    model_admin = admin.site._registry[FlowRecord]
    assert model_admin.version_number(rows["wizard"]) == rows["wizard"].current_version.number


# Progress ---------------------------------------------------------------------------


def test_progress_list_counts_steps_done(admin_client):
    started, finished = start_wizard(2)
    finish_wizard(finished)
    complete(finished, "wizard", "invite", occurred_at=T1)

    rows = {row.subject_id: row for row in listed(admin_client.get(url(Progress, "changelist")))}

    assert rows[str(started.pk)].done_steps == 2
    assert rows[str(finished.pk)].done_steps == 5


def test_progress_search_by_subject_name_and_id(admin_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for user in (alice, bob):
        complete(user, "wizard", "signup")

    by_name = listed(admin_client.get(url(Progress, "changelist"), {"q": "ali"}))
    by_id = listed(admin_client.get(url(Progress, "changelist"), {"q": str(bob.pk)}))

    assert [row.subject_label for row in by_name] == ["alice"]
    assert [row.subject_label for row in by_id] == ["bob"]


def test_progress_search_by_the_email_of_a_member_who_acted(admin_client):
    acme, other = TeamFactory(name="Acme"), TeamFactory(name="Other")
    alice = MembershipFactory(team=acme, user=UserFactory(username="alice")).user
    MembershipFactory(team=other)
    with override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_admin.team_of"}):
        complete(alice, "wizard", "signup")
        for membership in other.memberships.all():
            complete(membership.user, "wizard", "signup")

    rows = listed(admin_client.get(url(Progress, "changelist"), {"q": "alice@example.com"}))

    assert [row.subject_label for row in rows] == ["Acme"]


def test_progress_filters_by_flow_variant_and_finished(admin_client):
    users = start_wizard(6)
    finish_wizard(users[0])
    track(users[1], "checklist", "a", kind="viewed")
    changelist = url(Progress, "changelist")
    wizard = FlowRecord.objects.get(key="wizard")

    by_flow = listed(admin_client.get(changelist, {"flow__id__exact": wizard.pk}))
    shown = listed(admin_client.get(changelist, {"variant": "shown"}))
    finished = listed(admin_client.get(changelist, {"finished": "yes"}))
    unfinished = listed(admin_client.get(changelist, {"finished": "no"}))

    assert len(by_flow) == 6 and {row.flow_id for row in by_flow} == {wizard.pk}
    expected_shown = set(Progress.objects.filter(variant="shown").values_list("pk", flat=True))
    assert {row.pk for row in shown} == expected_shown
    assert [row.subject_id for row in finished] == [str(users[0].pk)]
    assert len(unfinished) == 6


def test_variant_filter_offers_the_declared_variants(admin_client):
    response = admin_client.get(url(Progress, "changelist"))

    variant_filter = next(f for f in response.context["cl"].filter_specs if f.title == "variant")
    assert [value for value, _ in variant_filter.lookup_choices] == ["hidden", "shown"]


def test_progress_changelist_queries_do_not_grow_with_rows(admin_client):
    start_wizard(2)
    with CaptureQueriesContext(connection) as few:
        assert len(listed(admin_client.get(url(Progress, "changelist")))) == 2
    start_wizard(6)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(admin_client.get(url(Progress, "changelist")))) == 8

    assert len(many) == len(few)


# Events -----------------------------------------------------------------------------


def test_event_list_shows_the_subject_name_from_progress(admin_client):
    (user,) = start_wizard(1)

    response = admin_client.get(url(Event, "changelist"))

    assert response.status_code == 200
    assert [row.subject_label for row in listed(response)] == [user.username] * 2
    assert f'<td class="field-subject_display">{user.username}</td>' in response.content.decode()
    assert response.context["cl"].full_result_count is None  # no second COUNT(*)


def test_event_filters_by_flow_step_kind_and_date(admin_client):
    (user,) = start_wizard(1, at=T1)
    track(user, "wizard", "project", kind="started", occurred_at=T2)
    track(user, "checklist", "b", kind="viewed", occurred_at=T2)
    changelist = url(Event, "changelist")
    checklist = FlowRecord.objects.get(key="checklist")

    def kinds(params):
        return sorted(
            (row.step_key, row.kind) for row in listed(admin_client.get(changelist, params))
        )

    assert kinds({"flow__id__exact": checklist.pk}) == [("b", "viewed")]
    assert kinds({"step": "project"}) == [("project", "started")]
    assert kinds({"kind": "completed"}) == [("profile", "completed"), ("signup", "completed")]
    assert kinds({"occurred_at__year": 2025}) == [("b", "viewed"), ("project", "started")]
    assert kinds({"occurred_at__year": 2024, "occurred_at__month": 3}) == [
        ("profile", "completed"),
        ("signup", "completed"),
    ]


def test_event_step_filter_lists_the_chosen_flows_steps(admin_client):
    checklist = FlowRecord.objects.get(key="checklist")

    response = admin_client.get(url(Event, "changelist"), {"flow__id__exact": checklist.pk})

    step_filter = next(f for f in response.context["cl"].filter_specs if f.title == "step")
    assert [value for value, _ in step_filter.lookup_choices] == ["a", "b", "c"]
    kind_filter = next(f for f in response.context["cl"].filter_specs if f.title == "kind")
    assert "project_created" in [value for value, _ in kind_filter.lookup_choices]


@pytest.mark.parametrize("model", [Event, Progress])
def test_a_flow_filter_value_that_is_no_id_is_not_a_server_error(admin_client, model):
    start_wizard(1)

    response = admin_client.get(url(model, "changelist"), {"flow__id__exact": "abc"})

    # The admin's own answer to a bad lookup: back to the list with ?e=1.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_event_search_by_subject_id_and_name(admin_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    complete(alice, "wizard", "signup")
    complete(bob, "wizard", "signup")
    complete(bob, "wizard", "profile")
    changelist = url(Event, "changelist")

    by_id = listed(admin_client.get(changelist, {"q": str(alice.pk)}))
    by_name = listed(admin_client.get(changelist, {"q": "bob"}))

    assert [row.subject_id for row in by_id] == [str(alice.pk)]
    assert {row.subject_id for row in by_name} == {str(bob.pk)} and len(by_name) == 2


def test_event_changelist_queries_do_not_grow_with_rows(admin_client):
    start_wizard(1)
    with CaptureQueriesContext(connection) as few:
        assert len(listed(admin_client.get(url(Event, "changelist")))) == 2
    start_wizard(5)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(admin_client.get(url(Event, "changelist")))) == 12

    assert len(many) == len(few)


# Paginator --------------------------------------------------------------------------


def test_paginator_counts_exactly_below_the_estimate_threshold():
    start_wizard(2)

    assert LargeTablePaginator(Event.objects.all(), 50).count == 4
    assert LargeTablePaginator(Event.objects.filter(step_key="signup"), 50).count == 2


@pytest.mark.postgres
def test_paginator_uses_the_planner_estimate_for_a_large_unfiltered_table(monkeypatch):
    start_wizard(3)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    monkeypatch.setattr(LargeTablePaginator, "estimate_from", 1)

    with CaptureQueriesContext(connection) as queries:
        count = LargeTablePaginator(Event.objects.all(), 50).count

    assert count == 6
    assert not any("COUNT(" in query["sql"].upper() for query in queries)
    # A filtered list is still counted exactly.
    assert LargeTablePaginator(Event.objects.filter(step_key="signup"), 50).count == 3
