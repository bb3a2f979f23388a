"""POST events/ under load on PostgreSQL, over a live HTTP server.

50 clients send 200 events each, in batches of 100; every batch is sent four times
(its client once, then three other clients re-send it, at the same time as everything
else). Exactly 10,000 events are stored: none lost, none twice, and the responses
count each event accepted exactly once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests

from onboarding.api.keys import create_key
from onboarding.models import Event, Progress, StepState
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 50
EVENTS_PER_CLIENT = 200
BATCH = 100
RESENDS = 3
T0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
STEPS = ["signup", "profile", "project", "invite", "publish"]
KINDS = ["viewed", "completed", "completed", "skipped"]


def client_batches(number: int, subjects: list[str]) -> list[list[dict]]:
    """Client ``number``'s events, naming its own subject and its neighbour's, so that
    concurrent batches contend for the same progress rows."""
    rng = random.Random(number)
    events = [
        {
            "id": str(uuid.uuid4()),
            "flow": "wizard",
            "step": rng.choice(STEPS),
            "kind": rng.choice(KINDS),
            "occurred_at": (T0 + timedelta(seconds=rng.randrange(86_400))).isoformat(),
            "subject": {"type": "auth.user", "id": subjects[(number + i % 2) % CLIENTS]},
        }
        for i in range(EVENTS_PER_CLIENT)
    ]
    return [events[start : start + BATCH] for start in range(0, len(events), BATCH)]


def test_concurrent_clients_resending_every_batch_store_each_event_once(live_server, settings):
    settings.ONBOARDING = {"API_THROTTLE_RATES": {"subject": None, "key": None}}
    subjects = [str(user.pk) for user in UserFactory.create_batch(CLIENTS)]
    _key, secret = create_key("load", scopes=["ingest"])
    batches = [client_batches(number, subjects) for number in range(CLIENTS)]
    # Each client sends its own batches and re-sends those of the next three clients.
    work = []
    for number in range(CLIENTS):
        sends = [
            batch
            for owner in [number] + [(number + k) % CLIENTS for k in range(1, RESENDS + 1)]
            for batch in batches[owner]
        ]
        random.Random(number).shuffle(sends)
        work.append(sends)
    url = f"{live_server.url}/onboarding/api/events/"
    barrier = threading.Barrier(CLIENTS)
    statuses: Counter[int] = Counter()
    totals = Counter()
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Api-Key {secret}"
            barrier.wait(timeout=30)
            for batch in work[number]:
                # A real client re-sends a batch whose connection broke (on 2 cores the
                # test server's accept queue can overflow): ids make that harmless.
                for attempt in range(5):
                    try:
                        response = session.post(url, json={"events": batch}, timeout=90)
                        break
                    except requests.ConnectionError as error:
                        with lock:
                            totals["reconnects"] += 1
                        last_error = error
                        time.sleep(0.2 * (attempt + 1))
                else:
                    with lock:
                        failures.append(f"client {number}: {last_error}")
                    continue
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:300]}")
                        continue
                    body = response.json()
                    totals["accepted"] += body["accepted"]
                    totals["duplicates"] += body["duplicates"]
                    totals["errors"] += len(body["errors"])

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    elapsed = time.perf_counter() - started

    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert failures == []
    sent = CLIENTS * EVENTS_PER_CLIENT
    assert statuses == {200: CLIENTS * (EVENTS_PER_CLIENT // BATCH) * (1 + RESENDS)}
    # Every event accepted exactly once; all the other sends of it were duplicates. A
    # batch re-sent after a broken connection may add duplicates, never acceptances.
    assert totals["accepted"] == sent
    assert totals["errors"] == 0
    assert sent * RESENDS <= totals["duplicates"] <= sent * RESENDS + totals["reconnects"] * BATCH
    expected_ids = {uuid.UUID(event["id"]) for own in batches for b in own for event in b}
    assert len(expected_ids) == sent
    assert Event.objects.count() == sent
    assert set(Event.objects.values_list("id", flat=True)) == expected_ids
    # The derived state took every event in: one progress row per subject, and each
    # step completed in the events is done in the progress.
    assert Progress.objects.count() == CLIENTS
    completed = {
        (event["subject"]["id"], event["step"])
        for own in batches
        for b in own
        for event in b
        if event["kind"] == "completed"
    }
    done = set(
        StepState.objects.filter(completed_at__isnull=False).values_list(
            "progress__subject_id", "step_key"
        )
    )
    assert done == completed
    print(
        f"\n{sent * (1 + RESENDS)} events in {len(threads)} clients over HTTP: {elapsed:.1f} s, "
        f"{sent * (1 + RESENDS) / elapsed:.0f} events/s ({sent / elapsed:.0f} stored/s)"
    )
