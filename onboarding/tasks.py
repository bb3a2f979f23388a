"""Every Celery task of the app, so that ``app.autodiscover_tasks()`` registers them all.

Nudges (``onboarding.nudges.evaluate``/``send``), async ingestion
(``onboarding.ingest.store_batch``), webhooks (``onboarding.webhooks.deliver`` and
``requeue_stale``), health (``onboarding.health.score``/``alerts``) and funnel rollups
(``onboarding.rollups.refresh``). Schedule them with ``onboarding.beat``.
"""

from onboarding.health.tasks import conversion_alerts, score_subjects
from onboarding.ingest.tasks import store_batch
from onboarding.nudges.tasks import evaluate_nudges, send_nudge
from onboarding.rollups.tasks import refresh_rollups
from onboarding.webhooks.tasks import deliver_webhook, requeue_stale

__all__ = [
    "conversion_alerts",
    "deliver_webhook",
    "evaluate_nudges",
    "refresh_rollups",
    "requeue_stale",
    "score_subjects",
    "send_nudge",
    "store_batch",
]
