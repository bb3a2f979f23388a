"""Nudges through real Celery workers when the evaluation is cut short.

The evaluation claims due nudges in batches and queues each send after the claim's
commit; the worker here publishes each send 0.05 s late (tests/worker_rules.py), so a
SIGKILL or a broker outage lands between a commit and its publishes. The claims left
pending without a task are found by the sweeper (``onboarding.sweep``), and every due
nudge is sent exactly once.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.utils import timezone

from onboarding import track
from onboarding.models import Event
from onboarding.nudges.models import NudgeDelivery
from tests.broker_proxy import BrokerProxy
from tests.celery_worker_process import Worker, database_url, wait_for
from tests.factories import UserFactory
from tests.worker_rules import WORKER_RULE

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DUE = 60
BATCH = 20
SWEEP_AFTER = 3  # seconds (NUDGE_SWEEP_AFTER_SECONDS in the worker)
EVALUATE = "onboarding.nudges.evaluate"
SEND = "onboarding.nudges.send"


@pytest.fixture
def client(redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    app = Celery("tests-client", broker=redis_url, backend=redis_url)
    yield app
    app.close()


def _env(broker_url: str, mail_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "ONBOARDING_TEST_DATABASE": "postgres",
        "ONBOARDING_TEST_POSTGRES_URL": database_url(),
        "ONBOARDING_TEST_BROKER_URL": broker_url,
        "ONBOARDING_TEST_VISIBILITY_TIMEOUT": "10",
        "ONBOARDING_TEST_EMAIL_BACKEND": "tests.flaky_mail.RecordingFileBackend",
        "ONBOARDING_TEST_MAIL_DIR": str(mail_dir),
        "ONBOARDING_TEST_NUDGE_BATCH_SIZE": str(BATCH),
        "ONBOARDING_TEST_SWEEP_AFTER": str(SWEEP_AFTER),
        **extra,
    }


def _stalled(count: int) -> list[str]:
    """``count`` subjects stalled after signup for 30 hours; their addresses."""
    users = UserFactory.create_batch(count)
    for user in users:
        track(user, "wizard", "signup", occurred_at=timezone.now() - timedelta(hours=30))
    return [user.email for user in users]


def _queued_sends(redis_url: str) -> set[int]:
    """Delivery ids of the send tasks the broker holds: waiting or unacknowledged."""
    broker = redis.Redis.from_url(redis_url)
    messages = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
    messages += [json.loads(raw)[0] for raw in broker.hvals("unacked")]
    return {
        ast.literal_eval(message["headers"]["argsrepr"])[0]
        for message in messages
        if message["headers"].get("task") == SEND
    }


def _recipients(mail_dir: Path) -> Counter[str]:
    return Counter(message_from_bytes(path.read_bytes())["To"] for path in mail_dir.glob("*.eml"))


def _finish(client: Celery, lost: set[int], emails: list[str], mail_dir: Path):
    """Evaluate again (beat would), let the queued sends go, then sweep: all sent once."""
    claimed_before = NudgeDelivery.objects.count()
    [report] = client.send_task(EVALUATE, kwargs={"keys": [WORKER_RULE.rule_key]}).get(timeout=120)
    assert report["claimed"] == DUE - claimed_before  # the claims already made stay
    wait_for(
        lambda: NudgeDelivery.objects.filter(status="sent").count() == DUE - len(lost),
        timeout=120,
        what="every queued nudge to be sent",
    )
    # Without the sweeper these would wait forever: their claim exists, their task not.
    assert set(NudgeDelivery.objects.filter(status="pending").values_list("pk", flat=True)) == lost
    wait_for(
        lambda: (
            NudgeDelivery.objects.filter(
                pk__in=lost, attempt_at__lt=timezone.now() - timedelta(seconds=SWEEP_AFTER)
            ).count()
            == len(lost)
        ),
        timeout=30,
        what="the lost claims to be overdue",
    )
    results = client.send_task("onboarding.sweep").get(timeout=120)
    swept = {result["name"]: result for result in results}
    assert (swept["nudges"]["requeued"], swept["nudges"]["error"]) == (len(lost), "")
    assert swept["webhooks"]["error"] == ""  # the other sweepable ran beside it
    wait_for(
        lambda: NudgeDelivery.objects.filter(status="sent").count() == DUE,
        timeout=120,
        what="the swept nudges to be sent",
    )
    assert _recipients(mail_dir) == Counter(emails)  # every due nudge, each once
    assert NudgeDelivery.objects.count() == DUE
    assert Event.objects.filter(kind="nudged").count() == DUE
    print(f"\n{claimed_before} claimed before the cut, {len(lost)} of them without a task")


@pytest.mark.django_db(transaction=True)
def test_claims_left_by_a_worker_killed_during_evaluation_are_swept_and_sent_once(
    client, redis_url, tmp_path, nudge_rules
):
    nudge_rules(WORKER_RULE)
    emails = _stalled(DUE)
    mail_dir = tmp_path / "mail"
    slow = _env(redis_url, mail_dir, ONBOARDING_TEST_SEND_PUBLISH_DELAY="0.05")
    # One pool process: it evaluates, so no send is under way when the kill comes.
    first = Worker(tmp_path / "worker-1.log", slow, concurrency=1)
    try:
        first.wait_ready()
        client.send_task(EVALUATE, kwargs={"keys": [WORKER_RULE.rule_key]})
        wait_for(NudgeDelivery.objects.exists, timeout=120, what="the first claims", interval=0.02)
        assert first.kill_all() == -9
    finally:
        first.stop()
    claimed = set(NudgeDelivery.objects.values_list("pk", flat=True))
    lost = claimed - _queued_sends(redis_url)
    assert 0 < len(claimed) < DUE
    assert lost  # claimed, committed, and never published

    second = Worker(tmp_path / "worker-2.log", _env(redis_url, mail_dir))
    try:
        second.wait_ready()
        _finish(client, lost, emails, mail_dir)
    finally:
        second.stop()


@pytest.mark.django_db(transaction=True)
def test_claims_left_by_a_broker_outage_during_evaluation_are_swept_and_sent_once(
    client, redis_url, tmp_path, nudge_rules
):
    nudge_rules(WORKER_RULE)
    emails = _stalled(DUE)
    mail_dir = tmp_path / "mail"
    proxy = BrokerProxy(("127.0.0.1", 6379))
    proxy.up()
    database = int(redis_url.rsplit("/", 1)[1])
    env = _env(
        proxy.url(database),
        mail_dir,
        ONBOARDING_TEST_SEND_PUBLISH_DELAY="0.05",
        ONBOARDING_TEST_RESULT_URL=redis_url,  # results stay reachable
    )
    worker = Worker(tmp_path / "worker.log", env, concurrency=1)
    try:
        worker.wait_ready()
        evaluation = client.send_task(EVALUATE, kwargs={"keys": [WORKER_RULE.rule_key]})
        wait_for(NudgeDelivery.objects.exists, timeout=120, what="the first claims", interval=0.02)
        proxy.down()
        wait_for(
            lambda: evaluation.state == "FAILURE",
            timeout=120,
            what="the evaluation to fail without its broker",
        )
        claimed = set(NudgeDelivery.objects.values_list("pk", flat=True))
        lost = claimed - _queued_sends(redis_url)
        assert 0 < len(claimed) < DUE
        assert lost
        proxy.up()
        wait_for(
            lambda: worker.log().count("Connected to redis") >= 2,
            timeout=120,
            what="the worker to reconnect",
        )
        _finish(client, lost, emails, mail_dir)
    finally:
        worker.stop()
        proxy.down()
