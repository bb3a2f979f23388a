"""System checks: each id fires for a bad declaration or setting, with a hint."""

import pytest
from django.core import checks

from onboarding import Flow, Step
from onboarding.checks import check_flows, check_settings
from onboarding.nudges.rules import rule_registry
from onboarding.registry import registry


@pytest.fixture
def flows(monkeypatch):
    """An empty registry for one test; returns a function registering flows into it."""
    monkeypatch.setattr(registry, "_flows", {})
    monkeypatch.setattr(registry, "duplicate_keys", [])
    # Declared nudge rules name flows this empty registry lacks (onboarding.E013).
    monkeypatch.setattr(rule_registry, "rules", {})

    def _register(*declared: Flow) -> None:
        for flow in declared:
            registry.register(flow)

    return _register


def ok_steps(*extra: Step) -> list[Step]:
    return [Step("first", "First"), *extra]


def flow(key: str = "good", steps=None, **options) -> Flow:
    return Flow(key, "A flow", steps=ok_steps() if steps is None else steps, **options)


def only(errors, error_id: str):
    """The one error with ``error_id``; every error must carry a hint."""
    assert all(error.hint for error in errors)
    assert all(error.level == checks.ERROR for error in errors)
    matching = [error for error in errors if error.id == error_id]
    assert len(matching) == 1, errors
    return matching[0]


def test_the_test_flows_pass():
    assert check_flows() == []
    assert check_settings() == []


def test_a_good_flow_passes(flows):
    flows(
        flow(
            steps=[
                Step("first", "First", url="page"),
                Step("second", "Second", url="/a/path/", completed_by="thing_done"),
                Step("third", "Third", default=lambda subject, actor: None, default_label="Go"),
            ],
            variants={"a": 1, "b": 3},
        )
    )

    assert check_flows() == []


def test_e001_a_flow_key_declared_twice(flows):
    flows(flow("twice"), flow("twice", description="Again"))

    error = only(check_flows(), "onboarding.E001")
    assert "'twice'" in error.msg


def test_registering_the_same_declaration_again_is_no_duplicate(flows):
    declared = flow("once")
    flows(declared, declared)

    assert check_flows() == []


def test_e002_a_step_key_repeated(flows):
    flows(flow(steps=ok_steps(Step("same", "One"), Step("same", "Two"))))

    error = only(check_flows(), "onboarding.E002")
    assert "'same'" in error.msg
    assert "2 times" in error.msg


def test_e003_a_url_name_that_does_not_reverse(flows):
    flows(flow(steps=ok_steps(Step("linked", "Linked", url="no-such-page"))))

    error = only(check_flows(), "onboarding.E003")
    assert "'no-such-page'" in error.msg
    assert "'linked'" in error.msg


def test_e004_a_default_label_without_default(flows):
    flows(flow(steps=ok_steps(Step("labelled", "Labelled", default_label="Use mine"))))

    error = only(check_flows(), "onboarding.E004")
    assert "'labelled'" in error.msg
    assert "'Use mine'" in error.msg


def test_e004_a_default_that_is_not_callable(flows):
    flows(flow(steps=ok_steps(Step("broken", "Broken", default="create_sample"))))

    error = only(check_flows(), "onboarding.E004")
    assert "not callable" in error.msg


def test_e005_no_required_step(flows):
    flows(flow(steps=[Step("maybe", "Maybe", optional=True)]))

    error = only(check_flows(), "onboarding.E005")
    assert "'good'" in error.msg


@pytest.mark.parametrize(
    ("flow_key", "step_key"), [("Bad Key", "first"), ("good", "Bad/Step"), ("-x", "first")]
)
def test_e006_a_key_that_is_not_a_slug(flows, flow_key, step_key):
    flows(flow(flow_key, steps=[Step(step_key, "Step")]))

    error = only(check_flows(), "onboarding.E006")
    assert "not a slug" in error.msg


@pytest.mark.parametrize("weight", [0, -1, 1.5, True, "50"])
def test_e007_a_variant_weight_that_is_not_a_positive_integer(flows, weight):
    flows(flow(variants={"shown": 1, "hidden": weight}))

    error = only(check_flows(), "onboarding.E007")
    assert "hidden" in error.msg


def test_e008_done_when_not_callable(flows):
    flows(flow(steps=ok_steps(Step("known", "Known", done_when="has_project"))))

    only(check_flows(), "onboarding.E008")


def test_e009_negative_estimate(flows):
    flows(flow(steps=ok_steps(Step("quick", "Quick", estimated_seconds=-5))))

    error = only(check_flows(), "onboarding.E009")
    assert "'quick'" in error.msg


def test_e010_a_resolver_that_cannot_be_imported(settings):
    settings.ONBOARDING = {"SUBJECT_RESOLVER": "tests.nowhere.team_of"}

    error = only(check_settings(), "onboarding.E010")
    assert "tests.nowhere" in error.msg


def test_e011_an_unknown_setting(settings):
    settings.ONBOARDING = {"WINDOW_DAY": 30, "BATCH_SIZE": 10}

    error = only(check_settings(), "onboarding.E011")
    assert "'WINDOW_DAY'" in error.msg
    assert "WINDOW_DAYS" in error.hint


@pytest.mark.parametrize("value", [0, -5, "520", 1.5, True])
def test_e050_funnel_max_groups_is_not_a_positive_whole_number(settings, value):
    settings.ONBOARDING = {"FUNNEL_MAX_GROUPS": value}

    error = only(check_settings(), "onboarding.E050")
    assert "FUNNEL_MAX_GROUPS" in error.msg
    assert repr(value) in error.msg


def test_e050_is_quiet_for_a_positive_limit(settings):
    settings.ONBOARDING = {"FUNNEL_MAX_GROUPS": 52}

    assert [e for e in check_settings() if e.id == "onboarding.E050"] == []


@pytest.mark.parametrize("kind", ["completed", "viewed", "Project Created"])
def test_e012_completed_by_is_not_a_custom_kind(flows, kind):
    flows(flow(steps=ok_steps(Step("made", "Made", completed_by=kind))))

    error = only(check_flows(), "onboarding.E012")
    assert repr(kind) in error.msg


def test_checks_run_with_the_check_framework(flows):
    flows(flow(steps=[Step("maybe", "Maybe", optional=True)]))

    # Errors only: the test settings run Celery eagerly with DEBUG off (onboarding.W001).
    ids = {error.id for error in checks.run_checks(tags=["onboarding"]) if error.is_serious()}
    assert ids == {"onboarding.E005"}
