"""``ONBOARDING`` settings: defaults, overrides picked up at once, clear errors."""

import pytest
from django.test import override_settings

from onboarding.conf import onboarding_settings
from tests.testapp.onboarding_flows import CHECKLIST


def test_defaults():
    assert onboarding_settings.WINDOW_DAYS == 14
    assert onboarding_settings.MAX_FUTURE_SKEW_SECONDS == 300
    assert onboarding_settings.SUBJECT_RESOLVER is None
    assert onboarding_settings.FLOWS_MODULE == "onboarding_flows"


def test_override_settings_is_picked_up_and_undone():
    assert onboarding_settings.WINDOW_DAYS == 14  # read (and cached) before the override

    with override_settings(ONBOARDING={"WINDOW_DAYS": 30}):
        assert onboarding_settings.WINDOW_DAYS == 30
        assert onboarding_settings.BATCH_SIZE == 500
        assert CHECKLIST.effective_window_days() == 30

    assert onboarding_settings.WINDOW_DAYS == 14


def test_the_pytest_settings_fixture_works_too(settings):
    settings.ONBOARDING = {"MAX_PROPERTIES_BYTES": 100}

    assert onboarding_settings.MAX_PROPERTIES_BYTES == 100


def test_a_dotted_path_is_imported():
    with override_settings(ONBOARDING={"SUBJECT_RESOLVER": "tests.test_subjects.team_of"}):
        from tests.test_subjects import team_of

        assert onboarding_settings.SUBJECT_RESOLVER is team_of


def test_an_unknown_name_is_an_error_naming_it():
    with pytest.raises(AttributeError, match="'WINDOW_DAY'"):
        onboarding_settings.WINDOW_DAY  # noqa: B018


def test_none_means_defaults():
    with override_settings(ONBOARDING=None):
        assert onboarding_settings.WINDOW_DAYS == 14
