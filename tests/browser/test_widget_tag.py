"""The widget's template tag, shipped files and size, without a browser."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import engines
from django.test import RequestFactory
from django.utils import translation

from onboarding.api.embed import read_embed_token
from onboarding.progress import get_progress
from onboarding.tracking import complete, track

ROOT = Path(__file__).resolve().parents[2]
TAG = engines["django"].from_string(
    "{% load onboarding_widget %}{% onboarding_widget flow mode=mode variant=variant "
    "hide_finished=hide origin=origin %}"
)


def render(user, flow="wizard", *, mode="full", variant="", hide=False, origin="", lang="en"):
    request = RequestFactory().get("/")
    request.user = user
    context = {"flow": flow, "mode": mode, "variant": variant, "hide": hide, "origin": origin}
    with translation.override(lang):
        return TAG.render(context, request)


@pytest.mark.parametrize("name", ["widget.js", "widget.css"])
def test_the_package_ships_the_source_unchanged(name):
    # `make static` copies static/onboarding/ into the package that the wheel carries.
    assert filecmp.cmp(
        ROOT / "static/onboarding" / name,
        ROOT / "onboarding/static/onboarding" / name,
        shallow=False,
    )


def test_the_script_carries_every_text_in_english_for_elements_written_by_hand():
    """widget.js words an element without the tag's JSON child with its own English
    texts: they are the tag's texts, so the two never drift apart."""
    from onboarding.templatetags.onboarding_widget import widget_strings

    def leaves(value):
        if isinstance(value, dict):
            return [text for inner in value.values() for text in leaves(inner)]
        return [value]

    script = (ROOT / "static/onboarding/widget.js").read_text(encoding="utf-8")
    with translation.override("en"):
        texts = [str(text) for text in leaves(widget_strings())]

    assert len(texts) == 17
    assert [text for text in texts if f"'{text}'" not in script] == []


def test_js_and_css_stay_within_6_kb_gzipped():
    spec = importlib.util.spec_from_file_location("widget_size", ROOT / "bench/widget_size.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    assert sum(packed for _raw, packed in bench.sizes().values()) <= 6 * 1024


def test_the_tag_renders_the_first_state_with_a_csrf_token(user):
    complete(user, "wizard", "signup")

    html = render(user)

    assert '<template shadowrootmode="open">' in html
    assert 'aria-valuenow="1"' in html and 'aria-valuemax="4"' in html
    assert "1 of 4 done, about 110 seconds left" in html
    assert ' csrf="' in html and " token=" not in html
    assert 'api="/onboarding/api/"' in html
    assert '<script type="module" src="/static/onboarding/widget.js">' in html


def test_anonymous_users_get_nothing(db):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    assert TAG.render({"flow": "wizard"}, request).strip() == ""


def test_the_variant_decides_whether_it_shows(user):
    variant = get_progress(user, "wizard").variant
    other = "hidden" if variant == "shown" else "shown"

    assert "onboarding-progress" in render(user, variant=variant)
    assert render(user, variant=other).strip() == ""


def test_finished_flows_can_be_hidden(user):
    for step in ("a", "b", "c"):
        complete(user, "checklist", step)

    assert "All done. Welcome aboard!" in render(user, "checklist")
    assert render(user, "checklist", hide=True).strip() == ""


def test_a_dismissed_widget_stays_away(user, other_user):
    track(user, "wizard", kind="widget_dismissed")

    assert render(user).strip() == ""
    assert "onboarding-progress" in render(other_user)


def test_cross_origin_the_tag_hands_a_token_for_the_user_and_no_csrf(user):
    html = render(user, origin="https://app.example.com/")

    token = html.split(' token="', 1)[1].split('"', 1)[0]
    assert read_embed_token(token).user == user
    assert 'api="https://app.example.com/onboarding/api/"' in html
    assert " csrf=" not in html


def test_strings_come_in_the_active_language(user):
    html = render(user, lang="de")

    assert 'lang="de"' in html
    assert "0 von 4 erledigt, noch etwa 140 Sekunden" in html
    assert "Überspringen" in html
