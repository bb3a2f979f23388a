"""``manage.py onboarding_seed``: synthetic users and a realistic funnel, for trying things out."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from onboarding.declarations import Flow
from onboarding.exceptions import UnknownFlow
from onboarding.registry import get_flow
from onboarding.seeding import Conversion, align_date_joined, seed_funnel


def _rates(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise CommandError(
            _("Rates must be numbers separated by commas, not %(text)r.") % {"text": text}
        ) from None


class Command(BaseCommand):
    help = (
        "Create COUNT users and a synthetic funnel of FLOW for them through the one write "
        "path (track_many): per-step durations, drop-off, smart defaults, duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--flow", required=True, help="Key of a declared flow.")
        parser.add_argument("--count", type=int, default=100, help="How many users.")
        parser.add_argument("--days", type=int, default=90, help="Spread entries over days.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed.")
        parser.add_argument(
            "--prefix", default="seed-", help="Username prefix; numbers are appended."
        )
        parser.add_argument(
            "--password",
            help="Password for every user (hashed once). Default: unusable passwords.",
        )
        parser.add_argument(
            "--conversion",
            action="append",
            default=[],
            metavar="[VARIANT=]P1,P2,...",
            help=(
                "Conditional conversion per step, for one variant or all. Repeat for each "
                "variant. Default: 0.8 for every step."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            flow = get_flow(options["flow"])
        except UnknownFlow as error:
            raise CommandError(str(error)) from None
        if options["count"] <= 0:
            raise CommandError(_("--count must be positive."))
        conversion = self._conversion(options["conversion"], flow)

        started = time.monotonic()
        with transaction.atomic():
            users = self._create_users(options["prefix"], options["count"], options["password"])
            try:
                summary = seed_funnel(
                    flow.key,
                    users,
                    conversion=conversion,
                    days=options["days"],
                    rng_seed=options["seed"],
                )
            except ValueError as error:
                raise CommandError(str(error)) from None
            align_date_joined(flow.key, users)
        self.stdout.write(
            _(
                "Seeded %(subjects)d subjects of flow %(flow)r in %(seconds).1f s: %(accepted)d "
                "events stored, %(duplicates)d duplicates ignored."
            )
            % {
                "subjects": summary.subjects,
                "flow": flow.key,
                "seconds": time.monotonic() - started,
                "accepted": summary.accepted,
                "duplicates": summary.duplicates,
            }
        )

    def _conversion(self, given: list[str], flow: Flow) -> Conversion:
        """``[VARIANT=]P1,P2,...`` options: a bare list applies to variants not named."""
        everyone: list[float] = [0.8] * len(flow.steps)
        named: dict[str, list[float]] = {}
        for text in given:
            variant, _sep, rates = text.rpartition("=")
            if variant:
                named[variant] = _rates(rates)
            else:
                everyone = _rates(rates)
        if not named:
            return everyone
        return {variant: named.get(variant, everyone) for variant in flow.variants} | named

    def _create_users(self, prefix: str, count: int, password: str | None) -> list[Any]:
        """New users after the highest existing number; one hash for all keeps it fast."""
        user_model = get_user_model()
        field = user_model.USERNAME_FIELD
        taken = set(
            user_model.objects.filter(**{f"{field}__startswith": prefix}).values_list(
                field, flat=True
            )
        )
        names: list[str] = []
        number = len(taken)
        while len(names) < count:
            number += 1
            if f"{prefix}{number}" not in taken:
                names.append(f"{prefix}{number}")
        hashed = make_password(password)  # ``None`` gives an unusable password
        user_model.objects.bulk_create(
            [user_model(**{field: name, "password": hashed}) for name in names], batch_size=500
        )
        users: list[Any] = []
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            users += user_model.objects.filter(**{f"{field}__in": chunk}).order_by("pk")
        return users
