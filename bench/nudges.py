"""Benchmark: evaluate a stalled-step rule over N stalled subjects in bounded batches.

    .venv/bin/python bench/nudges.py [--subjects 10000] [--batch-size 500]
    ONBOARDING_TEST_DATABASE=postgres .venv/bin/python bench/nudges.py

Prints subjects per second and the peak Python memory (tracemalloc) of the evaluation,
for N and N/5 subjects: with bounded batches the peak does not grow with N. Uses its
own throw-away database (SQLite in memory, or ``test_onboarding_bench_nudges``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def setup() -> None:
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": "test_onboarding_bench_nudges"}
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def make_stalled(count: int, start: int) -> None:
    """``count`` users who signed up 30 h ago and stopped there."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from onboarding.tracking import EventInput, track_many

    user_model = get_user_model()
    at = timezone.now() - timedelta(hours=30)
    for offset in range(0, count, 500):
        users = user_model.objects.bulk_create(
            user_model(username=f"bench{start + offset + i}", email=f"b{start + offset + i}@x.io")
            for i in range(min(500, count - offset))
        )
        track_many(EventInput(who=u, flow="wizard", step="signup", occurred_at=at) for u in users)


def measure(batch_size: int) -> tuple[int, float, int, object]:
    """Time one evaluation, then trace the peak memory of a second (tracing slows it)."""
    from onboarding.nudges.evaluate import evaluate_rule
    from onboarding.nudges.models import NudgeDelivery
    from onboarding.nudges.rules import Stalled

    rule = Stalled(flow="wizard", step="profile", after_hours=24, key="bench.stalled")
    NudgeDelivery.objects.all().delete()
    started = time.perf_counter()
    report = evaluate_rule(rule, batch_size=batch_size, enqueue=lambda pk: None)
    elapsed = time.perf_counter() - started
    NudgeDelivery.objects.all().delete()
    tracemalloc.start()
    evaluate_rule(rule, batch_size=batch_size, enqueue=lambda pk: None)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return report.scanned, elapsed, peak, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    options = parser.parse_args()
    setup()
    from django.db import connection

    small = options.subjects // 5
    print(f"database: {connection.vendor}, batch size {options.batch_size}")
    make_stalled(small, 0)
    for total in (small, options.subjects):
        if total > small:
            make_stalled(total - small, small)
        scanned, elapsed, peak, report = measure(options.batch_size)
        print(
            f"{scanned:>7} stalled subjects: {scanned / elapsed:8.0f} subjects/s "
            f"({elapsed:.2f} s, {report.batches} batches, claimed {report.claimed}, "
            f"held out {report.held_out}), peak memory {peak / 2**20:.1f} MiB"
        )
    connection.creation.destroy_test_db("test_onboarding_bench_nudges", verbosity=0)


if __name__ == "__main__":
    main()
