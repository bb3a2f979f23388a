"""onboarding_import: historical events from JSONL, idempotent, invalid lines reported by number."""

from __future__ import annotations

import io
import json
import sys
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from onboarding.api.imports import line_id
from onboarding.erase import erase_subject
from onboarding.models import Event
from onboarding.progress import get_progress
from tests.factories import MembershipFactory, TeamFactory

pytestmark = pytest.mark.django_db


def team_of(user):
    membership = getattr(user, "membership", None)
    return membership.team if membership else None


def line(step, at, subject, **fields):
    event = {"flow": "wizard", "step": step, "kind": "completed", "occurred_at": at}
    return event | {"subject": subject} | fields


def write(tmp_path, *events, raw=()):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(event) for event in events] + list(raw)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("onboarding_import", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_imports_events_naming_subjects_by_type_or_user_id(tmp_path, user, other_user):
    given_id = str(uuid.uuid4())
    path = write(
        tmp_path,
        line("signup", "2024-05-01T10:00:00Z", {"type": "auth.user", "id": str(user.pk)}),
        line("profile", "2024-05-01T10:05:00Z", user.pk, id=given_id),
        line("signup", "2024-05-02T08:00:00+02:00", str(other_user.pk), properties={"a": 1}),
    )

    out, _err = run(path)

    assert (
        out.strip()
        == "Imported 3 lines: 3 events stored, 0 already stored, 0 invalid lines skipped."
    )
    assert Event.objects.filter(source="import").count() == 3
    assert get_progress(user, "wizard").done == 2
    assert get_progress(other_user, "wizard").done == 1
    assert Event.objects.filter(pk=given_id, subject_id=str(user.pk)).exists()
    other = Event.objects.get(subject_id=str(other_user.pk))
    assert other.occurred_at.isoformat() == "2024-05-02T06:00:00+00:00"
    assert other.properties == {"a": 1}


def test_a_rerun_stores_nothing_twice(tmp_path, user):
    events = [
        line(step, f"2024-05-01T10:0{n}:00Z", user.pk)
        for n, step in enumerate(["signup", "profile", "project"])
    ]
    path = write(tmp_path, *events)
    run(path)
    ids = set(Event.objects.values_list("id", flat=True))

    out, _err = run(path)

    assert (
        out.strip()
        == "Imported 3 lines: 0 events stored, 3 already stored, 0 invalid lines skipped."
    )
    assert set(Event.objects.values_list("id", flat=True)) == ids
    # Lines without an id got a UUID 5 of their content.
    assert ids == {line_id(event) for event in events}


def test_the_made_id_ignores_key_order_but_not_content(user):
    event = line("signup", "2024-05-01T10:00:00Z", user.pk)
    reordered = dict(reversed(list(event.items())))

    assert line_id(event) == line_id(reordered)
    assert line_id(event) != line_id(event | {"occurred_at": "2024-05-01T10:00:01Z"})


def test_invalid_lines_are_reported_by_number_and_the_rest_is_stored(tmp_path, user):
    good = line("signup", "2024-05-01T10:00:00Z", user.pk)
    path = write(
        tmp_path,
        good,
        line("nope", "2024-05-01T10:00:00Z", user.pk),
        line("profile", "2024-05-01T10:00:00Z", {"type": "auth.user", "id": "999999"}),
        line("profile", None, user.pk),
        line("profile", "2024-05-01T10:00:00Z", user.pk, flow="missing"),
        line("profile", "2024-05-01T10:00:00Z", user.pk, user=5),
        raw=[
            "{not json",
            "[1, 2]",
            "",
            json.dumps(line("profile", "2024-05-01T10:09:00Z", user.pk)),
        ],
    )

    out, err = run(path)

    reported = [row for row in err.splitlines() if row.startswith("line ")]
    assert reported == [
        "line 2: step: Unknown step 'nope' in onboarding flow 'wizard'.",
        "line 3: subject.id: No 'auth.user' with id '999999'.",
        "line 4: occurred_at: required for imported events",
        "line 5: flow: Unknown flow 'missing'.",
        "line 6: user: Unknown or read-only field. Writable fields: "
        "id, flow, step, kind, occurred_at, properties, subject.",
        "line 7: line: not JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1))",
        "line 8: line: must be a JSON object, one event per line",
    ]
    assert (
        out.strip()
        == "Imported 10 lines: 2 events stored, 0 already stored, 7 invalid lines skipped."
    )
    assert Event.objects.count() == 2
    assert get_progress(user, "wizard").done == 2


def test_a_progress_line_per_batch(tmp_path, user):
    path = write(
        tmp_path,
        *[line("signup", f"2024-05-01T10:00:0{n}Z", user.pk) for n in range(5)],
    )

    _out, err = run(path, "--batch-size", "2")

    assert err.splitlines() == [
        "2/5 lines (40%): 2 accepted, 0 duplicates, 0 invalid",
        "4/5 lines (80%): 4 accepted, 0 duplicates, 0 invalid",
        "5/5 lines (100%): 5 accepted, 0 duplicates, 0 invalid",
    ]


@override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_import.team_of"})
def test_a_user_id_counts_for_the_users_team_and_a_team_can_be_named(tmp_path):
    team = TeamFactory()
    member = MembershipFactory(team=team).user
    path = write(
        tmp_path,
        line("signup", "2024-05-01T10:00:00Z", member.pk),
        line("profile", "2024-05-01T10:01:00Z", {"type": "testapp.team", "id": str(team.pk)}),
    )

    run(path)

    assert set(Event.objects.values_list("subject_id", flat=True)) == {str(team.pk)}
    assert Event.objects.get(step_key="signup").actor == member
    assert get_progress(member, "wizard").done == 2


def test_an_erased_subjects_lines_are_refused_by_number(tmp_path, user, other_user):
    erase_subject(user)
    path = write(
        tmp_path,
        line("signup", "2024-05-01T10:00:00Z", other_user.pk),
        line("signup", "2024-05-01T10:00:00Z", user.pk),
    )

    out, err = run(path)

    assert f"line 2: subject: The onboarding data of auth.user {user.pk} was erased" in err
    assert "1 events stored" in out
    assert Event.objects.get().subject_id == str(other_user.pk)


def test_reads_standard_input(monkeypatch, user):
    data = json.dumps(line("signup", "2024-05-01T10:00:00Z", user.pk)) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))

    out, err = run("-")

    assert "1 events stored" in out
    assert err.splitlines() == ["1 lines: 1 accepted, 0 duplicates, 0 invalid"]


def test_clear_errors_for_a_missing_file_and_a_bad_batch_size(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "missing.jsonl")
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        run(write(tmp_path), "--batch-size", "0")


def test_a_batch_reads_the_subjects_it_names_in_one_query(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import UserFactory

    def queries_for(count):
        users = UserFactory.create_batch(count)
        path = write(tmp_path, *[line("signup", "2024-05-01T10:00:00Z", u.pk) for u in users])
        with CaptureQueriesContext(connection) as captured:
            out, _err = run(path)
        assert f"{count} events stored" in out
        return len(captured)

    queries_for(1)  # first use: flow sync, content types
    assert queries_for(12) == queries_for(2)
