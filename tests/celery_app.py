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
    # The nudge sweep test cuts the worker's broker (a proxy) but keeps its results.
    result_backend=os.environ.get("ONBOARDING_TEST_RESULT_URL", BROKER_URL),
    task_always_eager=BROKER_URL is None,
    # Eager retries (``self.retry``) run inline only when errors do not propagate: with
    # propagation on, Celery raises ``Retry`` to the caller instead of retrying.
    task_eager_propagates=False,
    imports=["onboarding.tasks", "tests.worker_rules"],
    # The recommended worker settings (docs/scaling.md, "Lost workers"): a worker holds
    # one message per pool process, so a killed one leaves as few as possible behind.
    worker_prefetch_multiplier=1,
    # Redis redelivers a message not acknowledged within the visibility timeout (default
    # 1 h); the real-worker tests shorten it, sweep for such messages every second and
    # let a restore lock left by a killed worker expire after a few seconds.
    broker_transport_options=(
        {
            "visibility_timeout": int(os.environ["ONBOARDING_TEST_VISIBILITY_TIMEOUT"]),
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": int(os.environ.get("ONBOARDING_TEST_MUTEX_EXPIRE", "5")),
        }
        if os.environ.get("ONBOARDING_TEST_VISIBILITY_TIMEOUT")
        else {}
    ),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
