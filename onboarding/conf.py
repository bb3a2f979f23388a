"""The ``ONBOARDING`` settings dict: defaults in one place, read lazily.

Like DRF's ``api_settings``: ``onboarding_settings.WINDOW_DAYS`` reads the host's
``settings.ONBOARDING`` with defaults filled in, and a ``setting_changed`` receiver
drops the cache so ``override_settings(ONBOARDING=...)`` works in tests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Dotted path to a callable ``(user) -> model instance`` naming whose progress it
    # is (a team, an account). ``None``: the user is the subject.
    "SUBJECT_RESOLVER": None,
    # Conversion window in days for flows that do not declare one.
    "WINDOW_DAYS": 14,
    # Sync declared flows into the database after ``migrate``.
    "SYNC_ON_MIGRATE": True,
    # Module name looked up in every installed app for flow declarations.
    "FLOWS_MODULE": "onboarding_flows",
    # Events whose ``occurred_at`` lies further in the future than this many seconds
    # are clamped to the time they were received (clocks of clients drift).
    "MAX_FUTURE_SKEW_SECONDS": 300,
    # Largest JSON size of one event's ``properties``, in bytes.
    "MAX_PROPERTIES_BYTES": 8192,
    # Most groups one funnel breakdown may build (entry weeks: 520 is ten years); a range
    # giving more is refused (400 naming this limit). Ranges are first cut to the data.
    "FUNNEL_MAX_GROUPS": 520,
    # Rows per batch for the backfill command and bulk tracking.
    "BATCH_SIZE": 500,
    # REST API (``onboarding.api``). A request over a limit gets 413 naming it; the
    # batch limits are checked from Content-Length and a bounded read, before parsing.
    "API_MAX_EVENT_BYTES": 32 * 1024,
    "API_MAX_BATCH_BYTES": 500 * 1024,
    "API_MAX_BATCH_EVENTS": 100,
    # DRF rates ("100/minute"); ``None`` turns a throttle off. "subject" counts per
    # subject (team members share it), "key" per API key.
    "API_THROTTLE_RATES": {"subject": "600/minute", "key": "6000/minute"},
    # Default and largest page size of API lists (``?page_size=`` is capped).
    "API_PAGE_SIZE": 20,
    "API_MAX_PAGE_SIZE": 100,
    # Origins allowed to call the API cross-origin (CORS), e.g. "https://app.example.com".
    # Cross-origin calls authenticate with an embed token, never cookies.
    "API_CORS_ORIGINS": [],
    # Lifetime in seconds of signed embed tokens (``onboarding.api.embed``).
    "EMBED_TOKEN_MAX_AGE": 15 * 60,
    # Nudges (``onboarding.nudges``). Share of due subjects per rule kept as a control
    # group that gets no e-mail (a rule's own ``holdout`` wins).
    "NUDGE_HOLDOUT": 0.10,
    # Progress rows read per batch by the evaluator: memory stays flat at any size.
    "NUDGE_BATCH_SIZE": 500,
    # Sender address; ``None``: Django's DEFAULT_FROM_EMAIL.
    "NUDGE_FROM_EMAIL": None,
    # Scheme and host put before the unsubscribe path in e-mails, e.g. "https://app.example.com".
    "NUDGE_BASE_URL": "",
    # Dotted path to ``(subject) -> list[str]`` of addresses; ``None``: a user subject's e-mail.
    "NUDGE_RECIPIENTS": None,
    # Dotted path to ``(subject) -> bool``: True never nudges the subject (besides the
    # opt-outs recorded by the unsubscribe link).
    "NUDGE_OPTED_OUT": None,
    # Dotted path to ``(subject) -> str | None``: the language of its e-mails; ``None``:
    # LANGUAGE_CODE.
    "NUDGE_LANGUAGE": None,
    # A pause in activity longer than this ends a session (first-session red flag).
    "NUDGE_SESSION_GAP_MINUTES": 30,
    # Record logins (``user_logged_in``) for the login-count red flag.
    "NUDGE_RECORD_LOGINS": True,
    # A failed send is retried this many times by Celery, waiting
    # min(BACKOFF * 2**attempt, BACKOFF_MAX) seconds in between.
    "NUDGE_SEND_MAX_RETRIES": 5,
    "NUDGE_RETRY_BACKOFF_SECONDS": 60,
    # Below Redis's default visibility timeout (1 h), or a waiting retry is redelivered.
    "NUDGE_RETRY_BACKOFF_MAX_SECONDS": 1800,
    # A pending nudge whose send was due this long ago and never started lost its task
    # (worker died, broker down): the sweeper (``onboarding.sweep``) queues it again. A
    # send started this long ago and never finished is shown to staff as stuck.
    "NUDGE_SWEEP_AFTER_SECONDS": 600,
    # Lift counts a nudge's step as converted when it is completed within this many days.
    "NUDGE_LIFT_WINDOW_DAYS": 7,
    # Experiments (variants, nudges against holdouts; docs/experiments.md). The verdict's
    # test: "sequential" (always valid, however often the page is read) or "fixed" (the
    # z-test, valid only at a sample size fixed in advance).
    "EXPERIMENT_TEST": "sequential",
    # Significance level and the power the planner plans for.
    "EXPERIMENT_ALPHA": 0.05,
    "EXPERIMENT_POWER": 0.8,
    # A sample ratio check below this p-value says assignment is broken.
    "EXPERIMENT_SRM_P": 0.001,
    # Subjects (both groups) at which the sequential interval is tightest; fix it before
    # the test starts, near the size you expect to reach.
    "EXPERIMENT_TUNING_SUBJECTS": 5000,
    # The planner's minimum detectable effect (0.02: 2 points) for flows declaring none.
    "EXPERIMENT_MINIMUM_EFFECT": 0.02,
    # Async ingestion (``onboarding.ingest``): ``POST events/`` validates, publishes the
    # batch to Celery and answers 202 once the broker holds it; a worker stores it.
    "ASYNC_INGESTION": False,
    # A batch whose database write fails is retried this many times, waiting
    # min(BACKOFF * 2**attempt, BACKOFF_MAX) seconds; then it is logged in full.
    "INGEST_MAX_RETRIES": 20,
    "INGEST_RETRY_BACKOFF_SECONDS": 2,
    "INGEST_RETRY_BACKOFF_MAX_SECONDS": 300,
    # The longest wait accepted before the batches of a lost worker (SIGKILL, OOM, a
    # lost node) are stored by another: check onboarding.W030 compares the broker's.
    "INGEST_REDELIVERY_MAX_SECONDS": 900,
    # Webhooks (``onboarding.webhooks``): endpoints receiving step_completed and
    # flow_finished, e.g. [{"url": "https://...", "secret": "...", "events": [...]}].
    "WEBHOOKS": [],
    # The most seconds one attempt may take in all: DNS, connect, TLS, sending the
    # request and reading the answer's headers (a receiver trickling bytes is cut off).
    "WEBHOOK_TIMEOUT_SECONDS": 10,
    # A delivery not answered 2xx is retried this many times, waiting
    # min(BACKOFF * 2**attempt, BACKOFF_MAX) seconds; then it stays failed.
    "WEBHOOK_MAX_RETRIES": 8,
    "WEBHOOK_RETRY_BACKOFF_SECONDS": 30,
    "WEBHOOK_RETRY_BACKOFF_MAX_SECONDS": 1800,
    # A delivery still pending this long after its attempt was due lost its task message
    # (broker down at commit, a message dropped): the sweep queues it again.
    "WEBHOOK_REQUEUE_AFTER_SECONDS": 900,
    # Health score (``onboarding.health``): weights of required-step progress and recent
    # activity (0..1 each, averaged to 0..100), and points taken off per red flag.
    "HEALTH_WEIGHTS": {"progress": 60, "recency": 40, "red_flag": 15},
    # Entered within this many days: segment "new".
    "HEALTH_NEW_DAYS": 7,
    # Activity within this many days counts fully; idle longer: "declining".
    "HEALTH_ACTIVE_DAYS": 7,
    # Idle this many days or more: recency 0 and segment "lapsed".
    "HEALTH_LAPSED_DAYS": 30,
    # A score this many points lower than at the last computation: "declining".
    "HEALTH_DECLINE_POINTS": 10,
    # Trigger (segment or red-flag kind) -> action shown in admin, over the built-in ones.
    "HEALTH_PLAYBOOK": {},
    # Alerts compare a step's conversion over the last N days with the N days before.
    "HEALTH_ALERT_DAYS": 7,
    # Alert when the conversion falls by more than this share of the earlier rate...
    "HEALTH_ALERT_DROP": 0.2,
    # ...with at least this many subjects able to convert in each period.
    "HEALTH_ALERT_MIN_SUBJECTS": 20,
    # Addresses of the alert e-mail; empty: Django's MANAGERS (mail_managers).
    "HEALTH_ALERT_RECIPIENTS": [],
}

# Settings holding dotted paths that are imported on access.
IMPORT_STRINGS = {"SUBJECT_RESOLVER", "NUDGE_RECIPIENTS", "NUDGE_OPTED_OUT", "NUDGE_LANGUAGE"}


class OnboardingSettings:
    """Attribute access to ``settings.ONBOARDING`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "ONBOARDING", {}) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid ONBOARDING setting: {name!r}")
        if name in self._cached:
            return self._cached[name]
        value = self.user_settings.get(name, DEFAULTS[name])
        if name in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cached[name] = value
        return value

    def reload(self) -> None:
        self._cached.clear()


onboarding_settings = OnboardingSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "ONBOARDING":
        onboarding_settings.reload()


setting_changed.connect(_reload)
