"""``manage.py onboarding_apikey create|list|revoke``: server-side API keys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.api.keys import SCOPES, create_key, revoke_key
from onboarding.api.models import ApiKey


class Command(BaseCommand):
    help = "Create, list or revoke API keys (stored hashed; a new key is printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a key and print it once.")
        create.add_argument("name")
        create.add_argument(
            "--scope",
            action="append",
            choices=SCOPES,
            dest="scopes",
            help="ingest (POST events/) and/or read; repeat for both. Default: ingest.",
        )
        actions.add_parser("list", help="List keys (prefix, name, scopes, state).")
        revoke = actions.add_parser("revoke", help="Revoke the key with this prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name: str, scopes: list[str] | None, **options: Any) -> None:
        api_key, key = create_key(name, scopes=scopes or ["ingest"])
        self.stdout.write(key)
        self.stderr.write(
            f"Created {api_key} with scopes {', '.join(sorted(api_key.scopes))}. "
            "Copy the key now: only its hash is stored."
        )

    def _list(self, **options: Any) -> None:
        for api_key in ApiKey.objects.order_by("created_at"):
            state = "revoked" if api_key.revoked else "active"
            scopes = ",".join(sorted(api_key.scopes)) or "-"
            self.stdout.write(f"{api_key.prefix}\t{state}\t{scopes}\t{api_key.name}")

    def _revoke(self, *, prefix: str, **options: Any) -> None:
        if not revoke_key(prefix):
            raise CommandError(f"No active API key with prefix {prefix!r}.")
        self.stdout.write(f"Revoked the API key {prefix}.")
