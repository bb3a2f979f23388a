"""The demo project: a small Bingo Card Creator using django-onboarding."""

# Load the Celery app with Django so that ``@shared_task`` uses it.
from demo.celery import app as celery_app

__all__ = ["celery_app"]
