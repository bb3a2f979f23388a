"""The demo's onboarding funnel: sign up, dashboard, word list, customize, print."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from bingo.cards import apply_default_settings
from bingo.models import CardPrint, CardSettings, WordList
from onboarding import Flow, Step, register
from onboarding.nudges import FewLogins, ShortFirstSession, SlowStep, Stalled, register_rule

# Custom events the views record; each completes the step declaring it.
WORD_LIST_CREATED = "word_list_created"
CARDS_PRINTED = "cards_printed"


def signed_up_at(user: Any) -> datetime | None:
    return user.date_joined


def first_word_list_at(user: Any) -> datetime | None:
    first = WordList.objects.filter(owner=user).order_by("created_at").first()
    return first.created_at if first else None


def customized_at(user: Any) -> datetime | None:
    saved = CardSettings.objects.filter(owner=user).first()
    return saved.created_at if saved else None


def first_print_at(user: Any) -> datetime | None:
    first = CardPrint.objects.filter(owner=user).order_by("created_at").first()
    return first.created_at if first else None


BINGO = register(
    Flow(
        key="bingo",
        title=_("Make your first bingo cards"),
        description=_("From sign-up to a stack of printed cards in about four minutes."),
        ordered=True,
        window_days=14,
        variants={"shown": 50, "hidden": 50},
        # Hidden is the page as it was, without the progress indicator and defaults.
        control="hidden",
        steps=[
            Step(
                "signup",
                _("Create your account"),
                url="bingo:signup",
                estimated_seconds=30,
                done_when=signed_up_at,
            ),
            Step(
                "dashboard",
                _("Open your dashboard"),
                description=_("Where your word lists and cards live."),
                url="bingo:dashboard",
                estimated_seconds=10,
            ),
            Step(
                "word_list",
                _("Create a word list"),
                description=_("Type or paste the words to put on the cards."),
                url="bingo:wordlist-new",
                estimated_seconds=120,
                completed_by=WORD_LIST_CREATED,
                done_when=first_word_list_at,
            ),
            Step(
                "customize",
                _("Customize your card"),
                description=_("Grid size, free centre square and title."),
                url="bingo:customize",
                estimated_seconds=60,
                done_when=customized_at,
                default=apply_default_settings,
                default_label=_("Use defaults and continue"),
            ),
            Step(
                "print",
                _("Print your cards"),
                description=_("Download a printable file with shuffled cards."),
                url="bingo:print",
                estimated_seconds=30,
                completed_by=CARDS_PRINTED,
                done_when=first_print_at,
            ),
        ],
    )
)

# Nudges: a reminder to customize a day after the word list (a fifth held out, so the
# admin shows its lift), and Groove's red flags.
register_rule(Stalled(flow=BINGO.key, step="customize", after_hours=24, holdout=0.2))
register_rule(FewLogins(flow=BINGO.key))
register_rule(ShortFirstSession(flow=BINGO.key))
register_rule(SlowStep(flow=BINGO.key, step="word_list"))
