"""Forms of the bingo site."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from bingo.models import MIN_WORDS, CardSettings, WordList


class WordListForm(forms.ModelForm):
    class Meta:
        model = WordList
        fields = ["name", "words"]
        widgets = {"words": forms.Textarea(attrs={"rows": 12})}

    def clean_words(self) -> str:
        words = self.cleaned_data["words"]
        count = len(WordList(words=words).word_items)
        if count < MIN_WORDS:
            raise forms.ValidationError(
                _("Enter at least %(min)s different words (one per line); you have %(count)s."),
                code="too_few",
                params={"min": MIN_WORDS, "count": count},
            )
        return words


class CardSettingsForm(forms.ModelForm):
    class Meta:
        model = CardSettings
        fields = ["title", "grid_size", "free_centre"]
        widgets = {"grid_size": forms.RadioSelect}


class PrintForm(forms.Form):
    word_list = forms.ModelChoiceField(queryset=WordList.objects.none(), label=_("Word list"))
    cards = forms.IntegerField(label=_("Number of cards"), min_value=1, max_value=60, initial=30)

    def __init__(self, *args: Any, owner: Any, card_settings: CardSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.card_settings = card_settings
        lists = WordList.objects.filter(owner=owner)
        self.fields["word_list"].queryset = lists
        self.fields["word_list"].initial = lists.first()

    def clean_word_list(self) -> WordList:
        word_list = self.cleaned_data["word_list"]
        needed = self.card_settings.words_needed
        if len(word_list.word_items) < needed:
            raise forms.ValidationError(
                _(
                    "%(name)s has %(count)s words; your %(size)s x %(size)s card needs "
                    "%(needed)s. Add words or choose a smaller grid."
                ),
                code="too_few",
                params={
                    "name": word_list.name,
                    "count": len(word_list.word_items),
                    "size": self.card_settings.grid_size,
                    "needed": needed,
                },
            )
        return word_list
