"""Benchmark: events per second into the event table, three ways, in one run on PostgreSQL.

    .venv/bin/python bench/api_ingest.py [--events 5000] [--rounds 3] [--batch 100]
    .venv/bin/python bench/api_ingest.py --preload 1000000 [--explain]

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

``--preload N`` first stores N subjects of the "wizard" flow (about 4.4 events each:
Progress, StepState, FunnelPath and Event rows, made by DuckDB and loaded by COPY as
``funnel.py`` does) and runs ANALYZE; then the comparison runs twice: with subjects new
to the flow (every batch names 20 that have no progress yet) and with preloaded subjects
receiving events. ``--explain`` prints the plan of every statement of one batch of
each (``auto_explain`` with ANALYZE and BUFFERS) and flags any sequential scan of the
onboarding tables.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
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


def make_events(
    count: int, subjects: list[str], seed: int, *, batch: int = 100, start: datetime = T0
) -> list[dict[str, Any]]:
    """Events as an API client sends them, within a day of ``start``; a batch of ``batch``
    names about 20 subjects."""
    rng = random.Random(seed)
    return [
        {
            "id": str(uuid.uuid4()),
            "flow": "wizard",
            "step": rng.choice(STEPS),
            "kind": rng.choice(KINDS),
            "occurred_at": (start + timedelta(seconds=rng.randrange(86_400))).isoformat(),
            "subject": {"type": "auth.user", "id": rng.choice(window(subjects, n // batch))},
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
# Events to preloaded subjects happen after theirs (entries over 180 days from January).
LATER = datetime(2025, 8, 1, 9, 0, tzinfo=timezone.utc)
# Tables whose plans must use an index at scale (--explain).
BIG_TABLES = ("onboarding_progress", "onboarding_stepstate", "onboarding_funnelpath",
              "onboarding_event")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--preload", type=int, default=0, help="subjects stored before timing")
    parser.add_argument(
        "--explain", action="store_true", help="plans of one batch per way instead of timing"
    )
    parser.add_argument("--profile", choices=["raw", "track_many", "API"], help="cProfile one way")
    parser.add_argument("--sort", default="cumulative", help="pstats order of --profile")
    options = parser.parse_args()
    setup()
    try:
        run(options)
    finally:
        teardown()


def preload(subjects: int) -> None:
    """Store ``subjects`` subjects of the wizard flow as ``track_many`` would have (see
    wizard_data.py) and their funnel rows, then VACUUM (ANALYZE); user ids made afterwards
    follow theirs."""
    import duckdb
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from wizard_data import generate, load_postgresql

    from onboarding.funnel.paths import rebuild_paths
    from onboarding.models import FlowRecord

    started = time.perf_counter()
    record = FlowRecord.objects.get(key="wizard")
    type_id = ContentType.objects.get_by_natural_key("auth", "user").pk
    duck = duckdb.connect()
    generate(duck, subjects, record.pk, record.current_version_id, type_id)
    (events,) = duck.execute("SELECT count(*) FROM event").fetchone()
    load_postgresql(duck, connection)
    duck.close()
    paths = rebuild_paths(["wizard"])
    with connection.cursor() as cursor:
        # Subjects are users 1..N: new users must not take their ids.
        cursor.execute("SELECT setval(pg_get_serial_sequence('auth_user', 'id'), %s)", [subjects])
        # As autovacuum would have left tables this old (hint bits and visibility map
        # set: a first read would dirty every page), and no dirty buffers of the load
        # left for the timed writes to flush.
        cursor.execute("VACUUM (ANALYZE)")
        cursor.execute("CHECKPOINT")
    print(
        f"Preloaded {subjects:,} subjects: {events:,} events, {paths:,} funnel rows "
        f"({time.perf_counter() - started:.0f} s with VACUUM (ANALYZE) and CHECKPOINT)."
    )


def create_users(count: int = 0, ids: list[int] | None = None) -> list[str]:
    """``count`` new users, or users of the given ids (preloaded subjects); their ids."""
    from django.contrib.auth import get_user_model

    model = get_user_model()
    if ids is None:
        tag = uuid.uuid4().hex[:8]
        users = [model(username=f"bench-{tag}-{n}") for n in range(count)]
    else:
        users = [model(pk=pk, username=f"subject{pk}") for pk in ids]
    return [str(user.pk) for user in model.objects.bulk_create(users, batch_size=2_000)]


Pools = Callable[[str, int], list[str]]


def phases(options: argparse.Namespace) -> list[tuple[str, Pools, datetime]]:
    """(title, the subjects of each way and round, when events happen) of each comparison.

    Without --preload: one, over the same 1,000 users for every way (progress rows made
    by the warm-up and the first batches). With it: subjects new to the flow (each way
    and round its own users, none named twice), then preloaded subjects.
    """
    if not options.preload:
        shared = create_users(options.subjects)
        return [("", lambda _name, _round: shared, T0)]
    size = SUBJECTS_PER_BATCH * -(-options.events // options.batch)
    keys = [(name, round_) for name in WAYS for round_ in range(options.rounds)]
    fresh = create_users(size * len(keys))
    rng = random.Random(7)
    preloaded = rng.sample(range(1, options.preload + 1), min(options.preload, size * len(keys)))
    old = create_users(ids=preloaded)
    new_pools = {key: fresh[n * size : (n + 1) * size] for n, key in enumerate(keys)}
    old_pools = {key: old[n * size : (n + 1) * size] or old for n, key in enumerate(keys)}
    return [
        ("new subjects", lambda name, round_: new_pools[(name, round_)], LATER),
        ("preloaded subjects", lambda name, round_: old_pools[(name, round_)], LATER),
    ]


def run(options: argparse.Namespace) -> None:
    from django.db import connection

    from onboarding.sync import sync_flows

    sync_flows()
    if options.preload:
        preload(options.preload)
    comparisons = phases(options)
    warm = create_users(SUBJECTS_PER_BATCH * 2 * len(WAYS))
    ways = {name: make() for name, make in WAYS.items()}
    # Warm-up (imports, caches, first progress rows), not timed.
    for seed, way in enumerate(ways.values()):
        pool = warm[SUBJECTS_PER_BATCH * 2 * seed : SUBJECTS_PER_BATCH * 2 * (seed + 1)]
        for batch in batches(make_events(200, pool, seed=seed, batch=options.batch), options.batch):
            way(batch)
    if options.explain:
        for title, pools, start in comparisons:
            for name, way in ways.items():
                events = make_events(options.batch, pools(name, 0), seed=5, start=start)
                explain(f"{name}, {title or 'one batch'}", way, events)
        return
    if options.profile:
        import cProfile
        import pstats

        _title, pools, start = comparisons[-1]
        events = make_events(options.events, pools(options.profile, 0), seed=99, start=start)
        profiler = cProfile.Profile()
        for batch in batches(events, options.batch):
            profiler.runcall(ways[options.profile], batch)
        pstats.Stats(profiler).sort_stats(options.sort).print_stats(45)
        return
    print(
        f"PostgreSQL {connection.pg_version // 10000}: {options.events} events per way and "
        f"round, {options.rounds} rounds, batches of {options.batch} (one transaction each) "
        f"naming {SUBJECTS_PER_BATCH} subjects; the ways take turns batch by batch. "
        "API: Django's WSGI handler through the test client, with an API key."
    )
    for title, pools, start in comparisons:
        elapsed = compare(ways, pools, start, options)
        report(title or f"{options.subjects} subjects", elapsed, options.events)


def compare(
    ways: dict[str, Way], pools: Pools, start: datetime, options: argparse.Namespace
) -> dict[str, list[float]]:
    """Seconds each way took in each round."""
    # Batch by batch in turn (the order rotating), so that any change of load on the
    # machine hits every way alike; each round has fresh events for each way.
    elapsed = {name: [0.0] * options.rounds for name in ways}
    for round_ in range(options.rounds):
        queues = {
            name: batches(
                make_events(
                    options.events,
                    pools(name, round_),
                    seed=10 * round_ + n,
                    batch=options.batch,
                    start=start,
                ),
                options.batch,
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
    return elapsed


def report(title: str, elapsed: dict[str, list[float]], events: int) -> None:
    """Events/s of each way (over all rounds, and per round) and the ratios to raw."""
    print(f"{title}:")
    rates = {name: events * len(times) / sum(times) for name, times in elapsed.items()}
    for name, times in elapsed.items():
        runs = ", ".join(f"{events / value:.0f}" for value in times)
        print(f"  {name:<10} {rates[name]:9.0f} events/s   (rounds: {runs})")
    for name, target in (("track_many", 0.5), ("API", 0.2)):
        ratio = rates[name] / rates["raw"]
        verdict = "ok" if ratio >= target else "MISSED"
        print(f"  {name} / raw = {ratio:.0%} (target >= {target:.0%}): {verdict}")


def explain(title: str, way: Way, events: list[dict[str, Any]]) -> None:
    """Run one batch with ``auto_explain`` (ANALYZE, BUFFERS) in this session; print
    each plan that touches an onboarding table, flagging sequential scans."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    plans: list[str] = []

    def collect(diagnostic: Any) -> None:
        plans.append(diagnostic.message_primary or "")

    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        for setting, value in (("log_analyze", "on"), ("log_buffers", "on"),
                               ("log_level", "notice"), ("log_min_duration", "0")):  # fmt: skip
            cursor.execute(f"SET auto_explain.{setting} = {value}")
    raw.add_notice_handler(collect)
    try:
        way(events)
    finally:
        raw.remove_notice_handler(collect)
        with connection.cursor() as cursor:
            cursor.execute("SET auto_explain.log_min_duration = -1")
    # Statements run more than once (raw's executemany, the foreign key checks at
    # commit) are shown once, with their count; every plan is checked for scans.
    print(f"==== {title}")
    shown: dict[str, int] = {}
    total = checks_ms = 0.0
    for plan in plans:
        took = float(plan.partition("duration: ")[2].partition(" ms")[0] or 0)
        total += took
        text = plan.partition("Query Text: ")[2].partition("\n")[0]
        text = re.sub(r"'[^']*'|\b\d+\b", "?", text)  # literals bound in the client
        if "onboarding_" in plan and text not in shown:
            print(plan)
        shown[text] = shown.get(text, 0) + 1
        checks_ms += took if text.startswith("SELECT ? FROM ONLY") else 0.0
        scans = [t for t in BIG_TABLES if re.search(rf"Seq Scan on {t}\b", plan)]
        if scans:
            print(f"!!!! SEQ SCAN of {', '.join(scans)} in: {text[:200]}")
    checks = sum(count for text, count in shown.items() if text.startswith("SELECT ? FROM ONLY"))
    print(
        f"---- {len(plans)} plans, {len(shown)} distinct statements, executor {total:.1f} ms "
        f"(of which {checks} foreign key checks at commit: {checks_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
