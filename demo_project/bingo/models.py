"""What a teacher makes: word lists, card settings and printed sets of cards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The smallest card (3 x 3 with a free centre) needs this many words.
MIN_WORDS = 8


class WordList(models.Model):
    """Words to put on the cards, one per line."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="word_lists",
    )
    name = models.CharField(_("name"), max_length=100)
    words = models.TextField(_("words"), help_text=_("One word or phrase per line."))
    # ``default`` rather than ``auto_now_add`` so the seed can set past dates.
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("word list")
        verbose_name_plural = _("word lists")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def word_items(self) -> list[str]:
        """The distinct words, in order, blank lines dropped."""
        seen: dict[str, None] = {}
        for line in self.words.splitlines():
            word = line.strip()
            if word:
                seen.setdefault(word, None)
        return list(seen)


class GridSize(models.IntegerChoices):
    THREE = 3, _("3 x 3")
    FOUR = 4, _("4 x 4")
    FIVE = 5, _("5 x 5")


class CardSettings(models.Model):
    """How a teacher's cards look. One per teacher."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="card_settings",
    )
    title = models.CharField(_("title"), max_length=60, default="BINGO")
    grid_size = models.PositiveSmallIntegerField(
        _("grid size"), choices=GridSize.choices, default=GridSize.FIVE
    )
    free_centre = models.BooleanField(
        _("free centre square"),
        default=True,
        help_text=_("Only on grids with a centre (3 x 3 and 5 x 5)."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("card settings")
        verbose_name_plural = _("card settings")

    def __str__(self) -> str:
        return f"{self.title} ({self.grid_size} x {self.grid_size})"

    @property
    def has_free_square(self) -> bool:
        return self.free_centre and self.grid_size % 2 == 1

    @property
    def words_needed(self) -> int:
        return self.grid_size * self.grid_size - (1 if self.has_free_square else 0)


class CardPrint(models.Model):
    """One download of a set of cards."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="card_prints",
    )
    word_list = models.ForeignKey(
        WordList,
        verbose_name=_("word list"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="prints",
    )
    cards = models.PositiveSmallIntegerField(_("number of cards"))
    created_at = models.DateTimeField(_("printed at"), default=timezone.now)

    class Meta:
        verbose_name = _("printed set")
        verbose_name_plural = _("printed sets")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.cards} cards from {self.word_list or '-'}"
