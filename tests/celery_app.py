"""The test suite's Celery app.

In the pytest process tasks run eagerly (no broker). ``tests/test_celery_worker.py``
starts a real worker with ``celery -A tests.celery_app worker`` and
``ONBOARDING_TEST_BROKER_URL`` set, which turns eager mode off for that process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

BROKER_URL = os.environ.get("ONBOARDING_TEST_BROKER_URL")

app = Celery("tests")
app.conf.update(
    broker_url=BROKER_URL or "memory://",
    result_backend=BROKER_URL,
    task_always_eager=BROKER_URL is None,
    # Eager retries (``self.retry``) run inline only when errors do not propagate: with
    # propagation on, Celery raises ``Retry`` to the caller instead of retrying.
    task_eager_propagates=False,
    imports=["onboarding.nudges.tasks", "tests.worker_rules"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
