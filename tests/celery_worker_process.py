"""Start, watch and kill real ``celery worker`` processes on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the test database this process uses (``test_...``)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgres://{quote(db['USER'])}{password}@{host}/{db['NAME']}"


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Worker:
    """``celery -A tests.celery_app worker`` in its own process group.

    Killed with SIGKILL (the whole group, or one pool process) or stopped with SIGTERM;
    only the processes this object started are signalled.
    """

    def __init__(self, log: Path, env: dict[str, str], *, concurrency: int = 2) -> None:
        self.log_path = log
        self._log = log.open("a")
        command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker"]
        self.process = subprocess.Popen(
            [
                *command,
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "demo_project")]),
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes the pool too
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: " ready." in self.log(), timeout=timeout, what="the worker to start")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def kill_all(self) -> int:
        """SIGKILL the worker and its pool, as the OOM killer or ``kill -9`` would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=20)

    def pause(self) -> None:
        """SIGSTOP the main process (its pool runs on): it neither acks nor fetches."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill_child(self) -> int:
        """SIGKILL one pool process; the worker itself lives on and replaces it."""
        pid = self.children()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
