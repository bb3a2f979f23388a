"""Nudges through a real Celery worker process on the machine's Redis and PostgreSQL.

The worker shares the test database (committed data: ``transaction=True``) and writes
the e-mails it sends to files, through a backend that fails its first three sends.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from onboarding import track
from onboarding.models import Event
from onboarding.nudges.models import NudgeDelivery
from tests.factories import UserFactory
from tests.worker_rules import WORKER_RULE

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _database_url() -> str:
    """The URL of the test database this process uses (``test_...``)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{quote(db['USER'])}{password}@{host}/{db['NAME']}"


@pytest.fixture
def worker(redis_url, tmp_path, transactional_db):
    """A ``celery -A tests.celery_app worker`` process; stopped (by its pid) afterwards."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "ONBOARDING_TEST_DATABASE": "postgres",
        "ONBOARDING_TEST_POSTGRES_URL": _database_url(),
        "ONBOARDING_TEST_BROKER_URL": redis_url,
        "ONBOARDING_TEST_MAIL_DIR": str(tmp_path / "mail"),
        "ONBOARDING_TEST_MAIL_FAILURES": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "demo_project")]),
    }
    log = (tmp_path / "worker.log").open("w")
    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker"]
    process = subprocess.Popen(
        [*command, "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = Celery("tests-client", broker=redis_url, backend=redis_url)
    try:
        yield client, tmp_path / "mail"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        client.close()


def _wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_worker_evaluates_and_retries_a_flaky_send_into_exactly_one_email(worker, nudge_rules):
    client, mail_dir = worker
    nudge_rules(WORKER_RULE)
    user = UserFactory()
    track(user, "wizard", "signup", occurred_at=timezone.now() - timedelta(hours=30))
    track(UserFactory(), "wizard", "signup", occurred_at=timezone.now() - timedelta(hours=2))

    reports = client.send_task(
        "onboarding.nudges.evaluate", kwargs={"keys": [WORKER_RULE.rule_key]}
    ).get(timeout=120)

    assert [(r["rule"], r["scanned"], r["due"], r["queued"]) for r in reports] == [
        (WORKER_RULE.rule_key, 2, 1, 1)
    ]
    delivery = NudgeDelivery.objects.get()
    _wait_for(
        lambda: NudgeDelivery.objects.filter(pk=delivery.pk, status="sent").exists(),
        timeout=60,
        what="the delivery to be sent after three failed attempts",
    )
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.recipients) == (4, [user.email])
    assert (mail_dir / "attempts").read_text() == "4"
    sent = sorted(mail_dir.glob("sent-*.eml"))
    assert [path.name for path in sent] == ["sent-4-0.eml"]
    assert f"To: {user.email}" in sent[0].read_text()
    assert Event.objects.filter(kind="nudged").count() == 1

    # A second evaluation through the worker claims nothing: at most once per subject.
    again = client.send_task(
        "onboarding.nudges.evaluate", kwargs={"keys": [WORKER_RULE.rule_key]}
    ).get(timeout=60)
    assert again[0]["claimed"] == 0
    assert NudgeDelivery.objects.count() == 1
    assert len(list(mail_dir.glob("sent-*.eml"))) == 1
