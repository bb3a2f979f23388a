"""``manage.py onboarding_nudge``: evaluate nudge rules now, by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from onboarding.nudges.evaluate import evaluate
from onboarding.nudges.rules import rule_registry


class Command(BaseCommand):
    help = "Evaluate the declared nudge rules: claim due nudges and queue their e-mails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rule", action="append", dest="rules", help="Only this rule key.")
        parser.add_argument("--batch-size", type=int, help="Progress rows per batch.")
        parser.add_argument("--now", help="Evaluate as at this ISO datetime (for replays).")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = options["rules"] or None
        for key in keys or []:
            if key not in rule_registry.rules:
                raise CommandError(f"Unknown nudge rule {key!r}.")
        now = None
        if options["now"]:
            now = parse_datetime(options["now"])
            if now is None:
                raise CommandError(f"--now: {options['now']!r} is not an ISO datetime.")
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        if not rule_registry.all():
            self.stdout.write("No nudge rules are declared.")
            return
        for report in evaluate(keys, now=now, batch_size=options["batch_size"]):
            self.stdout.write(
                f"{report.rule}: scanned {report.scanned} in {report.batches} batches, "
                f"due {report.due}, opted out {report.opted_out}, "
                f"held out {report.held_out}, queued {report.queued}"
            )
