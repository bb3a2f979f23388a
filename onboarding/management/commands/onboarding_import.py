"""``manage.py onboarding_import FILE``: historical events from JSON Lines, idempotently."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.api.imports import ImportReport, import_events
from onboarding.conf import onboarding_settings


class Command(BaseCommand):
    help = (
        "Import historical events from a JSON Lines file ('-' for standard input), one "
        'event per line: {"id", "flow", "step", "kind", "occurred_at", "properties", '
        '"subject": {"type": "app_label.model", "id": ...} or a user id}. Lines without '
        "an id get one made from their content, so a re-run stores nothing twice. "
        "Invalid lines are reported with their number and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the .jsonl file, or - for standard input.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Lines per transaction (default: ONBOARDING['BATCH_SIZE']).",
        )

    def handle(self, *args: Any, file: str, batch_size: int | None, **options: Any) -> None:
        size = onboarding_settings.BATCH_SIZE if batch_size is None else batch_size
        if size < 1:
            raise CommandError(f"--batch-size must be at least 1, not {size}.")
        total = None if file == "-" else _count_lines(file)
        live = self.stderr.isatty()
        # On a terminal the progress line is rewritten in place; each write clears it first.
        clear = "\r\033[K" if live else ""

        def progress(report: ImportReport, errors: list[tuple[int, str, str]]) -> None:
            for line, field, message in errors:
                self.stderr.write(f"{clear}line {line}: {field}: {message}")
            done = f"{report.lines}/{total} lines" if total else f"{report.lines} lines"
            if total:
                done += f" ({100 * report.lines // max(total, 1)}%)"
            self.stderr.write(
                f"{clear}{done}: {report.accepted} accepted, "
                f"{report.duplicates} duplicates, {report.invalid} invalid",
                ending="" if live else "\n",
            )

        with _open(file) as stream:
            report = import_events(stream, batch_size=size, on_batch=progress)
        if live:
            self.stderr.write("")
        self.stdout.write(
            f"Imported {report.lines} lines: {report.accepted} events stored, "
            f"{report.duplicates} already stored, {report.invalid} invalid lines skipped."
        )


def _count_lines(path: str) -> int:
    try:
        with Path(path).open("rb") as stream:
            return sum(1 for _line in stream)
    except OSError as error:
        raise CommandError(f"Cannot read {path!r}: {error.strerror or error}.") from None


@contextmanager
def _open(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
        return
    with Path(path).open("rb") as stream:
        yield stream
