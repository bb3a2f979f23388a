"""``manage.py onboarding_backfill``: record steps existing data says are already done."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from onboarding.backfill import BackfillReport, BatchProgress, FlowBackfill, backfill
from onboarding.exceptions import OnboardingError, UnknownFlow


class Command(BaseCommand):
    help = (
        "Evaluate each step's done_when predicate for every existing user's subject and "
        "record the steps already done. Resumable: continues after the last batch of an "
        "interrupted run unless --restart is given. Re-running never counts a step twice."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--flow",
            dest="flows",
            action="extend",
            nargs="+",
            metavar="KEY",
            help="Only these flows (default: every flow with a done_when step).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            help="Users per batch and per transaction (default: ONBOARDING['BATCH_SIZE']).",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Forget the stored checkpoint and start again from the first user.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Evaluate the predicates and report, but write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size is not None and batch_size < 1:
            raise CommandError(
                _("--batch-size must be at least 1, got %(size)d.") % {"size": batch_size}
            )
        self.verbosity = options["verbosity"]
        try:
            report = backfill(
                flows=options["flows"],
                batch_size=batch_size,
                restart=options["restart"],
                dry_run=options["dry_run"],
                on_batch=self._progress,
            )
        except UnknownFlow as error:
            raise CommandError(str(error)) from error
        except OnboardingError as error:
            if options["dry_run"]:
                raise CommandError(str(error)) from error
            raise CommandError(
                _("%(error)s Earlier batches are saved: run the command again to resume.")
                % {"error": error}
            ) from error
        self._summary(report)

    def _progress(self, progress: BatchProgress) -> None:
        if self.verbosity >= 1:
            self.stdout.write(
                _("%(flow)s: %(processed)d/%(total)d users (%(percent)d%%)")
                % {
                    "flow": progress.flow,
                    "processed": progress.processed,
                    "total": progress.total,
                    "percent": progress.percent,
                }
            )

    def _summary(self, report: BackfillReport) -> None:
        if self.verbosity < 1:
            return
        for flow in report.flows:
            self.stdout.write(self._flow_line(flow))
        values = {"subjects": report.subjects_examined, "events": report.events_recorded}
        if report.dry_run:
            line = _(
                "Dry run, nothing was written. Subjects examined: %(subjects)d, "
                "events that would be recorded: %(events)d."
            )
        else:
            line = _("Subjects examined: %(subjects)d, events recorded: %(events)d.")
        self.stdout.write(self.style.SUCCESS(line % values))

    def _flow_line(self, flow: FlowBackfill) -> str:
        if not flow.steps:
            return _("%(flow)s: no step has a done_when predicate; nothing to backfill.") % {
                "flow": flow.flow
            }
        values = {
            "flow": flow.flow,
            "users": flow.users_processed,
            "subjects": flow.subjects_examined,
            "events": flow.events_recorded,
            "after": flow.resumed_after,
        }
        line = _("%(flow)s: users %(users)d, subjects %(subjects)d, events %(events)d") % values
        if flow.resumed_after is not None:
            line += " " + _("(resumed after user pk %(after)s; --restart starts over)") % values
        if flow.users_without_subject:
            line += " " + _("(users without a subject: %(count)d)") % {
                "count": flow.users_without_subject
            }
        return line
