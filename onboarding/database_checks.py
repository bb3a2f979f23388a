"""Checks of the databases the app writes to (``onboarding.W020``).

SQLite takes one writer at a time. With Django's default (deferred) transactions, two
writers that both read first cannot both write: one fails at once with "database is
locked", whatever the timeout. ``transaction_mode: IMMEDIATE`` (Django 5.1+) takes the
write lock at ``BEGIN``, and ``timeout`` is how long a writer waits for it.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import Warning, register
from django.db import connections, router
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.utils import ConnectionHandler

# EXCLUSIVE also locks at BEGIN (and in WAL mode is the same as IMMEDIATE).
LOCKING_MODES = {"IMMEDIATE", "EXCLUSIVE"}
HINT = (
    'Add "transaction_mode": "IMMEDIATE" and "timeout": 20 (seconds) to its OPTIONS; '
    '"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" also lets reads '
    'go on during a write. See docs/scaling.md, "SQLite".'
)


def _written_aliases() -> list[str]:
    models = apps.get_app_config("onboarding").get_models()
    return sorted({router.db_for_write(model) for model in models})


def sqlite_warnings(handler: ConnectionHandler, aliases: list[str]) -> list[Warning]:
    """W020 for each SQLite file among ``aliases`` that lacks the options for concurrent
    writers (an in-memory database lives in one process and is left alone)."""
    warnings = []
    for alias in aliases:
        connection = handler[alias]
        # Subclasses too: wrappers of the SQLite backend (metrics, ...) take its options.
        if not isinstance(connection, SQLiteWrapper) or connection.is_in_memory_db():
            continue
        options = connection.settings_dict.get("OPTIONS") or {}
        missing = []
        if str(options.get("transaction_mode", "")).upper() not in LOCKING_MODES:
            missing.append('"transaction_mode": "IMMEDIATE"')
        if "timeout" not in options:
            missing.append('"timeout"')
        if missing:
            warnings.append(
                Warning(
                    f"DATABASES[{alias!r}] is SQLite without {' and '.join(missing)} in "
                    "its OPTIONS: with concurrent writers (runserver's threads, several "
                    "processes) requests fail with 'database is locked' (the API answers "
                    "503) instead of waiting their turn.",
                    hint=HINT,
                    id="onboarding.W020",
                )
            )
    return warnings


@register("onboarding")
def check_sqlite_writes(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return sqlite_warnings(connections, _written_aliases())
