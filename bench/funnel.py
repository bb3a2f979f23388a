"""Benchmark: the funnel at 100k and 1M subjects, exact path, rollup and DuckDB.

    .venv/bin/pip install -e .[bench]
    .venv/bin/python bench/funnel.py                 # SQLite 100k, PostgreSQL 100k and 1M
    .venv/bin/python bench/funnel.py --only sqlite:100000

Generates subjects of the test suite's "wizard" flow (5 steps, one optional, 2
variants, about 4.4 events each) with DuckDB, loads the same rows into a throwaway
database (PostgreSQL ``onboarding_bench_funnel`` via COPY into tables without indexes,
dropped afterwards; or a temporary SQLite file via executemany) as Progress, StepState
and Event rows as ``track_many`` stores them, builds the funnel rows (``rebuild_paths``,
timed), and times the funnel and the admin funnel page. The same funnel runs in DuckDB
over the same rows, for the ratio. Prints a table with the targets of issue 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

PG_URL = "postgres://postgres@127.0.0.1:5432/onboarding_bench_funnel"
START = date(2025, 1, 1)
DAYS = 180
STEPS = ("signup", "profile", "project", "invite", "publish")
# (what, backend, subjects) -> target in seconds
TARGETS = {
    ("exact, default window", "postgresql", 1_000_000): 1.0,
    ("exact, ad-hoc window and filter", "postgresql", 1_000_000): 1.0,
    ("rollup, default window", "postgresql", 1_000_000): 0.3,
    ("exact, default window", "sqlite", 100_000): 0.3,
    ("exact, ad-hoc window and filter", "sqlite", 100_000): 0.3,
    ("admin funnel page", "postgresql", 1_000_000): 1.0,
}


def generate(duck, subjects: int, flow_id: int, version_id: int, type_id: int) -> None:
    """Subjects, their step states and events, in DuckDB tables ``progress``,
    ``step_state`` and ``event`` shaped like the Django tables."""
    exp = "to_microseconds(CAST(-ln(1 - {u}) * {mean} AS BIGINT))"
    duck.execute("SELECT setseed(0.42)")
    duck.execute(
        f"""CREATE TABLE s AS SELECT i + 1 AS id,
        CASE WHEN random() < 0.5 THEN 'shown' ELSE 'hidden' END AS variant,
        TIMESTAMP '{START}' + to_microseconds(CAST(random() * {DAYS} * 86400e6 AS BIGINT)) AS e,
        random() u1, random() u2, random() u3, random() u4, random() u5, random() u6,
        random() v1, random() v2, random() v3, random() v4
        FROM range({subjects}) t(i)"""
    )
    # Profile about 10 min after entry, project 1 h after entry (so sometimes before
    # the profile: out of order), invite 3 days and publish 4 days after the project
    # (a few past the 14-day window). The project converts better with the bar shown.
    duck.execute(
        f"""CREATE TABLE subj AS SELECT id, variant, e, e AS t0,
        CASE WHEN u1 < 0.86 THEN e + {exp.format(u="v1", mean="600e6")} END AS t1,
        CASE WHEN u1 < 0.86 AND u2 < CASE variant WHEN 'shown' THEN 0.9 ELSE 0.82 END
             THEN e + {exp.format(u="v2", mean="3600e6")} END AS t2,
        u3, u4, u5, u6, v3, v4 FROM s"""
    )
    duck.execute(
        f"""CREATE OR REPLACE TABLE subj AS SELECT id, variant, e, t0, t1, t2,
        CASE WHEN t2 IS NOT NULL AND u3 < 0.45 THEN t2 + {exp.format(u="v3", mean="259200e6")}
             END AS t3,
        CASE WHEN t2 IS NOT NULL AND u4 < 0.8 THEN t2 + {exp.format(u="v4", mean="345600e6")}
             END AS t4,
        CASE WHEN u5 < 0.3 THEN 'defaulted' ELSE 'completed' END AS o2,
        CASE WHEN u6 < 0.88 THEN e + INTERVAL 1 SECOND END AS seen
        FROM subj"""
    )
    duck.execute("DROP TABLE s")
    duck.execute(
        f"""CREATE TABLE progress AS SELECT id, {flow_id} AS flow_id, {version_id} AS version_id,
        {type_id} AS subject_type_id, CAST(id AS VARCHAR) AS subject_id,
        'user ' || id AS subject_label, variant, e AS entered_at,
        CASE WHEN t1 IS NOT NULL AND t2 IS NOT NULL AND t4 IS NOT NULL
             THEN greatest(t0, t1, t2, t4) END AS finished_at,
        greatest(t0, t1, t2, t3, t4, seen) AS last_event_at, now()::TIMESTAMP AS updated_at
        FROM subj"""
    )
    states = [
        f"SELECT id AS progress_id, '{key}' AS step_key, "
        f"{'o2' if key == 'project' else repr('completed')} AS outcome, t{i} AS completed_at, "
        f"{'seen' if key == 'profile' else 'NULL'} AS first_seen_at FROM subj "
        f"WHERE t{i} IS NOT NULL"
        for i, key in enumerate(STEPS)
    ]
    states.append(
        "SELECT id, 'profile', '', NULL, seen FROM subj WHERE t1 IS NULL AND seen IS NOT NULL"
    )
    duck.execute(
        "CREATE TABLE step_state AS SELECT row_number() OVER () AS id, *, "
        f"NULL::TIMESTAMP AS skipped_at FROM ({' UNION ALL '.join(states)})"
    )
    events = [
        f"SELECT id, '{key}' AS step_key, {'o2' if key == 'project' else repr('completed')} "
        f"AS kind, t{i} AS ts, variant FROM subj WHERE t{i} IS NOT NULL"
        for i, key in enumerate(STEPS)
    ]
    events.append("SELECT id, 'profile', 'viewed', seen, variant FROM subj WHERE seen IS NOT NULL")
    duck.execute(
        "CREATE TABLE event AS SELECT uuid() AS id, "
        f"{flow_id} AS flow_id, step_key, {type_id} AS subject_type_id, "
        "CAST(id AS VARCHAR) AS subject_id, NULL::BIGINT AS actor_id, kind, ts AS occurred_at, "
        f"ts AS received_at, variant, {version_id} AS version_id, 'server' AS source, "
        f"'{{}}' AS properties FROM ({' UNION ALL '.join(events)})"
    )
    duck.execute("DROP TABLE subj")


COLUMNS = {
    "progress": (
        "onboarding_progress",
        "id, flow_id, version_id, subject_type_id, subject_id, subject_label, variant, "
        "entered_at, finished_at, last_event_at, updated_at",
    ),
    "step_state": (
        "onboarding_stepstate",
        "id, progress_id, step_key, outcome, completed_at, first_seen_at, skipped_at",
    ),
    "event": (
        "onboarding_event",
        "id, flow_id, step_key, subject_type_id, subject_id, actor_id, kind, occurred_at, "
        "received_at, variant, version_id, source, properties",
    ),
}
TIMES = {"entered_at", "finished_at", "last_event_at", "updated_at", "completed_at",
         "first_seen_at", "skipped_at", "occurred_at", "received_at"}  # fmt: skip


def _select(duck_table: str, suffix: str) -> str:
    _table, columns = COLUMNS[duck_table]
    names = [name.strip() for name in columns.split(",")]
    parts = [
        f"strftime({name}, '%Y-%m-%d %H:%M:%S.%f'){suffix}" if name in TIMES else name
        for name in names
    ]
    return f"SELECT {', '.join(parts)} FROM {duck_table}"


def load_postgresql(duck, connection) -> None:
    """COPY each table from a CSV DuckDB writes (timestamps in UTC), into tables without
    indexes or constraints (maintaining them row by row costs most of a COPY); they
    are added back afterwards, each in one pass over the table."""
    tables = [table for table, _columns in COLUMNS.values()]
    with tempfile.TemporaryDirectory() as folder, connection.cursor() as wrapper:
        cursor = wrapper.cursor
        restore = _drop_indexes(cursor, tables)
        for name, (table, columns) in COLUMNS.items():
            path = Path(folder) / f"{name}.csv"
            select = _select(name, " || '+00'")
            duck.execute(f"COPY ({select}) TO '{path}' (HEADER false)")
            with (
                path.open("rb") as source,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in restore:
            cursor.execute(statement)
        for table in ("onboarding_progress", "onboarding_stepstate"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"
            )
        cursor.execute("ANALYZE")


def _drop_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop the indexes and constraints of ``tables`` (and foreign keys into them);
    the statements that add them back: keys first, then indexes, then foreign keys."""
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
        "FROM pg_constraint WHERE contype IN ('p', 'u', 'f') "
        "AND (conrelid = ANY(%s::regclass[]) OR confrelid = ANY(%s::regclass[]))",
        [tables, tables],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))",
        [tables],
    )
    indexes = cursor.fetchall()
    keys = [c for c in constraints if c[3] != "f"]
    foreign = [c for c in constraints if c[3] == "f"]
    for table, name, _definition, _kind in [*foreign, *keys]:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    add = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, _k in [*keys, *foreign]]
    return [*add[: len(keys)], *(definition for _name, definition in indexes), *add[len(keys) :]]


def load_sqlite(duck, connection) -> None:
    """executemany in one transaction, Django's text datetimes."""
    from django.db import transaction

    connection.ensure_connection()
    raw = connection.connection  # the sqlite3 connection: no per-row parameter adapting
    with transaction.atomic():
        cursor = raw.cursor()
        for name, (table, columns) in COLUMNS.items():
            marks = ", ".join(["?"] * len(columns.split(",")))
            result = duck.execute(_select(name, ""))
            while rows := result.fetchmany(50_000):
                if name == "event":
                    rows = [(str(row[0]), *row[1:]) for row in rows]
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def duckdb_funnel(duck, window_days: int) -> dict[str, tuple[float, list[object]]]:
    """The default-window funnel in DuckDB SQL, with the same rules as ours: from the
    step states (a join and a group per subject, as our exact path did before
    FunnelPath) and from the same per-subject rows as ours (built untimed)."""
    from onboarding.funnel.dialects import SQLiteDialect
    from onboarding.funnel.plan import plan_for
    from onboarding.funnel.sql import FunnelSQL
    from onboarding.registry import get_flow

    class DuckDialect(SQLiteDialect):
        def greatest(self, values: list[str]) -> str:
            return f"greatest({', '.join(values)})"

    plan = plan_for(get_flow("wizard"))
    sql = FunnelSQL(plan, DuckDialect(), window_days * 86_400_000_000)
    times = ", ".join(
        f"max(CASE WHEN s.step_key = '{step.key}' THEN epoch_us(s.completed_at) END) AS t{i}"
        for i, step in enumerate(plan.steps)
    )
    mask = " ".join(f"WHEN '{step.key}' THEN {1 << i}" for i, step in enumerate(plan.steps))
    flags = ", ".join(f"t{i}, (dm >> {i}) & 1 AS d{i}" for i in range(len(plan.steps)))
    columns = ["count(*)"]
    for step in plan.steps:
        reached = sql.reached(step.index)
        columns += [
            f"count(*) FILTER (WHERE {reached})",
            f"count(*) FILTER (WHERE {reached} AND d{step.index} = 1)",
            f"quantile_disc({sql.delta(step.index)}, [0.5, 0.9]) FILTER (WHERE {reached})",
        ]
    columns += [
        f"count(*) FILTER (WHERE {sql.finished()})",
        f"quantile_disc({sql.finish_delta()}, [0.5, 0.9]) FILTER (WHERE {sql.finished()})",
    ]
    pivot = (
        f"SELECT p.id, epoch_us(p.entered_at) AS e, {times}, "
        f"coalesce(sum(CASE WHEN s.outcome = 'defaulted' THEN CASE s.step_key {mask} END END), "
        f"0)::BIGINT AS dm FROM progress p LEFT JOIN step_state s ON s.progress_id = p.id "
        f"GROUP BY p.id, p.entered_at"
    )
    select = f"SELECT {', '.join(columns)} FROM base"
    joined = f"WITH pv AS ({pivot}), base AS (SELECT e, {flags} FROM pv) {select}"
    duck.execute(f"CREATE OR REPLACE TABLE path AS {pivot}")
    rows = f"WITH base AS (SELECT e, {flags} FROM path) {select}"
    return {
        "step states": best(lambda: duck.execute(joined).fetchall()),
        "path rows": best(lambda: duck.execute(rows).fetchall()),
    }


def admin_page(flow_pk: int):
    """A function that GETs the flow's admin funnel page (default filters) as a superuser,
    with Django's test client, and returns the status."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    url = reverse("admin:onboarding_flowrecord_funnel", args=[flow_pk])
    return lambda: client.get(url).status_code


def best(run, repeat: int = 3) -> tuple[float, object]:
    """The best of ``repeat`` timings (after one warm-up run) and the last result."""
    run()
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def run_one(backend: str, subjects: int) -> list[dict[str, object]]:
    import django
    import duckdb
    from django.conf import settings

    if backend == "postgresql":
        import dj_database_url
        import psycopg

        settings.DATABASES["default"] = dj_database_url.parse(PG_URL)
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS onboarding_bench_funnel")
            c.execute("CREATE DATABASE onboarding_bench_funnel")
    else:
        handle, name = tempfile.mkstemp(suffix=".sqlite3")
        os.close(handle)
        settings.DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    django.setup()
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection

    from onboarding.funnel import FunnelQuery
    from onboarding.funnel.paths import rebuild_paths
    from onboarding.models import FlowRecord
    from onboarding.rollups.build import refresh_rollup
    from onboarding.sync import sync_flows

    rows: list[dict[str, object]] = []

    def row(what: str, seconds: float, note: str = "") -> None:
        target = TARGETS.get((what, backend, subjects))
        rows.append({"backend": backend, "subjects": subjects, "what": what,
                     "seconds": seconds, "target": target, "note": note})  # fmt: skip

    try:
        call_command("migrate", verbosity=0)
        sync_flows()
        record = FlowRecord.objects.get(key="wizard")
        type_id = ContentType.objects.get(app_label="auth", model="user").pk
        duck = duckdb.connect()
        start = time.perf_counter()
        generate(duck, subjects, record.pk, record.current_version_id, type_id)
        events = duck.execute("SELECT count(*) FROM event").fetchone()[0]
        row(
            "generate (DuckDB)", time.perf_counter() - start, f"{events / subjects:.2f} events each"
        )
        start = time.perf_counter()
        (load_postgresql if backend == "postgresql" else load_sqlite)(duck, connection)
        row("load (COPY)" if backend == "postgresql" else "load (executemany)",
            time.perf_counter() - start)  # fmt: skip
        # The funnel rows, as the migration builds them for existing data (track_many
        # writes them as events arrive).
        start = time.perf_counter()
        paths = rebuild_paths(["wizard"])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE onboarding_funnelpath")
        row("funnel rows (rebuild_paths)", time.perf_counter() - start, f"{paths} rows")

        default = FunnelQuery(flow="wizard", use_rollup=False)
        adhoc = FunnelQuery(flow="wizard", use_rollup=False, window_days=7, variants=("shown",),
                            entered_from=START + timedelta(days=30),
                            entered_to=START + timedelta(days=120))  # fmt: skip
        exact_s, exact = best(default.run)
        row("exact, default window", exact_s, f"finished {exact.finished}")
        row("exact, ad-hoc window and filter", best(adhoc.run)[0])
        start = time.perf_counter()
        refresh_rollup("wizard", rebuild=True)
        row("rollup build (all cohorts)", time.perf_counter() - start)
        rollup_s, rollup = best(FunnelQuery(flow="wizard").run)
        assert rollup.source == "rollup"
        same = [s.reached for s in rollup.steps] == [s.reached for s in exact.steps]
        row("rollup, default window", rollup_s, "counts equal exact" if same else "COUNTS DIFFER")
        page_s, status = best(admin_page(record.pk))
        row("admin funnel page", page_s, f"HTTP {status}, rollup built")
        for source, (duck_s, duck_rows) in duckdb_funnel(
            duck, default.effective_window_days
        ).items():
            reached = [duck_rows[0][1 + 3 * i] for i in range(len(STEPS))]
            agree = reached == [s.reached for s in exact.steps]
            verdict = "equal" if agree else "DIFFER"
            row(f"DuckDB, default window, {source}", duck_s,
                f"ours/DuckDB {exact_s / duck_s:.1f}x; {verdict}")  # fmt: skip
    finally:
        connection.close()
        if backend == "postgresql":
            import psycopg

            with psycopg.connect(
                "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
            ) as c:
                c.execute("DROP DATABASE IF EXISTS onboarding_bench_funnel")
        else:
            os.unlink(settings.DATABASES["default"]["NAME"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="backend:subjects (sqlite or postgresql), in this process")
    args = parser.parse_args()
    if args.only:
        backend, subjects = args.only.split(":")
        for one in run_one(backend, int(subjects)):
            print("ROW " + json.dumps(one))
        return
    rows: list[dict] = []
    for only in ("sqlite:100000", "postgresql:100000", "postgresql:1000000"):
        out = subprocess.run(
            [sys.executable, __file__, "--only", only], capture_output=True, text=True, check=True
        ).stdout
        rows += [json.loads(line[4:]) for line in out.splitlines() if line.startswith("ROW ")]
    print(f"{'backend':<11}{'subjects':>10}  {'what':<38}{'seconds':>9}{'target':>8}  note")
    for one in rows:
        target = "" if one["target"] is None else f"{one['target']:.1f}"
        verdict = "" if one["target"] is None else (
            " met" if one["seconds"] <= one["target"] else " MISSED")  # fmt: skip
        print(f"{one['backend']:<11}{one['subjects']:>10,}  {one['what']:<38}"
              f"{one['seconds']:>9.3f}{target:>8}{verdict}  {one['note']}")  # fmt: skip


if __name__ == "__main__":
    main()
