"""``manage.py onboarding_erase app_label.model ID [ID ...]``: GDPR erasure of subjects."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.api.subjects import subject_type
from onboarding.erase import erase


class Command(BaseCommand):
    help = (
        "Anonymize everything naming the given subjects (ids replaced by a pseudonym, "
        "labels, properties, recipients, logins and webhook log entries cleaned) while "
        "funnel counts stay. "
        "Their later events are refused. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("type", help='The subject model, e.g. "auth.user" or "teams.team".')
        parser.add_argument("ids", nargs="+", metavar="ID", help="Primary keys of the subjects.")

    def handle(self, *args: Any, type: str, ids: list[str], **options: Any) -> None:
        content_type = subject_type(type)
        if content_type is None:
            raise CommandError(f"Unknown subject type {type!r}: use app_label.model.")
        for subject_id in ids:
            report = erase(content_type, subject_id)
            state = "erased" if report.newly_erased else "already erased"
            self.stdout.write(
                f"{type} {subject_id}: {state}; anonymized {report.events} event(s), "
                f"{report.progress} progress row(s), {report.nudge_deliveries} nudge "
                f"delivery(ies), {report.opt_outs} opt-out(s); cleared the actor of "
                f"{report.actor_cleared} event(s); deleted {report.logins_deleted} login(s); "
                f"cleaned {report.webhook_deliveries} webhook delivery(ies)."
            )
