from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_after_migrate(sender: AppConfig, *, using: str = "default", **kwargs: object) -> None:
    from onboarding.conf import onboarding_settings
    from onboarding.sync import sync_flows

    if onboarding_settings.SYNC_ON_MIGRATE and kwargs.get("plan") is not None:
        sync_flows()


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = _("Onboarding")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from onboarding import checks  # noqa: F401  (registers the system checks)
        from onboarding.registry import autodiscover

        autodiscover()
        post_migrate.connect(_sync_after_migrate, sender=self)
