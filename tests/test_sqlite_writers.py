"""The embedded default under concurrent writers: two real ``runserver`` processes of the
demo, on its own SQLite settings (a temporary file through ``DATABASE_URL``).

8 clients send 250 events each in batches of 50, every batch twice (once to each
server), all at the same time. No request may fail ("database is locked" was a 500),
and exactly 2,000 events are stored.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo_project"
CLIENTS = 8
EVENTS_PER_CLIENT = 250
BATCH = 50
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
STEPS = ["signup", "dashboard", "word_list", "customize", "print"]
KINDS = ["viewed", "started", "completed", "completed"]

SETUP = f"""
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from onboarding.api.keys import create_key
call_command("migrate", verbosity=0, interactive=False)
users = [get_user_model().objects.create_user(f"writer{{n}}").pk for n in range({CLIENTS})]
print(json.dumps({{"key": create_key("writers", scopes=["ingest"])[1], "users": users}}))
"""


def described(response: requests.Response) -> str:
    """The status and what the body says: the JSON, or an HTML page's title."""
    title = re.search(r"<title>\s*(.*?)\s*</title>", response.text, re.S)
    return f"{response.status_code}: {title.group(1) if title else response.text[:200]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll until the server answers anything (it checks and loads for a while first)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.25)
    pytest.fail(f"the server at {url} did not answer within 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def demo_env(tmp_path):
    """The environment of a demo process on a fresh SQLite file."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(DEMO)]),
    }
    env.pop("CELERY_BROKER_URL", None)  # the embedded default: tasks run inline
    return env


@pytest.fixture
def demo_data(demo_env):
    """The schema, one user per client and an ingest key, made by a demo process."""
    done = subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=DEMO,
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def servers(demo_data, demo_env, tmp_path):
    """Two ``runserver --noreload`` processes of the demo; stopped (by pid) afterwards."""
    started = []
    try:
        for number in range(2):
            port = free_port()
            log = tmp_path / f"server{number}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                    cwd=DEMO,
                    env=demo_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in started:
            wait_until_serving(f"{url}/onboarding/api/flows/", process, log)
        yield [url for _process, url, _log in started]
    finally:
        for process, _url, _log in started:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def batches_of(number: int, user_ids: list[int]) -> list[list[dict]]:
    """Client ``number``'s events, naming its own user and its neighbour's, so that
    batches from both servers contend for the same progress rows."""
    rng = random.Random(number)
    events = [
        {
            "id": str(uuid.uuid4()),
            "flow": "bingo",
            "step": rng.choice(STEPS),
            "kind": rng.choice(KINDS),
            "occurred_at": (T0 + timedelta(seconds=rng.randrange(86_400))).isoformat(),
            "subject": {"type": "auth.user", "id": str(user_ids[(number + i % 2) % CLIENTS])},
        }
        for i in range(EVENTS_PER_CLIENT)
    ]
    return [events[start : start + BATCH] for start in range(0, len(events), BATCH)]


def test_two_server_processes_take_concurrent_writers_on_the_demo_sqlite(
    demo_data, servers, demo_env
):
    work = [batches_of(number, demo_data["users"]) for number in range(CLIENTS)]
    answers: Counter[int] = Counter()
    totals: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        sessions = [requests.Session() for _url in servers]
        for session in sessions:
            session.headers["Authorization"] = f"Api-Key {demo_data['key']}"
        barrier.wait(timeout=60)
        for index, batch in enumerate(work[number]):
            # Each batch to both servers, the first one alternating between them.
            for send in range(2):
                which = (number + index + send) % 2
                try:
                    response = sessions[which].post(
                        f"{servers[which]}/onboarding/api/events/",
                        json={"events": batch},
                        timeout=120,
                    )
                except requests.RequestException as error:
                    with lock:
                        failures.append(f"client {number}: {error}")
                    continue
                with lock:
                    answers[response.status_code] += 1
                    if not 200 <= response.status_code < 300:
                        failures.append(described(response))
                        continue
                    body = response.json()
                    totals["accepted"] += body["accepted"]
                    totals["duplicates"] += body["duplicates"]
                    totals["errors"] += len(body["errors"])
        for session in sessions:
            session.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started

    database = demo_env["DATABASE_URL"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(database)) as stored:
        [(count,)] = stored.execute("SELECT COUNT(*) FROM onboarding_event").fetchall()
    sent = CLIENTS * EVENTS_PER_CLIENT
    print(
        f"\n{2 * sent} events to 2 processes in {elapsed:.1f} s: {len(failures)} of "
        f"{2 * sent // BATCH} requests failed, {count} of {sent} events stored"
    )

    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert Counter(failures) == {}
    assert answers == {200: 2 * sent // BATCH}
    assert totals == {"accepted": sent, "duplicates": sent, "errors": 0}
    assert count == sent
