"""Benchmark: a funnel request for a range far beyond the data against the data's own range.

    .venv/bin/python bench/request_cost.py [--subjects 3000] [--weeks 26] [--repeat 5]
    .venv/bin/python bench/request_cost.py --postgres

Stores ``--subjects`` wizard subjects entering over ``--weeks`` weeks (``track_many``,
in a throw-away database: SQLite in memory, or PostgreSQL with ``--postgres``), then
times each surface with ``breakdown=entry_week`` for the data's own range and for
1470-01-01 to 2421-12-31, in turns (so a shared machine's load falls on both alike):
the API as JSON and CSV, the admin funnel page and its cohorts CSV. Prints the median
of ``--repeat`` calls of each, the groups each built and the ratio far / own; the
target is a ratio within noise of 1 (before the range was cut to the data, 1800-2026
alone took 51 s on SQLite against well under a second).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
DB_NAME = "test_onboarding_bench_request_cost"
START = datetime(2025, 1, 6, 9, 0, tzinfo=dt_timezone.utc)  # a Monday
STEPS = ["signup", "profile", "project", "invite", "publish"]
FAR = {"entered_from": "1470-01-01", "entered_to": "2421-12-31", "breakdown": "entry_week"}


def setup(postgres: bool) -> None:
    if postgres:
        os.environ["ONBOARDING_TEST_DATABASE"] = "postgres"
    import django
    from django.conf import settings

    if postgres:
        settings.DATABASES["default"]["TEST"] = {"NAME": DB_NAME}
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": None}}
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def load(subjects: int, weeks: int) -> tuple[str, str]:
    """Store the subjects; return the data's own first and last entry dates."""
    from onboarding import EventInput, track_many
    from tests.factories import UserFactory

    rng = random.Random(7)
    users = UserFactory.create_batch(subjects)
    batch: list[EventInput] = []
    first, last = None, None
    for user in users:
        entry = START + timedelta(seconds=rng.randrange(weeks * 7 * 86_400))
        first = min(first or entry, entry)
        last = max(last or entry, entry)
        at = entry
        for step in STEPS[: rng.randrange(1, len(STEPS) + 1)]:
            batch.append(EventInput(who=user, flow="wizard", step=step, occurred_at=at))
            at += timedelta(minutes=rng.randrange(1, 600))
        if len(batch) >= 500:
            track_many(batch)
            batch = []
    if batch:
        track_many(batch)
    assert first is not None and last is not None
    return first.date().isoformat(), last.date().isoformat()


def clients() -> tuple[object, object]:
    from django.contrib.auth.models import Permission
    from django.test import Client
    from rest_framework.test import APIClient

    from onboarding.sync import sync_flows
    from tests.factories import UserFactory

    sync_flows()
    analyst = UserFactory(is_staff=True)
    analyst.user_permissions.add(Permission.objects.get(codename="view_funnel"))
    api, admin = APIClient(), Client()
    api.force_login(analyst)
    admin.force_login(analyst)
    return api, admin


def surfaces(api: object, admin: object) -> dict[str, object]:
    """Each surface as a function of the query parameters, returning (status, groups)."""
    from django.urls import reverse

    from onboarding.models import FlowRecord

    pk = FlowRecord.objects.get(key="wizard").pk
    page = reverse("admin:onboarding_flowrecord_funnel", args=[pk])
    cohorts = reverse("admin:onboarding_flowrecord_funnel_csv", args=[pk, "cohorts"])
    url = "/onboarding/api/flows/wizard/funnel/"

    def api_json(params: dict) -> tuple[int, int]:
        response = api.get(url, params)  # type: ignore[attr-defined]
        return response.status_code, len(response.json()["groups"])

    def api_csv(params: dict) -> tuple[int, int]:
        response = api.get(url, {**params, "format": "csv"})  # type: ignore[attr-defined]
        groups = {line.split(",")[0] for line in response.content.decode().splitlines()[1:]}
        return response.status_code, len(groups - {""})

    def admin_page(params: dict) -> tuple[int, int]:
        response = admin.get(page, params)  # type: ignore[attr-defined]
        return response.status_code, len(response.context["report"].cohorts.rows)

    def admin_cohorts_csv(params: dict) -> tuple[int, int]:
        response = admin.get(cohorts, params)  # type: ignore[attr-defined]
        return response.status_code, len(response.content.decode().splitlines()) - 1

    return {
        "API JSON": api_json,
        "API CSV": api_csv,
        "admin page": admin_page,
        "admin cohorts CSV": admin_cohorts_csv,
    }


def timed(call, params: dict) -> tuple[float, tuple[int, int]]:
    started = time.perf_counter()
    answer = call(params)
    return time.perf_counter() - started, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=3000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    setup(args.postgres)
    from django.db import connection

    try:
        first, last = load(args.subjects, args.weeks)
        own = {"entered_from": first, "entered_to": last, "breakdown": "entry_week"}
        api, admin = clients()
        print(
            f"{connection.vendor}, {args.subjects} subjects over {args.weeks} weeks "
            f"({first} to {last}); median of {args.repeat}"
        )
        print(f"{'surface':<20} {'own range':>10} {'far range':>10} {'ratio':>6}  groups")
        for name, call in surfaces(api, admin).items():
            call(own), call(FAR)  # warm-up
            own_times, far_times = [], []
            for _ in range(args.repeat):
                seconds, own_answer = timed(call, own)
                own_times.append(seconds)
                seconds, far_answer = timed(call, FAR)
                far_times.append(seconds)
            assert own_answer[0] == far_answer[0] == 200, (own_answer, far_answer)
            own_median, far_median = statistics.median(own_times), statistics.median(far_times)
            print(
                f"{name:<20} {own_median * 1000:>8.1f}ms {far_median * 1000:>8.1f}ms "
                f"{far_median / own_median:>6.2f}  {own_answer[1]} / {far_answer[1]}"
            )
    finally:
        if args.postgres:
            connection.creation.destroy_test_db(DB_NAME, verbosity=0)


if __name__ == "__main__":
    main()
