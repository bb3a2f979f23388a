"""Webhooks through a real Celery worker on the machine's Redis and PostgreSQL: a pool
process killed in the middle of a POST does not lose the delivery."""

from __future__ import annotations

import json

import pytest
import redis
from django.test import override_settings
from kombu import pools

from onboarding import track
from onboarding.webhooks.models import WebhookDelivery
from tests.celery_worker_process import Worker, database_url, wait_for
from tests.factories import UserFactory
from tests.webhook_receiver import hang, receivers

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def receiver():
    yield from receivers()


@pytest.fixture
def broker(redis_url):
    """Publish from this process to Redis (not eagerly) for one test."""
    from celery import _state

    from tests.celery_app import app

    previous = _state.get_current_app()
    app.set_current()
    redis.Redis.from_url(redis_url).flushdb()
    saved = {key: app.conf[key] for key in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    _forget_connections(app)
    try:
        yield redis_url
    finally:
        _forget_connections(app)
        app.conf.update(saved)
        _forget_connections(previous)
        previous.set_current()


def _forget_connections(app) -> None:
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_during_the_post_sends_it_again(broker, receiver, tmp_path):
    # The first POST hangs until the pool process sending it is killed; the second is
    # answered 200. An hour's visibility timeout: only reject_on_worker_lost brings the
    # message back in time.
    server = receiver(hang, 200)
    endpoints = [{"url": server.url, "secret": SECRET, "allow_private": True}]
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "ONBOARDING_TEST_DATABASE": "postgres",
        "ONBOARDING_TEST_POSTGRES_URL": database_url(),
        "ONBOARDING_TEST_BROKER_URL": broker,
        "ONBOARDING_TEST_VISIBILITY_TIMEOUT": "3600",
        "ONBOARDING_TEST_WEBHOOKS": json.dumps(endpoints),
    }
    worker = Worker(tmp_path / "worker.log", env, concurrency=1)
    try:
        worker.wait_ready()
        with override_settings(ONBOARDING={"WEBHOOKS": endpoints}):
            track(UserFactory(), "wizard", "signup")  # committed, then queued
        delivery = WebhookDelivery.objects.get()
        assert server.arrived.wait(120), "the worker never POSTed"
        worker.kill_child()
        wait_for(
            lambda: WebhookDelivery.objects.get().status != "pending",
            timeout=120,
            what="the delivery to be sent again after the pool process died",
        )
        log = worker.log()
    finally:
        worker.stop()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert "WorkerLostError" in log or "SIGKILL" in log
    ids = [request["headers"]["Onboarding-Delivery"] for request in server.requests]
    assert ids == [str(delivery.pk)] * 2  # the same delivery: the receiver drops the repeat
