"""The demo with a broker: beat runs the app's periodic tasks, the worker settings are the
recommended ones, and ``check`` has nothing to say about them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from onboarding.beat import ENTRIES
from tests.celery_worker_process import wait_for

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo_project"


def _environ(**env: str) -> dict[str, str]:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(DEMO)]),
        **env,
    }
    environ.pop("DATABASE_URL", None)
    return environ


@pytest.mark.redis
def test_with_a_broker_the_demos_beat_schedules_every_periodic_task(redis_url, tmp_path):
    log = tmp_path / "beat.log"
    with log.open("w") as output:
        command = [sys.executable, "-m", "celery", "-A", "demo", "beat", "--loglevel=DEBUG"]
        beat = subprocess.Popen(
            [*command, "--schedule", str(tmp_path / "schedule"), "--pidfile="],
            cwd=DEMO,
            env=_environ(CELERY_BROKER_URL=redis_url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: "beat: Waking up" in log.read_text(), timeout=90, what="beat")
        finally:
            beat.terminate()
            beat.wait(timeout=30)
    text = log.read_text()

    scheduled = [line for line in text.splitlines() if line.startswith("<ScheduleEntry: ")]
    for name, entry in ENTRIES.items():
        assert any(f"{name} {entry['task']}()" in line for line in scheduled), (name, text)
    tasks = {entry["task"] for entry in ENTRIES.values()}
    assert {
        "onboarding.nudges.evaluate",
        "onboarding.health.score",
        "onboarding.health.alerts",
        "onboarding.rollups.refresh",
        "onboarding.sweep",
    } <= tasks


def test_with_a_broker_the_demo_uses_the_recommended_worker_settings_and_checks_clean():
    script = (
        "import django; django.setup(); from demo.celery import app; "
        "app.loader.import_default_modules(); "
        "print(app.conf.task_always_eager, app.conf.worker_prefetch_multiplier, "
        "app.conf.broker_transport_options['visibility_timeout'], "
        "sorted(e['task'] for e in app.conf.beat_schedule.values() if e['task'] not in app.tasks))"
    )
    environ = _environ(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=DEMO, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "False 1 600 []"  # every scheduled task exists

    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=DEMO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr  # no W002: retries fit
