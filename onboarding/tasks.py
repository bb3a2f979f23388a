"""Every Celery task of the app, so that ``app.autodiscover_tasks()`` registers them all.

Nudges (``onboarding.nudges.evaluate``/``send``), async ingestion
(``onboarding.ingest.store_batch``), webhooks (``onboarding.webhooks.deliver``),
health (``onboarding.health.score``/``alerts``), funnel rollups
(``onboarding.rollups.refresh``) and the sweeper (``onboarding.sweep``). Schedule them
with ``onboarding.beat``.
"""

from onboarding.health.tasks import conversion_alerts, score_subjects
from onboarding.ingest.tasks import store_batch
from onboarding.nudges.tasks import evaluate_nudges, send_nudge
from onboarding.rollups.tasks import refresh_rollups
from onboarding.sweeper.tasks import sweep_lost_tasks
from onboarding.webhooks.tasks import deliver_webhook

__all__ = [
    "conversion_alerts",
    "deliver_webhook",
    "evaluate_nudges",
    "refresh_rollups",
    "score_subjects",
    "send_nudge",
    "store_batch",
    "sweep_lost_tasks",
]
