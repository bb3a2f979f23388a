"""Health: a score per subject from its progress, recent activity and red flags (the
HubSpot customer-happiness idea), segments, a playbook, and conversion-drop alerts.

``onboarding.health.score`` (a Celery task, run it from beat) computes the scores into
:class:`~onboarding.health.models.HealthScore` rows shown and filtered in admin;
``onboarding.health.alerts`` e-mails and signals steps whose conversion fell.
"""
