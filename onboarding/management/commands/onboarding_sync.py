"""``manage.py onboarding_sync [--check]``: mirror the declared flows into the database."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.sync import sync_flows


class Command(BaseCommand):
    help = (
        "Mirror the flows declared in onboarding_flows modules into the database, "
        "making a new version when a flow's steps change. With --check, write nothing "
        "and fail if anything is out of sync (for CI)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Write nothing; exit non-zero listing what is out of sync.",
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        report = sync_flows(check=check)
        if check and report.changed:
            raise CommandError(
                ngettext(
                    "%(count)d change is not synced; run manage.py onboarding_sync:",
                    "%(count)d changes are not synced; run manage.py onboarding_sync:",
                    len(report.changes),
                )
                % {"count": len(report.changes)}
                + "".join(f"\n  - {change}" for change in report.changes)
            )
        if options["verbosity"] < 1:
            return
        for change in report.changes:
            self.stdout.write(f"- {change}")
        if not report.changed:
            self.stdout.write(_("Declared flows and the database are in sync."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    ngettext(
                        "Synced %(count)d change.", "Synced %(count)d changes.", len(report.changes)
                    )
                    % {"count": len(report.changes)}
                )
            )
