"""``manage.py onboarding_funnel_paths [flow ...]``: rebuild the funnel's per-subject rows."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from onboarding.funnel.paths import rebuild_paths


class Command(BaseCommand):
    help = (
        "Derive the funnel's per-subject rows from progress and step states again (every "
        "flow, or the flows named): after an upgrade, or after writing progress rows "
        "other than through track()."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("flows", nargs="*", help="Flow keys (default: every flow).")

    def handle(self, *flows: str, **options: Any) -> None:
        rows = rebuild_paths(list(flows) or None)
        self.stdout.write(_("%(rows)d funnel rows rebuilt") % {"rows": rows})
