"""Settings of the Celery worker process started by ``tests/test_celery_worker.py``."""

import json
import os

from tests.settings import *  # noqa: F403

# Sent mail is written to files the test reads; the first sends fail on purpose.
EMAIL_BACKEND = os.environ.get("ONBOARDING_TEST_EMAIL_BACKEND", "tests.flaky_mail.FlakyFileBackend")
FLAKY_MAIL_DIR = os.environ.get("ONBOARDING_TEST_MAIL_DIR", "/tmp/onboarding-test-mail")
ONBOARDING = {
    "NUDGE_RETRY_BACKOFF_SECONDS": 1,
    "NUDGE_RETRY_BACKOFF_MAX_SECONDS": 2,
    "NUDGE_BATCH_SIZE": int(os.environ.get("ONBOARDING_TEST_NUDGE_BATCH_SIZE", "500")),
    "NUDGE_SWEEP_AFTER_SECONDS": int(os.environ.get("ONBOARDING_TEST_SWEEP_AFTER", "600")),
}
# The webhook tests' endpoints (a receiver in the test process), as JSON.
if os.environ.get("ONBOARDING_TEST_WEBHOOKS"):
    ONBOARDING["WEBHOOKS"] = json.loads(os.environ["ONBOARDING_TEST_WEBHOOKS"])
    ONBOARDING["WEBHOOK_RETRY_BACKOFF_SECONDS"] = 1
    # Longer than any test waits: an attempt ends by the test's doing, not the deadline.
    ONBOARDING["WEBHOOK_TIMEOUT_SECONDS"] = 600
