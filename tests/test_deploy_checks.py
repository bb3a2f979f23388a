"""Production checks (``check --deploy``): each warning fires on the setting that breaks a
feature in production, stays quiet otherwise, and the demo's production settings pass."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from onboarding.deploy_checks import check_deploy
from onboarding.nudges import Stalled

DEMO = Path(__file__).resolve().parent.parent / "demo_project"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0",
    }
}
SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
PRODUCTION = {"NUDGE_BASE_URL": "https://app.example.com"}


def ids(messages):
    assert all(message.hint for message in messages)
    return [message.id for message in messages]


@pytest.fixture
def with_a_rule(nudge_rules):
    nudge_rules(Stalled(flow="wizard", step="profile"))


@override_settings(CACHES=REDIS, EMAIL_BACKEND=SMTP, ONBOARDING=PRODUCTION)
def test_a_production_setup_gives_no_warning(with_a_rule):
    assert check_deploy() == []


@pytest.mark.parametrize(("caches", "kept"), [(LOCMEM, "per process"), (DUMMY, "never")])
def test_throttles_counting_in_an_unshared_cache_warn(with_a_rule, caches, kept):
    with override_settings(CACHES=caches, EMAIL_BACKEND=SMTP, ONBOARDING=PRODUCTION):
        [warning] = check_deploy()

    assert warning.id == "onboarding.W003"
    assert warning.level == checks.WARNING
    assert f"keeps the counts {kept}" in warning.msg
    assert "API_THROTTLE_RATES" in warning.msg


def test_throttles_counting_in_files_warn_that_counts_are_not_atomic(with_a_rule, tmp_path):
    files = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    with override_settings(CACHES=files, EMAIL_BACKEND=SMTP, ONBOARDING=PRODUCTION):
        [warning] = check_deploy()

    assert warning.id == "onboarding.W050"
    assert "FileBasedCache" in warning.msg
    assert "API_THROTTLE_RATES" in warning.msg


@override_settings(
    CACHES=LOCMEM,
    EMAIL_BACKEND=SMTP,
    ONBOARDING={**PRODUCTION, "API_THROTTLE_RATES": {"subject": None, "key": None}},
)
def test_a_local_cache_is_fine_when_throttling_is_off(with_a_rule):
    assert check_deploy() == []


@override_settings(CACHES=REDIS, EMAIL_BACKEND=CONSOLE, ONBOARDING={})
def test_nudges_that_reach_nobody_warn(with_a_rule):
    messages = check_deploy()

    assert ids(messages) == ["onboarding.W004", "onboarding.W005"]
    assert CONSOLE in messages[0].msg
    assert "NUDGE_BASE_URL" in messages[1].msg


@override_settings(CACHES=REDIS, EMAIL_BACKEND=CONSOLE, ONBOARDING={})
def test_without_nudge_rules_the_email_settings_do_not_matter(nudge_rules):
    assert check_deploy() == []


@override_settings(CACHES=LOCMEM, EMAIL_BACKEND=CONSOLE, ONBOARDING={})
def test_they_run_only_with_deploy(with_a_rule):
    found = {message.id for message in checks.run_checks(tags=["onboarding"])}
    deployed = {
        message.id
        for message in checks.run_checks(tags=["onboarding"], include_deployment_checks=True)
    }

    assert not found & {"onboarding.W003", "onboarding.W004", "onboarding.W005"}
    assert {"onboarding.W003", "onboarding.W004", "onboarding.W005"} <= deployed


def _demo_check(settings_module: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **env}
    environ.pop("DATABASE_URL", None)
    environ.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=DEMO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_demos_production_settings_pass_check_deploy():
    done = _demo_check("demo.settings_production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_demos_development_settings_with_debug_off_name_what_to_fix():
    done = _demo_check("demo.settings", DJANGO_DEBUG="0")

    assert done.returncode == 1
    for check_id in ("W001", "W003", "W004", "W005"):
        assert f"(onboarding.{check_id})" in done.stderr
