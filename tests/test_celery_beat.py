"""Beat schedules: the app's entries merge into CELERY_BEAT_SCHEDULE once, whatever runs it."""

from __future__ import annotations

from celery import Celery

from onboarding.beat import ENTRIES, install_beat_schedule, merge_beat_schedule


def test_entries_are_added_to_an_empty_schedule():
    merged = merge_beat_schedule(None)

    assert merged == ENTRIES
    assert merged["onboarding-nudges"] == {"task": "onboarding.nudges.evaluate", "schedule": 3600}
    assert merged is not ENTRIES and merged["onboarding-nudges"] is not ENTRIES["onboarding-nudges"]


def test_merging_twice_adds_nothing_and_keeps_the_hosts_entries():
    host = {"reports": {"task": "reports.weekly", "schedule": 604800}}

    once = merge_beat_schedule(host)
    twice = merge_beat_schedule(once)

    assert twice == once
    assert len(once) == len(ENTRIES) + 1
    assert once["reports"] == host["reports"]
    assert host == {"reports": {"task": "reports.weekly", "schedule": 604800}}  # not changed


def test_a_task_the_host_already_schedules_under_its_own_name_is_not_added_again():
    host = {
        "nudges-every-15-min": {"task": "onboarding.nudges.evaluate", "schedule": 900},
        "onboarding-health-scores": {"task": "onboarding.health.score", "schedule": 60},
    }

    merged = merge_beat_schedule(host)

    tasks = [entry["task"] for entry in merged.values()]
    assert sorted(tasks) == sorted(entry["task"] for entry in ENTRIES.values())
    assert merged["nudges-every-15-min"]["schedule"] == 900
    assert merged["onboarding-health-scores"]["schedule"] == 60


def test_install_on_an_app_is_idempotent():
    app = Celery("beat-test", set_as_current=False)
    app.conf.beat_schedule = {"reports": {"task": "reports.weekly", "schedule": 60}}

    added = install_beat_schedule(app)
    again = install_beat_schedule(app)

    assert sorted(added) == sorted(ENTRIES)
    assert again == []
    assert len(app.conf.beat_schedule) == len(ENTRIES) + 1


def test_every_scheduled_task_is_registered(db):
    # db: Celery's Django fixup runs the system checks on import, and from Django 6.1 the
    # JSONField check asks the database whether it supports JSON.
    from tests.celery_app import app

    app.loader.import_default_modules()  # what a worker imports: onboarding.tasks
    missing = [entry["task"] for entry in ENTRIES.values() if entry["task"] not in app.tasks]

    assert missing == []
