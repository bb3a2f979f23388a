"""Seed the demo: teachers, their funnel (Bingo Card Creator's) and matching bingo data."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from bingo.cards import best_grid_size
from bingo.demo_nudges import NudgeSummary, seed_nudges
from bingo.models import CardPrint, CardSettings, GridSize, WordList
from bingo.onboarding_flows import BINGO, CARDS_PRINTED, WORD_LIST_CREATED
from onboarding.funnel import FunnelQuery
from onboarding.models import Event, Outcome, StepState
from onboarding.seeding import SeedSummary, align_date_joined, seed_funnel

TEACHER_PREFIX = "teacher"
TEACHER_PASSWORD = "teacher"
ADMIN_USERNAME = ADMIN_PASSWORD = "admin"

# Conditional conversion per step (signup, dashboard, word_list, customize, print).
# Showing the progress bar and the "use defaults" option raised customize from 82 %
# to about 90 %: reach is then about 100 / 95 / 72 / 62 / 45 %.
CONVERSION = {
    "hidden": [1.0, 0.95, 0.758, 0.82, 0.727],
    "shown": [1.0, 0.95, 0.758, 0.90, 0.727],
}
# Share of customize completions that took the smart default, by variant.
DEFAULT_SHARE = {"hidden": 0.25, "shown": 0.45}

WORD_BANKS = {
    "Farm animals": "cow pig hen horse sheep goat duck goose llama donkey rooster turkey "
    "calf lamb piglet chick pony ox rabbit cat dog mule bull ram alpaca",
    "Space": "moon sun star comet planet rocket orbit galaxy astronaut crater meteor nebula "
    "Mars Venus Jupiter Saturn Pluto telescope satellite asteroid eclipse gravity shuttle "
    "Neptune Mercury",
    "Fractions": "half third quarter fifth sixth eighth tenth numerator denominator whole "
    "equivalent simplify improper mixed 1/2 1/3 1/4 2/3 3/4 1/5 2/5 1/8 3/8 5/6 7/10",
    "Spanish verbs": "ser estar tener hacer ir poder decir dar ver saber querer llegar "
    "pasar deber poner parecer quedar creer hablar llevar dejar seguir encontrar llamar "
    "venir pensar",
    "Sight words": "the and you that was for are with his they have this from word but "
    "what some all were when your can said there use each which she how their",
    "Weather": "rain snow sleet hail fog wind storm thunder lightning cloud sunny drizzle "
    "breeze frost rainbow humid drought flood tornado hurricane blizzard forecast "
    "temperature mist gust",
}
TITLES = ["BINGO", "Class Bingo", "Friday Bingo", "Review Bingo", "Vocab Bingo"]


@dataclass(frozen=True)
class DemoReport:
    """What the seed made, with reach per step measured from the database."""

    teachers: int
    funnel: SeedSummary
    reach: list[tuple[str, int]]
    customize_by_variant: dict[str, float] = field(default_factory=dict)
    nudges: NudgeSummary | None = None


def is_seeded() -> bool:
    return get_user_model().objects.filter(username__startswith=TEACHER_PREFIX).exists()


@transaction.atomic
def seed_demo(*, teachers: int, days: int, seed: int) -> DemoReport:
    """Create the admin, ``teachers`` teachers, their funnel and their bingo data."""
    user_model = get_user_model()
    if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
        user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)
    people = _create_teachers(teachers)
    funnel = seed_funnel(
        BINGO.key,
        people,
        conversion=CONVERSION,
        default_share=DEFAULT_SHARE,
        days=days,
        rng_seed=seed,
    )
    align_date_joined(BINGO.key, people)
    _create_bingo_data(random.Random(seed))
    nudges = seed_nudges(seed=seed)
    return DemoReport(
        nudges=nudges,
        teachers=len(people),
        funnel=funnel,
        reach=reach_per_step(),
        customize_by_variant=customize_by_variant(),
    )


def _create_teachers(count: int) -> list[Any]:
    """Teachers in bulk: one password hash for all, since hashing each would take minutes."""
    user_model = get_user_model()
    password = make_password(TEACHER_PASSWORD)
    width = max(4, len(str(count)))
    user_model.objects.bulk_create(
        [
            user_model(
                username=f"{TEACHER_PREFIX}{number:0{width}d}",
                email=f"{TEACHER_PREFIX}{number}@example.com",
                password=password,
            )
            for number in range(1, count + 1)
        ],
        batch_size=500,
    )
    return list(user_model.objects.filter(username__startswith=TEACHER_PREFIX).order_by("pk"))


def _create_bingo_data(rng: random.Random) -> None:
    """A word list per ``word_list_created`` event, a print per ``cards_printed`` event
    and card settings per customize outcome, dated when the funnel says it happened."""
    events = (
        Event.objects.filter(flow__key=BINGO.key, kind__in=[WORD_LIST_CREATED, CARDS_PRINTED])
        .order_by("occurred_at")
        .values_list("subject_id", "kind", "occurred_at")
    )
    latest_list: dict[int, WordList] = {}
    lists: list[WordList] = []
    prints: list[CardPrint] = []
    for subject_id, kind, occurred_at in events.iterator():
        owner_id = int(subject_id)
        if kind == WORD_LIST_CREATED:
            name = rng.choice(sorted(WORD_BANKS))
            words = _pick_words(rng, WORD_BANKS[name].split())
            latest_list[owner_id] = WordList(
                owner_id=owner_id, name=name, words="\n".join(words), created_at=occurred_at
            )
            lists.append(latest_list[owner_id])
        else:
            prints.append(
                CardPrint(
                    owner_id=owner_id,
                    word_list=latest_list.get(owner_id),
                    cards=rng.choice([10, 20, 24, 25, 30, 32]),
                    created_at=occurred_at,
                )
            )
    # SQLite and PostgreSQL return the new ids, which the prints then refer to.
    WordList.objects.bulk_create(lists, batch_size=500)
    CardPrint.objects.bulk_create(prints, batch_size=500)
    CardSettings.objects.bulk_create(
        [
            _card_settings(rng, int(subject_id), outcome, completed_at, latest_list)
            for subject_id, outcome, completed_at in StepState.objects.filter(
                progress__flow__key=BINGO.key, step_key="customize", completed_at__isnull=False
            ).values_list("progress__subject_id", "outcome", "completed_at")
        ],
        batch_size=500,
    )


def _pick_words(rng: random.Random, bank: Sequence[str]) -> list[str]:
    """Most teachers type a full list; some a short one that fits a smaller grid."""
    count = rng.choice([len(bank)] * 3 + [16, 12])
    return rng.sample(list(bank), min(count, len(bank)))


def _card_settings(
    rng: random.Random, owner_id: int, outcome: str, at: Any, lists: dict[int, WordList]
) -> CardSettings:
    word_list = lists.get(owner_id)
    fits = best_grid_size(len(word_list.word_items)) if word_list else int(GridSize.THREE)
    if outcome == Outcome.DEFAULTED:
        title = f"{word_list.name} Bingo" if word_list else "BINGO"
        grid, free = fits, True
    else:
        title = rng.choice(TITLES)
        grid = rng.choice([size for size in GridSize.values if size <= fits])
        free = rng.random() < 0.7
    return CardSettings(
        owner_id=owner_id,
        title=title,
        grid_size=grid,
        free_centre=free,
        created_at=at,
    )


def reach_per_step() -> list[tuple[str, int]]:
    """Subjects who entered, then who reached each step: the funnel admin shows."""
    result = FunnelQuery(flow=BINGO.key).run()
    return [("entered", result.entered)] + [(step.key, step.reached) for step in result.steps]


def customize_by_variant() -> dict[str, float]:
    """Per variant: conversion from word list to customize, within the flow's window."""
    result = FunnelQuery(flow=BINGO.key, breakdown="variant").run()
    return {
        variant: step.conversion_from_previous
        for variant, group in sorted(result.groups.items())
        for step in group.steps
        if step.key == "customize" and step.conversion_from_previous is not None
    }
