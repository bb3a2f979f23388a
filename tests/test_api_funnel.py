"""GET flows/{flow}/funnel/: the funnel report as JSON and CSV, for view_funnel or read keys."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from onboarding import track
from onboarding.api.embed import make_embed_token
from onboarding.api.keys import create_key
from onboarding.funnel import FunnelQuery
from onboarding.funnel.export import FUNNEL_HEADER
from onboarding.models import Progress
from tests.factories import UserFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)
URL = "/onboarding/api/flows/wizard/funnel/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


@pytest.fixture
def log():
    """Three subjects: one finishes (defaulting the project), one stops after the
    profile, one after signing up."""
    first, second, third = UserFactory.create_batch(3)
    for step, seconds, kind in [
        ("signup", 0, "completed"),
        ("profile", 60, "completed"),
        ("project", 300, "defaulted"),
        ("publish", 900, "completed"),
    ]:
        track(first, "wizard", step, kind=kind, occurred_at=T0 + timedelta(seconds=seconds))
    track(second, "wizard", "signup", occurred_at=T0)
    track(second, "wizard", "profile", occurred_at=T0 + timedelta(seconds=120))
    track(third, "wizard", "signup", occurred_at=T0 + timedelta(days=2))
    return first, second, third


@pytest.fixture
def analyst():
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    client = APIClient()
    client.force_login(user)
    return client


def rows(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_route_name():
    assert reverse("onboarding:api:funnel", args=["wizard"]) == URL


def test_json_report_gives_the_funnels_numbers(log, analyst):
    response = analyst.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["flow"], body["ordered"], body["entered"], body["finished"]) == (
        "wizard",
        True,
        3,
        1,
    )
    assert body["finish_rate"] == pytest.approx(1 / 3)
    assert body["median_seconds_to_finish"] == 900.0
    assert body["filters"] == {
        "entered_from": None,
        "entered_to": None,
        "window_days": 14,
        "variants": [],
        "versions": [],
        "breakdown": None,
    }
    steps = {step["key"]: step for step in body["steps"]}
    assert [
        steps[key]["reached"] for key in ["signup", "profile", "project", "invite", "publish"]
    ] == [
        3,
        2,
        1,
        0,
        1,
    ]
    profile = steps["profile"]
    assert profile["previous"] == "signup"
    assert profile["conversion_from_previous"] == pytest.approx(2 / 3)
    assert profile["drop_off"] == 1
    assert (profile["median_seconds"], profile["p90_seconds"]) == (60.0, 120.0)
    assert (steps["project"]["defaulted"], steps["project"]["defaulted_share"]) == (1, 1.0)
    assert steps["invite"]["median_seconds"] is None
    assert (body["groups"], body["comparison"]) == ([], None)
    assert body["source"] == "exact"
    assert body["fresh_as_of"] == body["computed_at"]


@pytest.mark.parametrize(
    "extra", [{"data": {"format": "csv"}}, {"HTTP_ACCEPT": "text/csv"}], ids=["format", "accept"]
)
def test_csv_report_by_format_or_accept(log, analyst, extra):
    response = analyst.get(URL, **extra)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="funnel-wizard.csv"'
    table = rows(response)
    assert table[0] == FUNNEL_HEADER
    profile = next(row for row in table if row[1] == "profile")
    assert profile == [
        "",
        "profile",
        "Fill in your profile",
        "0",
        "signup",
        "2",
        "0.6667",
        "0.6667",
        "1",
        "0",
        "0.0000",
        "60",
        "120",
    ]
    assert table[-1][:6] == ["", "finished", "", "0", "", "1"]


def test_filters_narrow_the_population_and_are_echoed(log, analyst):
    response = analyst.get(URL, {"entered_from": "2025-03-04", "window_days": "3"})

    body = response.json()
    assert (body["entered"], body["finished"]) == (1, 0)
    assert body["filters"]["entered_from"] == "2025-03-04"
    assert body["filters"]["window_days"] == 3


def test_breakdown_by_variant_compares_the_two(log, analyst):
    variants = sorted(Progress.objects.values_list("variant", flat=True))

    body = analyst.get(URL, {"breakdown": "variant"}).json()

    groups = {group["group"]: group["entered"] for group in body["groups"]}
    assert sum(groups.values()) == 3
    assert all(groups.get(name, 0) == variants.count(name) for name in ("shown", "hidden"))
    comparison = body["comparison"]
    assert (comparison["a"], comparison["b"]) == ("hidden", "shown")
    assert comparison["entered_a"] + comparison["entered_b"] == 3
    assert isinstance(comparison["verdict"], str) and comparison["verdict"]


def test_variant_filter_takes_repeats_or_commas(log, analyst):
    variant = Progress.objects.values_list("variant", flat=True).first()
    expected = Progress.objects.filter(variant=variant).count()

    one = analyst.get(URL, {"variant": variant}).json()
    both = analyst.get(URL + "?variant=shown,hidden").json()
    repeated = analyst.get(URL + "?variant=shown&variant=hidden").json()

    assert one["entered"] == expected
    assert one["filters"]["variants"] == [variant]
    assert both["entered"] == repeated["entered"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"window_days": "0"}, "window_days"),
        ({"entered_from": "yesterday"}, "entered_from"),
        ({"breakdown": "colour"}, "breakdown"),
        ({"version": "one"}, "version"),
        ({"entered_from": "2025-03-05", "entered_to": "2025-03-04"}, "entered_to"),
    ],
)
def test_invalid_filters_are_400_naming_them_even_for_csv(analyst, query, field):
    response = analyst.get(URL, query | {"format": "csv"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()


def test_unknown_flow_is_404(analyst):
    response = analyst.get("/onboarding/api/flows/nope/funnel/")

    assert response.status_code == 404
    assert "'nope'" in response.json()["detail"]


def test_the_report_matches_the_query_layer(log, analyst):
    expected = FunnelQuery(flow="wizard", breakdown="version").run()

    body = analyst.get(URL, {"breakdown": "version"}).json()

    assert body["entered"] == expected.entered
    assert [g["group"] for g in body["groups"]] == list(expected.groups)
    assert [s["reached"] for s in body["groups"][0]["steps"]] == [
        s.reached for s in next(iter(expected.groups.values())).steps
    ]


def test_anonymous_is_401_and_a_user_without_the_permission_403(log, user):
    client = APIClient()
    assert client.get(URL).status_code == 401
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 403
    assert "onboarding.view_funnel" in response.json()["detail"]


def test_a_superuser_may_read_the_funnel(log):
    client = APIClient()
    client.force_login(UserFactory(is_superuser=True))

    assert client.get(URL).json()["entered"] == 3


def test_a_read_key_may_and_an_ingest_key_may_not(log):
    _read, read_key = create_key("bi", scopes=["read"])
    _ingest, ingest_key = create_key("crm", scopes=["ingest"])
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {read_key}")
    read = client.get(URL, {"format": "csv"})
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ingest_key}")
    ingest = client.get(URL)

    assert read.status_code == 200
    assert rows(read)[0] == FUNNEL_HEADER
    assert ingest.status_code == 403


def test_an_embed_token_never_reads_the_funnel(log):
    superuser = UserFactory(is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Embed {make_embed_token(superuser)}")

    assert client.get(URL).status_code == 403


def test_a_report_answered_by_the_rollup_says_so(log, analyst):
    from onboarding.rollups.build import refresh_rollup

    refresh_rollup("wizard", rebuild=True)

    body = analyst.get(URL).json()

    assert (body["source"], body["entered"], body["finished"]) == ("rollup", 3, 1)
    assert body["fresh_as_of"] is not None
    assert body["stale_cohorts"] == []


def test_a_report_names_the_cohorts_a_late_event_made_stale(log, analyst):
    from onboarding.rollups.build import refresh_rollup

    refresh_rollup("wizard", rebuild=True)
    track(UserFactory(), "wizard", "signup", occurred_at=T0)  # imported after the count

    body = analyst.get(URL).json()
    assert (body["source"], body["entered"], body["stale_cohorts"]) == ("rollup", 3, ["2025-03-03"])

    refresh_rollup("wizard")
    body = analyst.get(URL).json()
    assert (body["source"], body["entered"], body["stale_cohorts"]) == ("rollup", 4, [])


def test_breakdown_by_variant_has_the_experiment(log, analyst):
    body = analyst.get(URL, {"breakdown": "variant"}).json()

    experiment = body["experiment"]
    assert (experiment["method"], experiment["control"], experiment["primary_metric"]) == (
        "sequential",
        "hidden",
        "finished",
    )
    split = experiment["sample_ratio"]
    assert split["variants"] == ["shown", "hidden"]
    assert sum(split["observed"]) == 3 and split["expected_shares"] == [0.5, 0.5]
    assert split["mismatch"] is False
    assert split["message"].endswith("the split is as declared.")
    metrics = [(one["variant"], one["metric"], one["primary"]) for one in experiment["comparisons"]]
    assert metrics[0] == ("shown", "finished", True)
    assert [metric for _variant, metric, _primary in metrics[1:]] == [
        "signup",
        "profile",
        "project",
        "invite",
    ]  # not publish: its reach is finishing (the primary), judged once
    assert all(one["family"] == 4 for one in experiment["comparisons"][1:])
    plan = experiment["plan"]
    assert plan["method"] == "sequential" and plan["effect"] == 0.02
    assert plan["needed_per_variant"] > 0 and plan["message"]
    assert len(experiment["verdicts"]) == 1
    assert body["comparison"]["method"] == "sequential"
    assert body["comparison"]["verdict"] == experiment["verdicts"][0]


def test_the_fixed_test_is_an_option_and_a_bad_one_is_named(log, analyst):
    body = analyst.get(URL, {"breakdown": "variant", "test": "fixed"}).json()
    assert body["experiment"]["method"] == body["comparison"]["method"] == "fixed"
    assert "valid only if the sample size was fixed" in body["experiment"]["method_note"]

    response = analyst.get(URL, {"breakdown": "variant", "test": "bayes"})
    assert response.status_code == 400
    assert "test" in response.json()


def test_without_a_variant_breakdown_there_is_no_experiment(log, analyst):
    assert analyst.get(URL).json()["experiment"] is None
