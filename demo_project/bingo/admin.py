from django.contrib import admin

from bingo.models import CardPrint, CardSettings, WordList


@admin.register(WordList)
class WordListAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name", "owner__username"]
    date_hierarchy = "created_at"
    raw_id_fields = ["owner"]


@admin.register(CardSettings)
class CardSettingsAdmin(admin.ModelAdmin):
    list_display = ["owner", "title", "grid_size", "free_centre", "created_at"]
    list_filter = ["grid_size", "free_centre"]
    search_fields = ["owner__username", "title"]
    raw_id_fields = ["owner"]


@admin.register(CardPrint)
class CardPrintAdmin(admin.ModelAdmin):
    list_display = ["owner", "word_list", "cards", "created_at"]
    date_hierarchy = "created_at"
    raw_id_fields = ["owner", "word_list"]
