"""``manage.py onboarding_sweep``: queue again the background tasks that were lost."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.sweeper import sweep, sweepables


class Command(BaseCommand):
    help = (
        "Queue again the tasks lost by a dead worker or a broker outage (nudge sends, and "
        "whatever else is registered with onboarding.sweeper)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", action="append", dest="names", help="Only this sweepable (repeatable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["names"]
        for name in names or []:
            if name not in sweepables.names():
                known = ", ".join(sweepables.names()) or "none"
                raise CommandError(f"Unknown sweepable {name!r} (registered: {known}).")
        failed = []
        for result in sweep(names):
            line = f"{result.name}: queued again {result.requeued}"
            if result.needs_attention:
                line += f", {result.needs_attention} need staff (see the admin)"
            if result.error:
                failed.append(result.name)
                line += f", failed: {result.error}"
            self.stdout.write(line)
        if failed:
            raise CommandError(f"Sweep failed for {', '.join(failed)}; run it again later.")
