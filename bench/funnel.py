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
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

# The data set and its loaders, shared with api_ingest.py (this folder is on sys.path).
from wizard_data import START, STEPS, generate, load_postgresql, load_sqlite  # noqa: E402

PG_URL = "postgres://postgres@127.0.0.1:5432/onboarding_bench_funnel"
# (what, backend, subjects) -> target in seconds
TARGETS = {
    ("exact, default window", "postgresql", 1_000_000): 1.0,
    ("exact, ad-hoc window and filter", "postgresql", 1_000_000): 1.0,
    ("rollup, default window", "postgresql", 1_000_000): 0.3,
    ("exact, default window", "sqlite", 100_000): 0.3,
    ("exact, ad-hoc window and filter", "sqlite", 100_000): 0.3,
    ("admin funnel page", "postgresql", 1_000_000): 1.0,
}


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


def admin_page(flow_pk: int, query: str = ""):
    """A function that GETs the flow's admin funnel page (default filters, or ``query``)
    as a superuser, with Django's test client, and returns the status."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user, _created = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = reverse("admin:onboarding_flowrecord_funnel", args=[flow_pk])
    return lambda: client.get(url + query).status_code


def best(run, repeat: int = 3) -> tuple[float, object]:
    """The best of ``repeat`` timings (after one warm-up run) and the last result."""
    run()
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def run_one(backend: str, subjects: int, *, keep: bool = False) -> list[dict[str, object]]:
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

    from onboarding.admin_funnel import report
    from onboarding.funnel import FunnelQuery
    from onboarding.funnel.paths import rebuild_paths
    from onboarding.funnel.population import population
    from onboarding.funnel.statements import count
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
        if backend == "postgresql":
            # The same run's baseline: the statement that sorts every time (percentile_disc).
            sorts_s, _ = best(lambda: count(population(default), None))
            row("exact, default window, sorting all", sorts_s, "the statement before brackets")
        row("exact, ad-hoc window and filter", best(adhoc.run)[0])
        if backend == "postgresql":
            sorts_s, _ = best(lambda: count(population(adhoc), None))
            row("exact, ad-hoc, sorting all", sorts_s, "the statement before brackets")
        start = time.perf_counter()
        refresh_rollup("wizard", rebuild=True)
        row("rollup build (all cohorts)", time.perf_counter() - start)
        rollup_s, rollup = best(FunnelQuery(flow="wizard").run)
        assert rollup.source == "rollup"
        same = [s.reached for s in rollup.steps] == [s.reached for s in exact.steps]
        row("rollup, default window", rollup_s, "counts equal exact" if same else "COUNTS DIFFER")
        page_s, status = best(admin_page(record.pk))
        row("admin funnel page", page_s, f"HTTP {status}, rollup built")
        adhoc_page_s, status = best(admin_page(record.pk, "?window_days=7"))
        row("admin funnel page, 7-day window", adhoc_page_s, f"HTTP {status}, exact")
        page_query = FunnelQuery(flow="wizard")
        cohorts_s, cohorts = best(lambda: report.cohorts(page_query))
        row("  of which cohort table", cohorts_s, f"from the {cohorts.source}")
        worst = report.worst_step(rollup)
        row("  of which stuck list", best(lambda: report.stuck(page_query, worst, page_size=50))[0],
            f"before {worst}, first page of 50")  # fmt: skip
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
        if keep:
            print(f"kept {settings.DATABASES['default']['NAME']}", file=sys.stderr)
        elif backend == "postgresql":
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
    parser.add_argument(
        "--keep", action="store_true", help="with --only: keep the database (to EXPLAIN queries)"
    )
    args = parser.parse_args()
    if args.only:
        backend, subjects = args.only.split(":")
        for one in run_one(backend, int(subjects), keep=args.keep):
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
