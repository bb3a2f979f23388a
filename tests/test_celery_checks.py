"""System checks of the Celery setup and of nudge rules: each id fires, with a hint."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from onboarding.celery_checks import Redelivery, check_celery, redelivery, visibility_timeout
from onboarding.nudges import Stalled, register_rule
from onboarding.nudges.checks import check_rules


@pytest.fixture
def celery_conf():
    """Change the current Celery app's configuration (the one the checks read) for one test."""
    from onboarding.celery_checks import celery_app

    app = celery_app()

    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: app.conf[key] for key in keys}

    def _set(**values):
        app.conf.update(values)
        return app

    yield _set
    app.conf.update(saved)


def ids(messages):
    assert all(message.hint for message in messages)
    return [message.id for message in messages]


@override_settings(DEBUG=False)
def test_eager_mode_with_debug_off_warns(celery_conf):
    celery_conf(task_always_eager=True, broker_url="memory://")

    [warning] = check_celery()

    assert warning.id == "onboarding.W001"
    assert warning.level == checks.WARNING
    assert "CELERY_BROKER_URL" in warning.hint


@override_settings(DEBUG=True)
def test_eager_mode_in_development_is_fine(celery_conf):
    celery_conf(task_always_eager=True, broker_url="memory://")

    assert check_celery() == []


def test_a_backoff_as_long_as_the_redis_visibility_timeout_warns_naming_the_setting(celery_conf):
    celery_conf(task_always_eager=False, broker_url="redis://127.0.0.1:6379/0")

    # Redis's default timeout is an hour; the defaults stay below it.
    assert check_celery() == []
    with override_settings(ONBOARDING={"INGEST_RETRY_BACKOFF_MAX_SECONDS": 3600}):
        warnings = check_celery()

    assert ids(warnings) == ["onboarding.W002"]
    assert "INGEST_RETRY_BACKOFF_MAX_SECONDS" in warnings[0].msg
    assert "3600 s" in warnings[0].msg


def test_the_configured_visibility_timeout_is_the_one_compared(celery_conf):
    celery_conf(
        task_always_eager=False,
        broker_url="rediss://cache.example.com:6380/1",
        broker_transport_options={"visibility_timeout": 600},
    )

    warnings = check_celery()

    # Nudge and webhook retries wait up to 1,800 s by default: longer than 600 s.
    assert ids(warnings) == ["onboarding.W002", "onboarding.W002"]
    assert "NUDGE_RETRY_BACKOFF_MAX_SECONDS" in warnings[0].msg
    assert "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS" in warnings[1].msg
    assert "600 s" in warnings[0].msg


def test_rabbitmq_has_no_visibility_timeout(celery_conf):
    app = celery_conf(task_always_eager=False, broker_url="amqp://guest@localhost//")

    assert visibility_timeout(app) is None
    assert check_celery() == []


# The recommended Redis settings for async ingestion (docs/scaling.md, "Lost workers").
RECOMMENDED = {
    "visibility_timeout": 600,
    "unacked_mutex_expire": 30,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
SHORT_BACKOFFS = {"NUDGE_RETRY_BACKOFF_MAX_SECONDS": 540, "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS": 540}


@override_settings(ONBOARDING={"ASYNC_INGESTION": True})
def test_async_ingestion_on_redis_defaults_warns_that_a_lost_workers_batches_wait_over_an_hour(
    celery_conf,
):
    celery_conf(task_always_eager=False, broker_url="redis://127.0.0.1:6379/0")

    [warning] = check_celery()

    assert warning.id == "onboarding.W030"
    # kombu's defaults: 3,600 s timeout, 300 s restore lock, a sweep every 100 s.
    assert "after up to 4100 s" in warning.msg
    assert "INGEST_REDELIVERY_MAX_SECONDS" in warning.msg and "(900 s)" in warning.msg
    assert '"visibility_timeout": 600' in warning.hint
    assert "CELERY_WORKER_PREFETCH_MULTIPLIER = 1" in warning.hint


def test_the_recommended_redis_settings_bound_redelivery_to_650_seconds(celery_conf):
    app = celery_conf(
        task_always_eager=False,
        broker_url="redis://127.0.0.1:6379/0",
        broker_transport_options=RECOMMENDED,
    )

    assert redelivery(app) == Redelivery(visibility_timeout=600, sweep_period=10, lock_expiry=30)
    assert redelivery(app).bound == 650
    with override_settings(ONBOARDING={"ASYNC_INGESTION": True, **SHORT_BACKOFFS}):
        assert check_celery() == []
    with override_settings(
        ONBOARDING={"ASYNC_INGESTION": True, "INGEST_REDELIVERY_MAX_SECONDS": 600, **SHORT_BACKOFFS}
    ):
        assert ids(check_celery()) == ["onboarding.W030"]


def test_redelivery_on_sqs_is_its_visibility_timeout_and_amqp_gives_back_at_once(celery_conf):
    app = celery_conf(task_always_eager=False, broker_url="sqs://")
    assert redelivery(app) == Redelivery(visibility_timeout=1800)  # kombu's SQS default
    assert "onboarding.W002" in ids(check_celery())  # 1,800 s backoffs are not shorter
    with override_settings(ONBOARDING={"ASYNC_INGESTION": True, **SHORT_BACKOFFS}):
        assert ids(check_celery()) == ["onboarding.W030"]

    app = celery_conf(broker_url="amqp://guest@localhost//")
    assert redelivery(app) is None
    with override_settings(ONBOARDING={"ASYNC_INGESTION": True}):
        assert check_celery() == []


def test_a_rule_naming_an_unknown_flow_or_step(nudge_rules):
    nudge_rules(
        Stalled(flow="nope", step="profile"),
        Stalled(flow="wizard", step="profil"),
        Stalled(flow="wizard", step="profile"),
    )

    errors = check_rules()

    assert ids(errors) == ["onboarding.E013", "onboarding.E013"]
    assert "unknown flow 'nope'" in errors[0].msg
    assert "wizard" in errors[0].hint
    assert "unknown step 'profil'" in errors[1].msg
    assert "profile" in errors[1].hint


def test_two_different_rules_with_one_key(nudge_rules):
    nudge_rules(Stalled(flow="wizard", step="profile", key="wizard.remind"))
    register_rule(Stalled(flow="wizard", step="project", key="wizard.remind"))
    register_rule(Stalled(flow="wizard", step="project", key="wizard.remind"))  # same: fine

    errors = check_rules()

    assert ids(errors) == ["onboarding.E014"]
    assert "'wizard.remind'" in errors[0].msg


def test_the_checks_run_with_djangos_check_framework(nudge_rules):
    nudge_rules(Stalled(flow="nope", step="x"))

    found = {message.id for message in checks.run_checks(tags=["onboarding"])}

    assert "onboarding.E013" in found
