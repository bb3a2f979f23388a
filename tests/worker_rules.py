"""Nudge rules the Celery worker of ``tests/test_celery_worker.py`` evaluates.

Imported by the worker only (``imports`` of ``tests.celery_app``); the test registers
the same rule in its own process.
"""

import os
import time

from celery.signals import before_task_publish, task_postrun

from onboarding.nudges import Stalled, register_rule

WORKER_RULE = Stalled(flow="wizard", step="profile", after_hours=24, holdout=0)
if os.environ.get("ONBOARDING_TEST_BROKER_URL"):
    # Only in the worker: in the test process the nudge_rules fixture registers it, so
    # it does not leak into other tests (system checks, evaluations).
    register_rule(WORKER_RULE)


# The ingestion test's worker waits this long after each batch is stored and before its
# message is acknowledged: a kill then often lands in that window (stored, not acked).
_ACK_DELAY = float(os.environ.get("ONBOARDING_TEST_ACK_DELAY", "0"))


@task_postrun.connect
def _slow_ack(sender=None, **kwargs):
    if _ACK_DELAY and getattr(sender, "name", "") == "onboarding.ingest.store_batch":
        time.sleep(_ACK_DELAY)


# The nudge sweep tests' worker publishes each send this much later: the evaluation's
# publishing after a claim's commit then lasts long enough to be killed in.
_SEND_PUBLISH_DELAY = float(os.environ.get("ONBOARDING_TEST_SEND_PUBLISH_DELAY", "0"))


@before_task_publish.connect
def _slow_send_publish(sender=None, **kwargs):
    if _SEND_PUBLISH_DELAY and sender == "onboarding.nudges.send":
        time.sleep(_SEND_PUBLISH_DELAY)
