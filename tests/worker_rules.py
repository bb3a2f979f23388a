"""Nudge rules the Celery worker of ``tests/test_celery_worker.py`` evaluates.

Imported by the worker only (``imports`` of ``tests.celery_app``); the test registers
the same rule in its own process.
"""

from onboarding.nudges import Stalled, register_rule

WORKER_RULE = register_rule(Stalled(flow="wizard", step="profile", after_hours=24, holdout=0))
