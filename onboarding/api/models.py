"""Server-side API keys: stored hashed, scoped, revocable."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A key for server-to-server calls, sent as ``Authorization: Api-Key <prefix>.<secret>``.

    Only the prefix (to find the row) and a SHA-256 of the whole key are stored: the
    key is random (256 bits), so a fast hash is enough and no plaintext is kept.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=64, editable=False)
    can_ingest = models.BooleanField(
        _("may send events"), default=True, help_text=_("Scope 'ingest': POST events/.")
    )
    can_read = models.BooleanField(
        _("may read funnel reports"),
        default=False,
        help_text=_("Scope 'read': the funnel report (GET flows/<flow>/funnel/)."),
    )
    revoked = models.BooleanField(_("revoked"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        app_label = "onboarding"
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def scopes(self) -> set[str]:
        return {name for name, on in (("ingest", self.can_ingest), ("read", self.can_read)) if on}

    @property
    def is_authenticated(self) -> bool:
        # Lets DRF's throttles and permissions treat a key like an authenticated principal.
        return not self.revoked
