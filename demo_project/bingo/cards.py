"""Bingo card logic: the smart default settings and shuffled cards. No requests here."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from bingo.models import CardSettings, GridSize, WordList

FREE = None  # the free centre square in a generated grid

Grid = list[list[str | None]]


def best_grid_size(word_count: int) -> int:
    """The largest grid this many words fill (with a free centre), at least 3 x 3."""
    for size in (GridSize.FIVE, GridSize.FOUR):
        needed = size * size - (1 if size % 2 else 0)
        if word_count >= needed:
            return int(size)
    return int(GridSize.THREE)


def default_settings(owner: Any) -> dict[str, Any]:
    """What "use defaults" picks: a grid the latest word list fills, titled after it."""
    latest = WordList.objects.filter(owner=owner).order_by("-created_at").first()
    words = len(latest.word_items) if latest else 0
    return {
        "title": (latest.name[:54] + " Bingo") if latest else "BINGO",
        "grid_size": best_grid_size(words),
        "free_centre": True,
    }


def apply_default_settings(subject: Any, actor: Any) -> None:
    """The ``customize`` step's smart default (``Step.default``): save the default card."""
    CardSettings.objects.update_or_create(owner=subject, defaults=default_settings(subject))


def settings_for(owner: Any) -> CardSettings:
    """The teacher's saved settings, or unsaved defaults when they have none yet."""
    saved = CardSettings.objects.filter(owner=owner).first()
    return saved or CardSettings(owner=owner, **default_settings(owner))


def make_cards(
    words: Sequence[str], settings: CardSettings, count: int, *, seed: int | None = None
) -> list[Grid]:
    """``count`` grids of words, each drawn and shuffled independently."""
    needed = settings.words_needed
    if len(words) < needed:
        raise ValueError(
            _("A %(size)s x %(size)s card needs %(needed)s words; the list has %(count)s.")
            % {"size": settings.grid_size, "needed": needed, "count": len(words)}
        )
    rng = random.Random(seed)
    size = settings.grid_size
    centre = size // 2
    cards = []
    for _card in range(count):
        drawn = iter(rng.sample(list(words), needed))
        grid: Grid = []
        for row in range(size):
            grid.append(
                [
                    FREE if settings.has_free_square and row == col == centre else next(drawn)
                    for col in range(size)
                ]
            )
        cards.append(grid)
    return cards
