"""System checks of experiment declarations and settings (onboarding.E080 to E085)."""

import pytest

from onboarding.experiment_checks import check_experiments
from tests.test_checks import flow, flows, only  # noqa: F401  (flows is a fixture)


def test_the_test_flows_and_a_full_declaration_pass(flows):  # noqa: F811
    assert check_experiments() == []
    flows(
        flow(
            variants={"a": 1, "b": 1},
            control="b",
            primary_metric="first",
            minimum_effect=0.03,
        )
    )
    assert check_experiments() == []
    assert flow(variants={"a": 1, "b": 1}).control_variant == "a"


def test_e080_a_primary_metric_that_is_no_step(flows):  # noqa: F811
    flows(flow(primary_metric="finish"))

    error = only(check_experiments(), "onboarding.E080")
    assert "primary_metric='finish'" in error.msg and "first" in error.hint


def test_e081_a_control_that_is_no_variant(flows):  # noqa: F811
    flows(flow(variants={"shown": 1, "hidden": 1}, control="none"))

    error = only(check_experiments(), "onboarding.E081")
    assert "control='none'" in error.msg and "shown, hidden" in error.hint


@pytest.mark.parametrize("effect", [0, 1, 2, -0.1, "0.02", True])
def test_e082_a_minimum_effect_outside_zero_to_one(flows, effect):  # noqa: F811
    flows(flow(minimum_effect=effect))

    only(check_experiments(), "onboarding.E082")


@pytest.mark.parametrize(
    ("settings_dict", "error_id"),
    [
        ({"EXPERIMENT_TEST": "bayesian"}, "onboarding.E083"),
        ({"EXPERIMENT_ALPHA": 5}, "onboarding.E084"),
        ({"EXPERIMENT_POWER": 0}, "onboarding.E084"),
        ({"EXPERIMENT_SRM_P": "0.001"}, "onboarding.E084"),
        ({"EXPERIMENT_MINIMUM_EFFECT": 1.5}, "onboarding.E084"),
        ({"EXPERIMENT_TUNING_SUBJECTS": 0}, "onboarding.E085"),
        ({"EXPERIMENT_TUNING_SUBJECTS": "5000"}, "onboarding.E085"),
    ],
)
def test_experiment_settings(settings, settings_dict, error_id):
    settings.ONBOARDING = settings_dict

    only(check_experiments(), error_id)
