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
    imports=["onboarding.tasks", "tests.worker_rules"],
    # Redis redelivers a message not acknowledged within the visibility timeout (default
    # 1 h); the ingestion tests shorten it, and sweep for such messages every second.
    broker_transport_options=(
        {
            "visibility_timeout": int(os.environ["ONBOARDING_TEST_VISIBILITY_TIMEOUT"]),
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
        if os.environ.get("ONBOARDING_TEST_VISIBILITY_TIMEOUT")
        else {}
    ),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
