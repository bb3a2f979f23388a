"""Benchmark: GET flows/{flow}/progress/ requests per second against a bare DRF view, on PostgreSQL.

    .venv/bin/python bench/api_progress.py [--requests 2000] [--users 200]

Both are called through Django's WSGI handler in this process (the test client), by
signed-in users, with the same middleware: the bare view is an ``APIView`` with
session authentication answering ``{"ok": true}`` without touching the database
beyond the session. The calls take turns, so the load of a shared machine falls on
both alike. Also prints the queries of one progress request for a subject with
nothing done, some steps done and the flow finished: the count must not change.
Target: progress >= 0.5x the bare view. Uses a throw-away database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "demo_project")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ["ONBOARDING_TEST_DATABASE"] = "postgres"
DB_NAME = "test_onboarding_bench_api_progress"
STEPS = ["signup", "profile", "project", "invite", "publish"]
PROGRESS_URL = "/onboarding/api/flows/wizard/progress/"
BARE_URL = "/bench/bare/"


def setup() -> None:
    import django
    from django.conf import settings

    settings.DATABASES["default"]["TEST"] = {"NAME": DB_NAME}
    settings.ALLOWED_HOSTS = ["testserver"]
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.ROOT_URLCONF = _urls()


def _urls() -> str:
    """The test project's URLs plus the bare view, as a module made here."""
    from django.urls import include, path
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class BareView(APIView):
        authentication_classes = [SessionAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request: object) -> Response:
            return Response({"ok": True})

    module = types.ModuleType("bench_progress_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path(BARE_URL.strip("/") + "/", BareView.as_view()),
        path("", include("tests.urls")),
    ]
    sys.modules[module.__name__] = module
    return module.__name__


def teardown() -> None:
    from django.db import connection

    connection.creation.destroy_test_db(DB_NAME, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="of each kind")
    parser.add_argument("--users", type=int, default=200)
    options = parser.parse_args()
    setup()
    try:
        run(options)
    finally:
        teardown()


def run(options: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from onboarding.tracking import complete

    user_model = get_user_model()
    users = list(
        user_model.objects.bulk_create(
            user_model(username=f"bench{n}") for n in range(options.users)
        )
    )
    # Subjects at every stage: nothing done (no progress row), some steps, finished.
    for number, user in enumerate(users):
        for step in STEPS[: number % (len(STEPS) + 1)]:
            complete(user, "wizard", step)
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)

    counts = []
    for index in (0, 2, len(STEPS)):  # nothing, two steps, finished
        clients[index].get(PROGRESS_URL)  # warm caches (content types, session)
        with CaptureQueriesContext(connection) as queries:
            body = clients[index].get(PROGRESS_URL).json()
        counts.append((body["done"], body["finished"], len(queries)))

    # Warm-up, then both kinds in turn.
    for client in clients[:20]:
        client.get(PROGRESS_URL)
        client.get(BARE_URL)
    elapsed = {PROGRESS_URL: 0.0, BARE_URL: 0.0}
    for number in range(options.requests):
        client = clients[number % len(clients)]
        for url in (PROGRESS_URL, BARE_URL) if number % 2 else (BARE_URL, PROGRESS_URL):
            started = time.perf_counter()
            response = client.get(url)
            elapsed[url] += time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
    progress = options.requests / elapsed[PROGRESS_URL]
    bare = options.requests / elapsed[BARE_URL]
    print(
        f"PostgreSQL {connection.pg_version // 10000}: {options.requests} GETs of each, "
        f"{options.users} signed-in users (Django's WSGI handler through the test client)"
    )
    print(f"  progress endpoint {progress:8.0f} requests/s")
    print(f"  bare DRF APIView  {bare:8.0f} requests/s")
    ratio = progress / bare
    print(
        f"  progress / bare = {ratio:.2f}x (target >= 0.5x): {'ok' if ratio >= 0.5 else 'MISSED'}"
    )
    for done, finished, queries in counts:
        print(
            f"  queries of one progress request, {done} steps done, finished {finished}: {queries}"
        )
    constant = len({queries for _done, _finished, queries in counts}) == 1
    print(f"  constant query count: {'yes' if constant else 'NO'}")


if __name__ == "__main__":
    main()
