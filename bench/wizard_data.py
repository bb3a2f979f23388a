"""The benchmarks' data set: subjects of the test suite's "wizard" flow, made by DuckDB
and loaded as ``track_many`` stores them (Progress, StepState and Event rows).

``generate`` fills DuckDB tables; ``load_postgresql`` copies them into PostgreSQL
(COPY into tables stripped of indexes and constraints, added back in one pass each);
``load_sqlite`` inserts them into SQLite. Used by ``funnel.py`` and ``api_ingest.py``.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

START = date(2025, 1, 1)
DAYS = 180
STEPS = ("signup", "profile", "project", "invite", "publish")


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
