"""``manage.py onboarding_rollup [flow ...] [--rebuild]``: refresh the funnel rollups."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from onboarding.exceptions import UnknownFlow
from onboarding.registry import registry
from onboarding.rollups.build import refresh_rollup


class Command(BaseCommand):
    help = (
        "Recount the funnel rollup of the cohorts still inside their conversion window "
        "(every flow, or the flows named). With --rebuild, recount every cohort."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("flows", nargs="*", help="Flow keys (default: every declared flow).")
        parser.add_argument(
            "--rebuild", action="store_true", help="Recount every cohort, final ones too."
        )

    def handle(self, *flows: str, rebuild: bool = False, **options: Any) -> None:
        keys = list(flows) or [flow.key for flow in registry.all()]
        for key in keys:
            try:
                report = refresh_rollup(key, rebuild=rebuild)
            except UnknownFlow as error:
                raise CommandError(str(error)) from None
            days = (
                _("no entries")
                if report.first_day is None
                else f"{report.first_day} .. {report.last_day}"
            )
            how = _("rebuilt") if report.rebuilt else _("refreshed")
            self.stdout.write(
                _("%(flow)s: %(how)s %(days)s, %(rows)d rows")
                % {"flow": key, "how": how, "days": days, "rows": report.rows}
            )
