"""Percentiles from sampled brackets equal the sorting statement's, or are not used."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboarding import track_many
from onboarding.funnel import FunnelQuery, brackets
from onboarding.funnel.population import population
from onboarding.funnel.statements import count
from onboarding.registry import get_flow
from tests.factories import UserFactory
from tests.test_funnel_reference import TASKS, TOUR, generate, scenario

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _load(seed: int) -> dict:
    rng = random.Random(3000 + seed)
    flow = get_flow(["wizard", "checklist", "tour", "tasks"][seed % 4])
    options = scenario(rng, flow)
    options.pop("breakdown")
    window = timedelta(days=options.get("window_days") or flow.effective_window_days())
    for batch in generate(
        rng, flow, UserFactory.create_batch(rng.randrange(20, 40)), window
    ).inputs:
        track_many(batch)
    return options


def steps(result) -> list[tuple]:
    return [(s.reached, s.defaulted, s.median_time, s.p90_time) for s in result.steps]


def steps_of(counts) -> list[tuple]:
    return [counts[(0, k)] for k in range(1, len(counts) - 1)]


@pytest.mark.parametrize("seed", range(16))
def test_bracketed_percentiles_equal_the_sorted_ones(seed, declare, monkeypatch):
    declare(TOUR, TASKS)
    options = _load(seed)
    # Every page sampled: the brackets are tight, and small tables use them too.
    monkeypatch.setattr(brackets, "SAMPLE_PERCENT", 100)
    monkeypatch.setattr(brackets, "MIN_SAMPLE", 1)
    monkeypatch.setattr(brackets, "MIN_ESTIMATE", 0)
    pop = population(FunnelQuery(**options, use_rollup=False))
    if pop.empty:  # a version filter of unknown numbers: nothing is counted at all
        assert FunnelQuery(**options, use_rollup=False).run().entered == 0
        return
    with pop.dialect.cursor(pop.using) as cursor:
        found = brackets.bracketed_counts(pop, cursor)
    sorted_counts = count(pop, None)
    if not sorted_counts:
        assert found is None  # nobody in the sample: sorting costs nothing
        return
    assert found == sorted_counts
    assert steps(FunnelQuery(**options, use_rollup=False).run()) == steps_of(sorted_counts)


def test_a_rank_outside_its_bracket_counts_again_with_sorts(declare, monkeypatch):
    declare(TOUR, TASKS)
    options = _load(0)
    options.update(flow="wizard", entered_from=None, entered_to=None, variants=(), versions=())
    monkeypatch.setattr(brackets, "SAMPLE_PERCENT", 100)
    monkeypatch.setattr(brackets, "MIN_SAMPLE", 1)
    monkeypatch.setattr(brackets, "MIN_ESTIMATE", 0)
    # Brackets that hold only zero: every positive median or p90 falls outside.
    monkeypatch.setattr(brackets, "_bound", lambda *args, **kwargs: 0)
    query = FunnelQuery(**options, use_rollup=False)
    pop = population(query)
    with pop.dialect.cursor(pop.using) as cursor:
        assert brackets.bracketed_counts(pop, cursor) is None
    assert steps(query.run()) == steps_of(count(pop, None))


def test_small_populations_are_sorted_without_a_sample(declare):
    declare(TOUR, TASKS)
    options = _load(1)
    query = FunnelQuery(**options, use_rollup=False)
    pop = population(query)
    with CaptureQueriesContext(connection) as queries, pop.dialect.cursor(pop.using) as cursor:
        assert brackets.bracketed_counts(pop, cursor) is None
    assert not any("TABLESAMPLE" in query["sql"] for query in queries)
    assert steps(query.run()) == steps_of(count(pop, None))
