"""Subjects: a user by default, a team through ``ONBOARDING["SUBJECT_RESOLVER"]``."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings

from onboarding import InvalidEvent, complete, get_progress, track
from onboarding.models import Event, Progress
from onboarding.subjects import ref, resolve
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.testapp.models import Membership, Team

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)
TEAM_RESOLVER = {"SUBJECT_RESOLVER": "tests.test_subjects.team_of"}


def team_of(user):
    """The resolver under test: a user's progress is their team's."""
    membership = Membership.objects.select_related("team").filter(user=user).first()
    return membership.team if membership else None


@pytest.fixture
def team():
    return TeamFactory(name="Acme")


@pytest.fixture
def members(team):
    return [MembershipFactory(team=team).user for _ in range(2)]


def test_by_default_the_user_is_the_subject(user):
    assert resolve(user) == (user, user)
    complete(user, "wizard", "signup")

    progress = Progress.objects.get()
    assert (progress.subject, progress.subject_label) == (user, user.username)


def test_a_model_instance_is_its_own_subject_without_actor(team):
    assert resolve(team) == (team, None)
    complete(team, "checklist", "a")

    event = Event.objects.get()
    assert (event.subject, event.actor) == (team, None)


def test_ref_names_the_content_type_and_key(team):
    subject = ref(team)

    assert subject.type_id == ContentType.objects.get_for_model(Team).pk
    assert (subject.id, subject.label) == (str(team.pk), "Acme")


class TestTeamSubject:
    @pytest.fixture(autouse=True)
    def _team_resolver(self, settings):
        settings.ONBOARDING = TEAM_RESOLVER

    def test_members_share_one_progress(self, team, members):
        first, second = members
        complete(first, "wizard", "signup", occurred_at=T0)
        complete(second, "wizard", "profile", occurred_at=T0 + timedelta(minutes=5))

        progress = Progress.objects.get()
        assert (progress.subject, progress.subject_label) == (team, "Acme")
        assert progress.entered_at == T0
        for member in members:
            seen = get_progress(member, "wizard")
            assert (seen.done, seen.total, seen.next_step.key) == (2, 4, "project")
        assert get_progress(team, "wizard").done == 2

    def test_the_actor_is_recorded(self, team, members):
        first, second = members
        complete(first, "wizard", "signup", occurred_at=T0)
        complete(second, "wizard", "profile", occurred_at=T0)

        assert set(Event.objects.values_list("step_key", "actor")) == {
            ("signup", first.pk),
            ("profile", second.pk),
        }
        assert set(Event.objects.values_list("subject_id", flat=True)) == {str(team.pk)}

    def test_a_step_done_by_any_member_counts_once(self, members):
        first, second = members
        complete(first, "wizard", "signup", occurred_at=T0 + timedelta(minutes=1))
        complete(second, "wizard", "signup", occurred_at=T0)

        progress = get_progress(first, "wizard")
        assert progress.done == 1
        assert progress.steps[0].completed_at == T0

    def test_other_teams_are_apart(self, members):
        outsider = MembershipFactory().user
        complete(members[0], "wizard", "signup")

        assert get_progress(outsider, "wizard").done == 0
        assert Progress.objects.count() == 1

    def test_a_user_without_team_is_refused_naming_the_setting(self):
        loner = UserFactory()

        with pytest.raises(InvalidEvent, match="SUBJECT_RESOLVER") as raised:
            track(loner, "wizard", "signup")

        assert raised.value.field == "subject"
        assert Event.objects.count() == 0

    def test_the_resolver_may_be_a_callable(self, team, members):
        with override_settings(ONBOARDING={"SUBJECT_RESOLVER": team_of}):
            assert resolve(members[0]) == (team, members[0])
