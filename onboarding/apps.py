from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_after_migrate(sender: AppConfig, *, using: str = "default", **kwargs: object) -> None:
    from django.db import router

    from onboarding.conf import onboarding_settings
    from onboarding.models import FlowRecord
    from onboarding.sync import sync_flows

    # Sync once, on the database the mirror is written to, and only after a real migrate.
    if (
        onboarding_settings.SYNC_ON_MIGRATE
        and kwargs.get("plan") is not None
        and router.db_for_write(FlowRecord) == using
    ):
        sync_flows()


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Onboarding")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from onboarding import checks  # noqa: F401  (registers the system checks)
        from onboarding.nudges.sweep import requeue_lost_sends
        from onboarding.registry import autodiscover
        from onboarding.sweeper import sweepables
        from onboarding.webhooks.requeue import requeue_lost_deliveries

        autodiscover()
        sweepables.register("nudges", requeue_lost_sends)
        sweepables.register("webhooks", requeue_lost_deliveries)
        post_migrate.connect(_sync_after_migrate, sender=self)
