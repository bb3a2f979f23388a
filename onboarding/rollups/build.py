"""Refresh a flow's rollup: rebuild it, or recount only the cohorts still open.

A cohort (one local entry day) is *open* while a subject who entered that day can
still complete a step inside the conversion window: until ``window_days + 1`` days
after the day. Older cohorts are closed: recounted only when a late event marked them
(``onboarding.rollups.stale``: a first event or a completion arriving after the window,
a history import); ``onboarding_rollup --rebuild`` counts everything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import router, transaction
from django.db.models import Max, Min
from django.utils import timezone

from onboarding.funnel.plan import plan_for
from onboarding.funnel.population import Grouping, population
from onboarding.funnel.query import FunnelQuery
from onboarding.funnel.statements import ENTRY, _base
from onboarding.funnel.timeutil import local_date, local_midnight
from onboarding.models import FlowRecord, Progress
from onboarding.registry import get_flow
from onboarding.rollups.buckets import bucket_sql
from onboarding.rollups.models import FunnelRollup
from onboarding.rollups.stale import take
from onboarding.rollups.state import RollupState, signature

# Entry days counted per statement (one CASE branch per day).
CHUNK_DAYS = 31


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: the flow, whether it rebuilt everything, the days recounted."""

    flow: str
    rebuilt: bool
    first_day: date | None
    last_day: date | None
    rows: int
    fresh_as_of: datetime
    recounted: tuple[date, ...] = ()


def refresh_rollup(
    flow: str, *, rebuild: bool = False, now: datetime | None = None, using: str | None = None
) -> RefreshReport:
    """Recount ``flow``'s open cohorts (everything when ``rebuild`` or when the flow's
    steps, window or the time zone changed since the last build)."""
    declaration = get_flow(flow)
    using = using or router.db_for_write(FunnelRollup)
    now = now or timezone.now()
    window_days = declaration.effective_window_days()
    wanted = signature(plan_for(declaration), window_days)
    rows = FunnelRollup.objects.using(using)
    _mark_counted(flow, using)
    with transaction.atomic(using=using):
        # Refreshes of one flow take turns on its row: two at once would each delete
        # what the other had not yet written and both insert, doubling the counts.
        # NO KEY UPDATE: tracking's foreign-key checks (FOR KEY SHARE) are not blocked.
        record = (
            FlowRecord.objects.using(using).select_for_update(no_key=True).filter(key=flow).first()
        )
        # Read under the lock, so a refresh that waited starts where the other ended.
        state = RollupState.load(flow, using)
        start: date | None = (
            None if rebuild or state is None or state.signature != wanted else state.open_from
        )
        rebuild = start is None
        recount: list[date] = []
        if record is None:
            first = last = None
        else:
            # Taken first: this refresh's counts see every batch whose mark it took.
            marked = take(record.pk, using)
            recount = [] if start is None else sorted(day for day in marked if day < start)
            old = rows.filter(flow=record)
            (old if start is None else old.filter(day__gte=start)).delete()
            old.filter(day__in=recount).delete()
            first, last = _entry_days(record, start, using)
        written = 0
        if record is not None:
            spans = _runs(recount)
            if first is not None and last is not None:
                spans.append((first, last))
            for span_first, span_last in spans:
                day = span_first
                while day <= span_last:
                    end = min(day + timedelta(days=CHUNK_DAYS - 1), span_last)
                    written += _count_days(flow, record, day, end, window_days, using)
                    day = end + timedelta(days=1)
        RollupState(
            signature=wanted,
            fresh_as_of=now,
            open_from=local_date(now) - timedelta(days=window_days + 1),
        ).save(flow, using)
    return RefreshReport(flow, rebuild, first, last, written, now, tuple(recount))


def _mark_counted(flow: str, using: str) -> None:
    """Before a flow's first count: from now on late events mark their cohorts.

    FOR UPDATE waits for every batch that read the flag unset (``track_many`` reads it
    FOR KEY SHARE) and commits before counting, so the count sees those batches' events;
    every later batch reads it set and marks.
    """
    records = FlowRecord.objects.using(using)
    if not records.filter(key=flow, rollup_counted=False).exists():
        return
    with transaction.atomic(using=using):
        locked = records.select_for_update().filter(key=flow)
        if locked.filter(rollup_counted=False).values_list("pk", flat=True).first() is not None:
            records.filter(key=flow).update(rollup_counted=True)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted ``days`` as runs of consecutive days, ``(first, last)`` each."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _entry_days(
    record: FlowRecord, start: date | None, using: str
) -> tuple[date | None, date | None]:
    """The first and last local entry day on or after ``start`` (``None``: any)."""
    progress = Progress.objects.using(using).filter(flow=record)
    if start is not None:
        progress = progress.filter(entered_at__gte=local_midnight(start))
    bounds = progress.aggregate(first=Min("entered_at"), last=Max("entered_at"))
    if bounds["first"] is None:
        return None, None
    return local_date(bounds["first"]), local_date(bounds["last"])


def _count_days(
    flow: str, record: FlowRecord, first: date, last: date, window_days: int, using: str
) -> int:
    """Insert the rollup rows of the entry days ``first`` to ``last`` in one statement."""
    pop = population(
        FunnelQuery(
            flow=flow, entered_from=first, entered_to=last, window_days=window_days, using=using
        )
    )
    postgres = pop.dialect.vendor == "postgresql"
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def literal(day: date) -> str:
        return f"DATE '{day.isoformat()}'" if postgres else f"'{day.isoformat()}'"

    branches = " ".join(
        f"WHEN e < {pop.dialect.instant(local_midnight(day + timedelta(days=1)))} "
        f"THEN {literal(day)}"
        for day in days[:-1]
    )
    day_sql = f"CASE {branches} ELSE {literal(days[-1])} END" if branches else literal(days[0])
    sql, base, params = _base(pop, Grouping(sql=day_sql, key=str))
    plan = pop.plan
    finish = len(plan.steps) + 1
    deltas, defaults, hits = [f"WHEN {ENTRY} THEN NULL"], [], [f"WHEN {ENTRY} THEN 1"]
    for step in plan.steps:
        k = step.index + 1
        deltas.append(f"WHEN {k} THEN {sql.delta(step.index)}")
        defaults.append(f"WHEN {k} THEN d{step.index}")
        hits.append(f"WHEN {k} THEN {sql.flag(sql.reached(step.index))}")
    deltas.append(f"WHEN {finish} THEN {sql.finish_delta()}")
    hits.append(f"WHEN {finish} THEN {sql.flag(sql.finished())}")
    defaults_sql = f"CASE ks.k {' '.join(defaults)} ELSE 0 END" if defaults else "0"
    seconds = "(delta / 1000000.0)"  # deltas are integer microseconds
    ks = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(finish + 1))
    table = FunnelRollup._meta.db_table
    text = (
        f"INSERT INTO {table} (flow_id, day, variant, version_id, k, bucket, subjects, defaulted) "
        f"WITH base AS ({base}), ks AS ({ks}), "
        f"picked AS (SELECT base.g AS g, base.variant AS variant, base.version_id AS version_id, "
        f"ks.k AS k, CASE ks.k {' '.join(deltas)} END AS delta, {defaults_sql} AS dflt, "
        f"CASE ks.k {' '.join(hits)} END AS hit FROM base CROSS JOIN ks) "
        f"SELECT {int(record.pk)}, g, variant, version_id, k, "
        f"CASE WHEN delta IS NULL THEN 0 ELSE {bucket_sql(seconds)} END AS bucket, "
        "COUNT(*), SUM(dflt) FROM picked WHERE hit = 1 "
        "GROUP BY g, variant, version_id, k, 6"
    )
    with pop.dialect.cursor(using) as cursor:
        cursor.execute(text, params)
        return cursor.rowcount


def refresh_all(*, rebuild: bool = False, now: datetime | None = None) -> list[RefreshReport]:
    """Refresh the rollup of every declared flow."""
    from onboarding.registry import registry

    return [refresh_rollup(flow.key, rebuild=rebuild, now=now) for flow in registry.all()]
