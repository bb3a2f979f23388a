"""An e-mail backend that fails its first N sends, for retry tests.

``FlakyBackend`` keeps its count in memory and delivers to ``mail.outbox`` (in-process
tests); ``FlakyFileBackend`` keeps it in a file and writes each message to a file, so
that a test can watch a separate worker process.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from smtplib import SMTPServerDisconnected

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FlakyBackend(LocmemBackend):
    failures = 3
    attempts = 0

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.attempts <= FlakyBackend.failures:
            raise SMTPServerDisconnected(f"flaky: attempt {FlakyBackend.attempts} fails")
        return super().send_messages(messages)


class FlakyFileBackend(BaseEmailBackend):
    def send_messages(self, messages):
        folder = Path(settings.FLAKY_MAIL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        counter = folder / "attempts"
        attempts = int(counter.read_text() or 0) + 1 if counter.exists() else 1
        counter.write_text(str(attempts))
        failures = int(os.environ.get("ONBOARDING_TEST_MAIL_FAILURES", "3"))
        if attempts <= failures:
            raise SMTPServerDisconnected(f"flaky: attempt {attempts} fails")
        for index, message in enumerate(messages):
            (folder / f"sent-{attempts}-{index}.eml").write_bytes(message.message().as_bytes())
        return len(messages)


class RecordingFileBackend(BaseEmailBackend):
    """Each message to its own file, named uniquely: safe for several pool processes."""

    def send_messages(self, messages):
        folder = Path(settings.FLAKY_MAIL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            (folder / f"{uuid.uuid4()}.eml").write_bytes(message.message().as_bytes())
        return len(messages)


__all__ = ["FlakyBackend", "FlakyFileBackend", "RecordingFileBackend", "mail"]
