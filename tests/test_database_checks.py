"""``onboarding.W020``: a SQLite file the app writes to, without the options that make
concurrent writers wait for the lock instead of failing with "database is locked"."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core import checks
from django.db.utils import ConnectionHandler

from onboarding.database_checks import sqlite_warnings

DEMO_SETTINGS = Path(__file__).resolve().parent.parent / "demo_project" / "demo" / "settings.py"
SQLITE = "django.db.backends.sqlite3"
GOOD = {"transaction_mode": "IMMEDIATE", "timeout": 20}


def warnings_for(database: dict) -> list[checks.Warning]:
    return sqlite_warnings(ConnectionHandler({"default": database}), ["default"])


def test_a_sqlite_file_without_the_options_warns(tmp_path):
    [warning] = warnings_for({"ENGINE": SQLITE, "NAME": tmp_path / "db.sqlite3"})

    assert warning.id == "onboarding.W020"
    assert warning.level == checks.WARNING
    assert "DATABASES['default']" in warning.msg
    assert '"transaction_mode": "IMMEDIATE" and "timeout"' in warning.msg
    assert "database is locked" in warning.msg
    assert '"transaction_mode": "IMMEDIATE"' in warning.hint
    assert "journal_mode=WAL" in warning.hint


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"timeout": 20}, '"transaction_mode": "IMMEDIATE" in'),
        ({"transaction_mode": "DEFERRED", "timeout": 20}, '"transaction_mode": "IMMEDIATE" in'),
        ({"transaction_mode": "IMMEDIATE"}, 'without "timeout" in'),
    ],
)
def test_each_missing_option_is_named(tmp_path, options, missing):
    [warning] = warnings_for({"ENGINE": SQLITE, "NAME": tmp_path / "db", "OPTIONS": options})

    assert missing in warning.msg


@pytest.mark.parametrize(
    "options",
    [
        GOOD,
        {"transaction_mode": "immediate", "timeout": 5},
        {**GOOD, "transaction_mode": "EXCLUSIVE"},
    ],
)
def test_a_sqlite_file_with_the_options_is_fine(tmp_path, options):
    assert warnings_for({"ENGINE": SQLITE, "NAME": tmp_path / "db", "OPTIONS": options}) == []


@pytest.mark.parametrize("name", [":memory:", "file:memorydb_default?mode=memory&cache=shared"])
def test_an_in_memory_database_is_left_alone(name):
    assert warnings_for({"ENGINE": SQLITE, "NAME": name}) == []


def test_other_databases_are_left_alone():
    engine = "django.db.backends.postgresql"
    assert warnings_for({"ENGINE": engine, "NAME": "app"}) == []


@pytest.mark.parametrize("database_url", [None, "sqlite:////tmp/onboarding-demo.sqlite3"])
def test_the_demo_settings_pass(monkeypatch, database_url):
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    databases = runpy.run_path(str(DEMO_SETTINGS))["DATABASES"]

    assert databases["default"]["ENGINE"] == SQLITE
    assert warnings_for(databases["default"]) == []


def test_the_check_is_registered_and_quiet_on_the_test_settings():
    registered = {check.__name__ for check in checks.registry.registry.get_checks()}
    assert "check_sqlite_writes" in registered
    found = {message.id for message in checks.run_checks(tags=["onboarding"])}
    assert "onboarding.W020" not in found
