"""Webhooks against receivers that fail: trickling, hanging, redirecting, talking garbage,
at private addresses, and a broker down when the event commits."""

from __future__ import annotations

import logging
import socket
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from onboarding import track
from onboarding.webhooks import requeue_stale_deliveries
from onboarding.webhooks.checks import check_webhooks
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import UserFactory
from tests.webhook_receiver import (
    FilteredPort,
    SilentPort,
    closed_port,
    disconnect,
    garbage,
    hang,
    receivers,
    redirect_to,
    self_signed,
    trickle,
)

pytestmark = pytest.mark.django_db
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def receiver():
    yield from receivers()


def hooks(*endpoints, **extra):
    options = {"WEBHOOK_RETRY_BACKOFF_SECONDS": 0, "WEBHOOK_MAX_RETRIES": 0, **extra}
    return override_settings(ONBOARDING={"WEBHOOKS": list(endpoints), **options})


def local(url, **extra):
    """An endpoint at a local receiver, which it must opt in to."""
    return {"url": url, "secret": SECRET, "allow_private": True, **extra}


def send_one(capture) -> float:
    """Track one completed step (one webhook) and return the seconds it took to send."""
    started = time.monotonic()
    with capture(execute=True):
        track(UserFactory(), "wizard", "signup")
    return time.monotonic() - started


# A total deadline per attempt ------------------------------------------------------


def test_a_trickling_receiver_is_cut_off_at_the_deadline(
    receiver, django_capture_on_commit_callbacks
):
    # 94 bytes at one every 0.25 s: 23 s to answer 200 if nothing cut it off.
    server = receiver(trickle(0.25))
    with hooks(local(server.url), WEBHOOK_TIMEOUT_SECONDS=2):
        took = send_one(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "could not connect"
    assert took < 8, took  # 2 s and the test's own work; 23 s unbounded
    print(f"\ntrickling receiver: one attempt took {took:.2f} s (deadline 2 s)")


def test_each_retry_has_its_own_deadline(receiver, django_capture_on_commit_callbacks):
    server = receiver(hang, trickle(0.25), 200)
    with hooks(local(server.url), WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_MAX_RETRIES=2):
        took = send_one(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(server.requests)) == ("delivered", 3, 3)
    assert took < 8, took
    print(f"\nhang, trickle, 200: three attempts took {took:.2f} s (deadline 1 s each)")


def test_a_filtered_port_is_bounded_by_the_deadline(django_capture_on_commit_callbacks):
    port = FilteredPort()
    try:
        with hooks(local(f"http://127.0.0.1:{port.port}/hook"), WEBHOOK_TIMEOUT_SECONDS=1):
            took = send_one(django_capture_on_commit_callbacks)
    finally:
        port.close()

    assert WebhookDelivery.objects.get().last_error == "could not connect"
    assert took < 6, took


def test_https_checks_the_certificate_and_keeps_the_deadline(
    receiver, django_capture_on_commit_callbacks, monkeypatch, tmp_path
):
    pem = self_signed(tmp_path)
    server = receiver(200, trickle(0.25), tls=pem)
    with hooks(local(server.url), WEBHOOK_TIMEOUT_SECONDS=2):
        send_one(django_capture_on_commit_callbacks)  # a certificate nobody trusts
        # OpenSSL's own way to trust another certificate store, read at each delivery.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        send_one(django_capture_on_commit_callbacks)
        took = send_one(django_capture_on_commit_callbacks)  # trickling through TLS

    rows = WebhookDelivery.objects.order_by("created_at")
    assert [(row.status, row.last_error) for row in rows] == [
        ("failed", "could not connect"),
        ("delivered", ""),
        ("failed", "could not connect"),
    ]
    assert len(server.requests) == 2 and server.requests[0]["headers"]["Host"] == (
        f"127.0.0.1:{server.port}"
    )
    assert took < 8, took


def test_a_tls_handshake_that_never_ends_is_bounded(django_capture_on_commit_callbacks):
    port = SilentPort()
    try:
        with hooks(local(f"https://127.0.0.1:{port.port}/hook"), WEBHOOK_TIMEOUT_SECONDS=1):
            took = send_one(django_capture_on_commit_callbacks)
    finally:
        port.close()

    assert WebhookDelivery.objects.get().last_error == "could not connect"
    assert took < 6, took


# Redirects are failures ------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failure_and_is_not_followed(
    receiver, django_capture_on_commit_callbacks, status
):
    elsewhere = receiver(200)
    server = receiver(redirect_to(elsewhere.url, status))
    with hooks(local(server.url)):
        send_one(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_status) == ("failed", status)
    assert delivery.last_error == f"HTTP {status} (redirects are not followed)"
    assert len(server.requests) == 1
    assert elsewhere.requests == []  # neither the signed headers nor a GET went there


# Private addresses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://127.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:8000/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://localhost:8000/hook",
        "http://api.localhost/hook",
    ],
)
def test_an_endpoint_at_a_private_address_is_a_check_error(url):
    with override_settings(ONBOARDING={"WEBHOOKS": [{"url": url, "secret": SECRET}]}):
        [error] = check_webhooks()
    with override_settings(
        ONBOARDING={"WEBHOOKS": [{"url": url, "secret": SECRET, "allow_private": True}]}
    ):
        assert check_webhooks() == []

    assert error.id == "onboarding.E015"
    assert "ONBOARDING[\"WEBHOOKS\"][0]['url']" in error.msg
    assert "allow_private" in error.hint


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "https://93.184.215.14/x"])
def test_a_public_endpoint_passes_the_check(url):
    with override_settings(ONBOARDING={"WEBHOOKS": [{"url": url, "secret": SECRET}]}):
        assert check_webhooks() == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"]
)
def test_a_private_address_is_refused_at_send_time_too(
    receiver, django_capture_on_commit_callbacks, host
):
    server = receiver(200)
    url = f"http://{host}:{server.port}/hook"
    with hooks({"url": url, "secret": SECRET}, WEBHOOK_MAX_RETRIES=3):
        send_one(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert server.requests == []
    assert (delivery.status, delivery.attempts) == ("failed", 1)  # not retried: it would not help
    assert delivery.last_error.startswith(f"refused: {host.strip('[]')}")
    assert "is not a public address" in delivery.last_error


def test_the_address_checked_is_the_address_connected_to(
    receiver, django_capture_on_commit_callbacks, monkeypatch
):
    # A resolver that answers a public address first and the receiver's loopback
    # address afterwards (DNS rebinding): the one answer checked is the one used.
    server = receiver(200)
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example.com":
            return real(host, port, *args, **kwargs)
        address = "93.184.215.14" if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.example.com:{server.port}/hook"
    with hooks({"url": url, "secret": SECRET}, WEBHOOK_TIMEOUT_SECONDS=1):
        send_one(django_capture_on_commit_callbacks)

    assert answers == ["93.184.215.14"]  # resolved once
    assert server.requests == []
    assert WebhookDelivery.objects.get().last_error == "could not connect"


def test_a_name_is_resolved_once_and_sent_with_its_host_header(
    receiver, django_capture_on_commit_callbacks, monkeypatch
):
    server = receiver(200)
    real = socket.getaddrinfo
    calls = []

    def resolver(host, port, *args, **kwargs):
        calls.append(host)
        if host == "hooks.internal.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with hooks(local(f"http://hooks.internal.test:{server.port}/hook?via=test")):
        send_one(django_capture_on_commit_callbacks)

    assert calls == ["hooks.internal.test"]
    [request] = server.requests
    assert request["headers"]["Host"] == f"hooks.internal.test:{server.port}"
    assert WebhookDelivery.objects.get().status == "delivered"


def test_failures_read_the_same_whatever_the_port_does(
    receiver, django_capture_on_commit_callbacks
):
    """Closed, filtered, open but not HTTP, hanging, hanging up: the admin can tell none
    of them apart (no port scanning through the delivery log)."""
    filtered = FilteredPort()
    urls = {
        "closed": f"http://127.0.0.1:{closed_port()}/",
        "filtered": f"http://127.0.0.1:{filtered.port}/",
        "not http": receiver(garbage).url,
        "hanging": receiver(hang).url,
        "hanging up": receiver(disconnect).url,
    }
    endpoints = [local(url, name=name) for name, url in urls.items()]
    try:
        with hooks(*endpoints, WEBHOOK_TIMEOUT_SECONDS=1):
            send_one(django_capture_on_commit_callbacks)
    finally:
        filtered.close()

    errors = dict(WebhookDelivery.objects.values_list("endpoint", "last_error"))
    assert errors == dict.fromkeys(urls, "could not connect")
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}


# Nothing lost when the broker is down at commit ------------------------------------


@pytest.fixture
def dead_broker():
    """Publish to a broker nobody listens on (not eagerly) for one test."""
    from celery import _state
    from kombu import pools

    from tests.celery_app import app

    def forget(one):
        pools.reset()
        one._pool = None
        one.amqp._producer_pool = None

    previous = _state.get_current_app()
    app.set_current()
    keys = ("broker_url", "task_always_eager", "task_publish_retry_policy")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(
        broker_url=f"redis://127.0.0.1:{closed_port()}/0",
        task_always_eager=False,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0},
    )
    forget(app)
    try:
        yield app
    finally:
        forget(app)
        app.conf.update(saved)
        forget(previous)
        previous.set_current()


@pytest.mark.django_db(transaction=True)
def test_track_does_not_raise_when_the_broker_is_down_at_commit(receiver, dead_broker, caplog):
    server = receiver(200)
    with hooks(local(server.url)), caplog.at_level(logging.ERROR, "onboarding.webhooks"):
        result = track(UserFactory(), "wizard", "signup")  # autocommit: queued at once

    assert result.accepted == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert f"Webhook delivery {delivery.pk} could not be queued" in caplog.text
    assert server.requests == []


def test_the_sweep_queues_deliveries_left_pending(receiver):
    server = receiver(200)
    now = timezone.now()
    with hooks(local(server.url)):
        # Recorded, never queued (the broker was down at commit) ...
        lost = _row(server.url, due=now - timedelta(minutes=20))
        # ... waiting for its retry, just queued, and done: none of them is touched.
        waiting = _row(server.url, due=now + timedelta(minutes=10), attempts=2)
        fresh = _row(server.url, due=now - timedelta(minutes=1))
        done = _row(server.url, due=now - timedelta(hours=2), status="delivered")

        queued = requeue_stale_deliveries(older_than=timedelta(minutes=15))
        again = requeue_stale_deliveries(older_than=timedelta(minutes=15))

    assert (queued, again) == (1, 0)
    states = {
        row.pk: (row.status, row.attempts)
        for row in WebhookDelivery.objects.filter(pk__in=[lost, waiting, fresh, done])
    }
    assert states == {
        lost: ("delivered", 1),
        waiting: ("pending", 2),
        fresh: ("pending", 0),
        done: ("delivered", 0),
    }
    assert [request["headers"]["Onboarding-Delivery"] for request in server.requests] == [str(lost)]


def test_the_sweep_runs_from_beat_and_takes_lost_deliveries(receiver):
    from onboarding.beat import ENTRIES
    from onboarding.sweeper import sweep

    assert {"task": "onboarding.sweep", "schedule": 300.0} in ENTRIES.values()
    server = receiver(200)
    with hooks(local(server.url)):
        lost = _row(server.url, due=timezone.now() - timedelta(hours=1))
        results = {result.name: result for result in sweep()}

    assert results["webhooks"].requeued == 1
    assert WebhookDelivery.objects.get(pk=lost).status == "delivered"


def _row(url, *, due, attempts=0, status="pending"):
    return WebhookDelivery.objects.create(
        endpoint=url,
        url=url,
        event="step_completed",
        flow_key="wizard",
        step_key="signup",
        payload={"event": "step_completed"},
        status=status,
        attempts=attempts,
        next_attempt_at=due,
    ).pk


def test_admin_resends_pending_deliveries_too(admin_client, receiver):
    server = receiver(200)
    with hooks(local(server.url, name="crm")):
        pending = _row("crm", due=timezone.now())
        WebhookDelivery.objects.filter(pk=pending).update(url=server.url)
        url = reverse("admin:onboarding_webhookdelivery_changelist")
        page = admin_client.post(
            url, {"action": "redeliver", "_selected_action": [str(pending)]}, follow=True
        )

    assert page.status_code == 200
    assert "1 delivery queued." in page.content.decode()
    assert WebhookDelivery.objects.get(pk=pending).status == "delivered"
    assert len(server.requests) == 1


def test_admin_resend_with_the_broker_down_keeps_the_rows_pending(admin_client, dead_broker):
    with hooks(local("http://127.0.0.1:9/", name="crm")):
        rows = [_row("crm", due=timezone.now(), status="failed") for _ in range(2)]
        page = admin_client.post(
            reverse("admin:onboarding_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [str(pk) for pk in rows]},
            follow=True,
        )

    assert page.status_code == 200
    assert "The task queue could not be reached: 2 deliveries stay pending" in (
        page.content.decode()
    )
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
