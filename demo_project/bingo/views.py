"""Pages of the bingo site. Each records its onboarding step in the same transaction
as its own writes, so the funnel never counts a word list that was rolled back."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

import onboarding
from bingo.cards import make_cards, settings_for
from bingo.forms import CardSettingsForm, PrintForm, WordListForm
from bingo.models import CardPrint
from bingo.onboarding_flows import BINGO, CARDS_PRINTED, WORD_LIST_CREATED

FLOW = BINGO.key
# Dashboard visits send one event id per user: the first visit completes the step,
# later ones are duplicates that the event log never stores again.
DASHBOARD_VISIT = uuid.UUID("6c1d3f0e-52a4-4c4b-9a57-0d5c0f3b8e21")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("bingo:dashboard")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            onboarding.complete(user, FLOW, "signup", source="web")
        login(request, user)
        return redirect("bingo:dashboard")
    return render(request, "bingo/signup.html", {"form": form})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    onboarding.complete(
        user, FLOW, "dashboard", event_id=uuid.uuid5(DASHBOARD_VISIT, str(user.pk)), source="web"
    )
    return render(
        request,
        "bingo/dashboard.html",
        {
            "word_lists": user.word_lists.all(),
            "card_settings": settings_for(user),
            "prints": user.card_prints.select_related("word_list")[:5],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def word_list_new(request: HttpRequest) -> HttpResponse:
    form = WordListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            word_list = form.save(commit=False)
            word_list.owner = request.user
            word_list.save()
            onboarding.track(
                request.user,
                FLOW,
                "word_list",
                kind=WORD_LIST_CREATED,
                properties={"words": len(word_list.word_items)},
                source="web",
            )
        return redirect("bingo:customize")
    return render(request, "bingo/word_list_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def customize(request: HttpRequest) -> HttpResponse:
    """The card form, plus a "use defaults and continue" button that applies the default."""
    if request.method == "POST" and "use_defaults" in request.POST:
        onboarding.accept_default(request.user, FLOW, "customize", source="web")
        return redirect("bingo:print")
    form = CardSettingsForm(request.POST or None, instance=settings_for(request.user))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            onboarding.complete(request.user, FLOW, "customize", source="web")
        return redirect("bingo:print")
    return render(
        request,
        "bingo/customize.html",
        {"form": form, "default_label": BINGO.step("customize").default_label},
    )


@login_required
@require_http_methods(["GET", "POST"])
def print_cards(request: HttpRequest) -> HttpResponse:
    """Download N shuffled cards as a printable HTML file."""
    card_settings = settings_for(request.user)
    form = PrintForm(request.POST or None, owner=request.user, card_settings=card_settings)
    if request.method == "POST" and form.is_valid():
        word_list, count = form.cleaned_data["word_list"], form.cleaned_data["cards"]
        with transaction.atomic():
            printed = CardPrint.objects.create(owner=request.user, word_list=word_list, cards=count)
            onboarding.track(
                request.user,
                FLOW,
                "print",
                kind=CARDS_PRINTED,
                properties={"cards": count, "grid_size": card_settings.grid_size},
                source="web",
            )
        cards = make_cards(word_list.word_items, card_settings, count, seed=printed.pk)
        content = render_to_string(
            "bingo/cards.html", {"cards": cards, "settings": card_settings}, request=request
        )
        response = HttpResponse(content, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, "bingo-cards.html")
        return response
    return render(request, "bingo/print.html", {"form": form, "card_settings": card_settings})


@login_required
def embedded(request: HttpRequest) -> HttpResponse:
    """A partner page meant for another origin (``runserver 8001``): its widget talks to
    the demo on DEMO_API_ORIGIN with a signed embed token, not the session."""
    return render(
        request,
        "bingo/embedded.html",
        {"api_origin": getattr(settings, "DEMO_API_ORIGIN", "http://localhost:8000")},
    )
