"""The demo site (demo_project/bingo) walked end to end with the test client."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings

from bingo.cards import best_grid_size, make_cards
from bingo.models import CardPrint, CardSettings, WordList
from onboarding.models import Event, Progress, StepState
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("demo.urls")]

WORDS = "\n".join(
    [
        "cat",
        "dog",
        "cow",
        "pig",
        "hen",
        "fox",
        "owl",
        "bee",
        "ant",
        "elk",
        "yak",
        "emu",
        "bat",
        "ram",
        "eel",
        "gnu",
        "koi",
        "ape",
        "asp",
        "cod",
        "jay",
        "kit",
        "pup",
        "doe",
    ]
)
PASSWORD = "Purple-Bingo-42"


def progress_of(html: str) -> tuple[int, int]:
    """``(aria-valuenow, aria-valuemax)`` of the first progress bar on the page."""
    match = re.search(r'aria-valuemax="(\d+)" aria-valuenow="(\d+)"', html)
    assert match, "no onboarding progress bar on the page"
    return int(match.group(2)), int(match.group(1))


def states(user) -> dict[str, str]:
    progress = Progress.objects.get(flow__key="bingo", subject_id=str(user.pk))
    return dict(
        StepState.objects.filter(progress=progress, completed_at__isnull=False).values_list(
            "step_key", "outcome"
        )
    )


def put_in_variant(user, variant: str) -> None:
    """Move ``user`` into an A/B variant (assignment is a hash of the subject)."""
    Progress.objects.filter(flow__key="bingo", subject_id=str(user.pk)).update(variant=variant)


def sign_up(client: Client, username: str):
    response = client.post(
        "/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    return get_user_model().objects.get(username=username)


def test_a_teacher_walks_from_signup_to_printed_cards(client: Client):
    teacher = sign_up(client, "ms-frizzle")
    assert states(teacher) == {"signup": "completed"}
    put_in_variant(teacher, "shown")

    dashboard = client.get("/").content.decode()
    assert progress_of(dashboard) == (2, 5)
    assert "2 of 5 done" in dashboard
    # The full checklist on the dashboard, pointing at the next step.
    assert 'data-step="word_list" aria-current="step"' in dashboard

    response = client.post("/word-lists/new/", {"name": "Animals", "words": WORDS})
    assert response.status_code == 302
    assert response["Location"] == "/card/"
    customize_page = client.get("/card/").content.decode()
    # The compact bar in the header of every page.
    assert progress_of(customize_page) == (3, 5)
    assert "3 of 5 done" in customize_page
    assert "Use defaults and continue" in customize_page

    response = client.post("/card/", {"use_defaults": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/print/"
    card = CardSettings.objects.get(owner=teacher)
    # The smart default: the largest grid the word list fills, titled after it.
    assert (card.grid_size, card.free_centre, card.title) == (5, True, "Animals Bingo")

    print_page = client.get("/print/").content.decode()
    assert progress_of(print_page) == (4, 5)
    word_list = WordList.objects.get(owner=teacher)
    response = client.post("/print/", {"word_list": word_list.pk, "cards": 3})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="bingo-cards.html"'
    sheet = response.content.decode()
    assert sheet.count('class="bingo-card"') == 3
    assert sheet.count('class="free"') == 3
    assert CardPrint.objects.get(owner=teacher).cards == 3

    assert states(teacher) == {
        "signup": "completed",
        "dashboard": "completed",
        "word_list": "completed",
        "customize": "defaulted",
        "print": "completed",
    }
    progress = Progress.objects.get(flow__key="bingo", subject_id=str(teacher.pk))
    assert progress.finished_at is not None
    assert progress.variant == "shown"
    finished = client.get("/").content.decode()
    assert progress_of(finished) == (5, 5)
    assert "All done" in finished


def test_the_hidden_variant_sees_no_progress_bar_but_is_measured(client: Client):
    teacher = sign_up(client, "mr-hidden")
    put_in_variant(teacher, "hidden")

    for page in ["/", "/word-lists/new/", "/card/", "/print/"]:
        html = client.get(page).content.decode()
        assert 'role="progressbar"' not in html, page
        assert "onboarding-progress" not in html, page

    client.post("/word-lists/new/", {"name": "Animals", "words": WORDS})
    assert states(teacher) == {
        "signup": "completed",
        "dashboard": "completed",
        "word_list": "completed",
    }


def test_custom_card_settings_complete_the_step_as_customized(client: Client):
    teacher = UserFactory()
    client.force_login(teacher)
    client.post("/word-lists/new/", {"name": "Space", "words": WORDS})

    response = client.post("/card/", {"title": "Space!", "grid_size": 4})
    assert response.status_code == 302
    card = CardSettings.objects.get(owner=teacher)
    assert (card.title, card.grid_size, card.free_centre) == ("Space!", 4, False)
    assert states(teacher)["customize"] == "completed"


def test_writes_and_their_events_are_recorded_together(client: Client):
    teacher = UserFactory()
    client.force_login(teacher)

    response = client.post("/word-lists/new/", {"name": "Short", "words": "one\ntwo\nthree"})
    assert response.status_code == 200
    assert "Enter at least 8 different words" in response.content.decode()
    assert not WordList.objects.filter(owner=teacher).exists()
    assert not Event.objects.filter(step_key="word_list").exists()

    client.post("/word-lists/new/", {"name": "Animals", "words": WORDS})
    event = Event.objects.get(step_key="word_list")
    assert (event.kind, event.properties, event.source) == (
        "word_list_created",
        {"words": 24},
        "web",
    )


def test_dashboard_visits_complete_the_step_once(client: Client):
    teacher = UserFactory()
    client.force_login(teacher)
    for _visit in range(3):
        assert client.get("/").status_code == 200
    assert Event.objects.filter(step_key="dashboard").count() == 1
    assert states(teacher) == {"dashboard": "completed"}


def test_printing_needs_enough_words_for_the_grid(client: Client):
    teacher = UserFactory()
    client.force_login(teacher)
    short = WordList.objects.create(owner=teacher, name="Few", words="\n".join("abcdefghij"))
    CardSettings.objects.create(owner=teacher, grid_size=5)

    response = client.post("/print/", {"word_list": short.pk, "cards": 2})
    assert response.status_code == 200
    assert "Few has 10 words; your 5 x 5 card needs 24" in response.content.decode()
    assert not CardPrint.objects.exists()


def test_pages_need_a_login(client: Client):
    for path in ["/", "/word-lists/new/", "/card/", "/print/"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    login_page = client.get("/accounts/login/").content.decode()
    assert 'role="progressbar"' not in login_page


@override_settings(LOGIN_REDIRECT_URL="bingo:dashboard")
def test_a_seeded_teacher_logs_in_and_sees_their_progress(client: Client):
    call_command("seed_demo", teachers=40, stdout=StringIO())
    progress = Progress.objects.filter(
        flow__key="bingo", finished_at__isnull=True, variant="shown"
    ).first()
    teacher = get_user_model().objects.get(pk=progress.subject_id)

    done = set(
        StepState.objects.filter(progress=progress, completed_at__isnull=False).values_list(
            "step_key", flat=True
        )
    )

    response = client.post(
        "/accounts/login/", {"username": teacher.username, "password": "teacher"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain == [("/", 302)]
    # Logging in lands on the dashboard, and visiting it completes that step.
    assert progress_of(response.content.decode()) == (len(done | {"dashboard"}), 5)


def test_seed_demo_matches_data_to_progress_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", teachers=120, seed=7, stdout=out)
    report = out.getvalue()
    assert "Admin: http://localhost:8000/admin/  user admin  password admin" in report
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")

    teachers = get_user_model().objects.filter(username__startswith="teacher")
    assert teachers.count() == 120
    assert Progress.objects.filter(flow__key="bingo").count() == 120
    reached = {
        step: StepState.objects.filter(
            progress__flow__key="bingo", step_key=step, completed_at__isnull=False
        ).count()
        for step in ["signup", "word_list", "customize", "print"]
    }
    assert reached["signup"] == 120
    assert re.search(r"signup\s+120\s+100\.0 %", report)
    # Everyone who created a word list in the funnel has one, dated when it happened.
    assert WordList.objects.values("owner").distinct().count() == reached["word_list"]
    assert CardSettings.objects.count() == reached["customize"]
    assert CardPrint.objects.values("owner").distinct().count() == reached["print"]
    first = StepState.objects.filter(step_key="word_list", completed_at__isnull=False).first()
    owner_id = int(first.progress.subject_id)
    # Some teachers made a second list later: the first one is the step's completion.
    earliest = WordList.objects.filter(owner_id=owner_id).order_by("created_at").first()
    assert earliest.created_at == first.completed_at
    assert get_user_model().objects.get(pk=owner_id).date_joined == first.progress.entered_at
    counts = (Event.objects.count(), WordList.objects.count(), get_user_model().objects.count())

    again = StringIO()
    call_command("seed_demo", teachers=120, seed=7, stdout=again)
    assert "already seeded" in again.getvalue()
    assert "Admin: http://localhost:8000/admin/  user admin  password admin" in again.getvalue()
    assert (
        Event.objects.count(),
        WordList.objects.count(),
        get_user_model().objects.count(),
    ) == counts


def test_cards_are_shuffled_grids_with_a_free_centre():
    words = WORDS.split()
    card = CardSettings(grid_size=5, free_centre=True)
    cards = make_cards(words, card, 4, seed=1)
    assert len(cards) == 4
    assert all(len(grid) == 5 and all(len(row) == 5 for row in grid) for grid in cards)
    assert all(grid[2][2] is None for grid in cards)
    flat = [[word for row in grid for word in row if word] for grid in cards]
    assert all(len(set(words_on)) == 24 for words_on in flat)
    assert len({tuple(words_on) for words_on in flat}) == 4
    assert make_cards(words, card, 4, seed=1) == cards
    with pytest.raises(ValueError, match="needs 24 words; the list has 10"):
        make_cards(words[:10], card, 1)
    assert [best_grid_size(count) for count in (0, 8, 15, 16, 23, 24)] == [3, 3, 3, 4, 4, 5]


def test_the_funnel_page_of_the_seeded_demo_shows_verdict_split_and_planner(client: Client):
    from html import unescape

    from onboarding.models import FlowRecord

    call_command("seed_demo", teachers=240, seed=7, stdout=StringIO())
    client.login(username="admin", password="admin")
    pk = FlowRecord.objects.get(key="bingo").pk

    response = client.get(f"/admin/onboarding/flowrecord/{pk}/funnel/")

    assert response.status_code == 200
    html = unescape(response.content.decode())
    verdict = re.search(r'<p class="verdict[^"]*">(.*?)</p>', html, re.S).group(1)
    assert verdict.startswith("shown finishes ") and " than hidden (95 % interval " in verdict
    assert "always-valid p " in verdict
    split = re.search(r'<p class="funnel-split[^"]*"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert re.fullmatch(
        r"Split: \d+\.\d / \d+\.\d observed against 50 / 50 declared \(shown / hidden, "
        r"p = \d\.\d{3}\): the split is as declared\.",
        split,
    )
    planner = re.search(r'<p class="funnel-planner"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert re.search(
        r"With \d+ subjects per variant you can detect a change of \d+\.\d points", planner
    )
    assert "the sequential test needs" in planner
    assert "Always-valid sequential test" in html
    assert "Finished (primary)" in html
