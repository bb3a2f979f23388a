"""Benchmark: events per second into the event table, three ways, in one run on PostgreSQL.

    .venv/bin/python bench/api_ingest.py [--events 5000] [--rounds 3] [--batch 100]

1. raw: psycopg ``executemany`` of INSERTs into ``onboarding_event`` (rows only: no
   validation, no progress), one transaction per batch: the ceiling.
2. track_many: the Python bulk API, one call (one transaction) per batch.
3. API: ``POST /onboarding/api/events/`` with an API key naming each event's subject,
   through Django's WSGI handler in this process (the test client: the whole request
   path of middleware, authentication, throttling, bounded JSON parsing, validation
   and ``track_many``; no network).

Every way inserts the same number of fresh events in batches of the same size, over
the same subjects, taking turns batch by batch so that the load of a shared machine
falls on all alike. Prints events/s and the ratios against raw (targets: API >= 20 %,
track_many >= 50 %). Uses a throw-away database, created and dropped
(``ONBOARDING_TEST_POSTGRES_URL``, default the local server).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["ONBOARDING_TEST_DATABASE"] = "postgres"
DB_NAME = "test_onboarding_bench_api_ingest"
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
STEPS = ["signup", "profile", "project", "invite", "publish"]
KINDS = ["viewed", "completed", "completed", "skipped"]
SUBJECTS_PER_BATCH = 20


def setup() -> None:
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": DB_NAME}
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": None}}
    settings.ALLOWED_HOSTS = ["testserver"]
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def teardown() -> None:
    from django.db import connection

    connection.creation.destroy_test_db(DB_NAME, verbosity=0)


def make_events(count: int, subjects: list[str], seed: int) -> list[dict[str, Any]]:
    """Events as an API client sends them; a batch names about 20 subjects."""
    rng = random.Random(seed)
    return [
        {
            "id": str(uuid.uuid4()),
            "flow": "wizard",
            "step": rng.choice(STEPS),
            "kind": rng.choice(KINDS),
            "occurred_at": (T0 + timedelta(seconds=rng.randrange(86_400))).isoformat(),
            "subject": {"type": "auth.user", "id": rng.choice(window(subjects, n // 100))},
        }
        for n in range(count)
    ]


def window(subjects: list[str], batch: int) -> list[str]:
    """The subjects of the ``batch``-th batch: consecutive batches move on."""
    start = (SUBJECTS_PER_BATCH * batch) % len(subjects)
    return subjects[start : start + SUBJECTS_PER_BATCH]


def batches(events: list[Any], size: int) -> list[list[Any]]:
    return [events[start : start + size] for start in range(0, len(events), size)]


Way = Callable[[list[dict[str, Any]]], int]


def raw_insert() -> Way:
    """The ceiling: plain rows into the same table, one transaction per batch."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from onboarding.models import FlowRecord

    flow = FlowRecord.objects.get(key="wizard")
    user_type = ContentType.objects.get_by_natural_key("auth", "user").pk
    sql = (
        "INSERT INTO onboarding_event (id, flow_id, step_key, subject_type_id, subject_id, "
        "actor_id, kind, occurred_at, received_at, variant, version_id, source, properties) "
        "VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s, '', %s, 'raw', %s)"
    )
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection Django holds

    def insert(batch: list[dict[str, Any]]) -> int:
        now = datetime.now(timezone.utc)
        rows = [
            (
                uuid.UUID(e["id"]),
                flow.pk,
                e["step"],
                user_type,
                e["subject"]["id"],
                e["kind"],
                datetime.fromisoformat(e["occurred_at"]),
                now,
                flow.current_version_id,
                "{}",
            )
            for e in batch
        ]
        with raw.transaction(), raw.cursor() as cursor:
            cursor.executemany(sql, rows)
        return len(batch)

    return insert


def bulk_track() -> Way:
    from django.contrib.auth import get_user_model

    from onboarding.tracking import EventInput, track_many

    users = get_user_model()._default_manager.in_bulk()

    def track(batch: list[dict[str, Any]]) -> int:
        return track_many(
            EventInput(
                who=users[int(e["subject"]["id"])],
                flow=e["flow"],
                step=e["step"],
                kind=e["kind"],
                occurred_at=datetime.fromisoformat(e["occurred_at"]),
                id=e["id"],
                source="bench",
            )
            for e in batch
        ).accepted

    return track


def api_post() -> Way:
    from django.test import Client

    from onboarding.api.keys import create_key

    _key, secret = create_key(f"bench-{uuid.uuid4().hex[:6]}", scopes=["ingest"])
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {secret}")

    def post(batch: list[dict[str, Any]]) -> int:
        response = client.post(
            "/onboarding/api/events/",
            json.dumps({"events": batch}),
            content_type="application/json",
        )
        if response.status_code != 200:
            raise SystemExit(f"API answered {response.status_code}: {response.content[:300]!r}")
        return int(response.json()["accepted"])

    return post


WAYS = {"raw": raw_insert, "track_many": bulk_track, "API": api_post}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=["raw", "track_many", "API"], help="cProfile one way")
    parser.add_argument("--sort", default="cumulative", help="pstats order of --profile")
    options = parser.parse_args()
    setup()
    try:
        run(options)
    finally:
        teardown()


def run(options: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from onboarding.sync import sync_flows

    sync_flows()
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=f"bench{n}") for n in range(options.subjects)
    )
    subjects = [str(user.pk) for user in users]
    ways = {name: make() for name, make in WAYS.items()}
    # Warm-up (imports, caches, first progress rows), not timed.
    for seed, way in enumerate(ways.values()):
        for batch in batches(make_events(200, subjects, seed=seed), options.batch):
            way(batch)
    if options.profile:
        import cProfile
        import pstats

        events = make_events(options.events, subjects, seed=99)
        profiler = cProfile.Profile()
        for batch in batches(events, options.batch):
            profiler.runcall(ways[options.profile], batch)
        pstats.Stats(profiler).sort_stats(options.sort).print_stats(45)
        return
    # Batch by batch in turn (the order rotating), so that any change of load on the
    # machine hits every way alike; each round has fresh events for each way.
    elapsed = {name: [0.0] * options.rounds for name in ways}
    for round_ in range(options.rounds):
        queues = {
            name: batches(
                make_events(options.events, subjects, seed=10 * round_ + n), options.batch
            )
            for n, name in enumerate(ways)
        }
        names = list(ways)
        for index in range(len(queues["raw"])):
            for name in names[index % 3 :] + names[: index % 3]:
                batch = queues[name][index]
                started = time.perf_counter()
                stored = ways[name](batch)
                elapsed[name][round_] += time.perf_counter() - started
                assert stored == len(batch), f"{name} stored {stored} of {len(batch)}"
    rates = {name: options.events * options.rounds / sum(times) for name, times in elapsed.items()}
    print(
        f"PostgreSQL {connection.pg_version // 10000}: {options.events} events per way and "
        f"round, {options.rounds} rounds, batches of {options.batch} (one transaction each) "
        f"naming {SUBJECTS_PER_BATCH} of {options.subjects} subjects; the ways take turns "
        "batch by batch. API: Django's WSGI handler through the test client, with an API key."
    )
    for name, rate in rates.items():
        runs = ", ".join(f"{options.events / value:.0f}" for value in elapsed[name])
        print(f"  {name:<10} {rate:9.0f} events/s   (rounds: {runs})")
    for name, target in (("track_many", 0.5), ("API", 0.2)):
        ratio = rates[name] / rates["raw"]
        verdict = "ok" if ratio >= target else "MISSED"
        print(f"  {name} / raw = {ratio:.0%} (target >= {target:.0%}): {verdict}")


if __name__ == "__main__":
    main()
