"""Plan the sample size from a minimum detectable effect, for either test.

The sequential test is planned for detection at the planned size by the final look
alone (looking earlier only adds detections); the fixed test by Fleiss's formula.
Both assume equal groups and a two-sided test of a change in points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from onboarding.experiments import sequential
from onboarding.experiments.proportions import (
    ALPHA,
    POWER,
    Method,
    normal_cdf,
    normal_quantile,
)

# Per variant; past this the planner answers "not within reach" (None).
MAX_SUBJECTS = 10**9


def _check(baseline: float, effect: float) -> float | None:
    if not 0 <= baseline <= 1:
        raise ValueError(f"The baseline rate must be within 0..1, not {baseline}.")
    other = baseline + effect
    return other if 0 <= other <= 1 and effect != 0 else None


def power(
    baseline: float,
    effect: float,
    per_variant: int,
    *,
    method: Method = "sequential",
    alpha: float = ALPHA,
    tuning: float = sequential.TUNING,
) -> float:
    """Chance that a true change of ``effect`` (0.03: 3 points) from ``baseline`` is
    detected with ``per_variant`` subjects in each of two groups."""
    other = _check(baseline, effect)
    if other is None or per_variant < 1:
        return 0.0
    spread = math.sqrt(baseline * (1 - baseline) + other * (1 - other))
    if spread == 0:
        return 1.0
    shift = abs(effect) * math.sqrt(per_variant) / spread
    if method == "fixed":
        # Fleiss: the test's own pooled error under the null, the true one under the change.
        mean = (baseline + other) / 2
        null = math.sqrt(2 * mean * (1 - mean)) / spread
        critical = normal_quantile(1 - alpha / 2) * null
    else:
        critical = sequential.boundary(2 * per_variant, alpha=alpha, tuning=tuning)
    return normal_cdf(shift - critical) + normal_cdf(-shift - critical)


def sample_size(
    baseline: float,
    effect: float,
    *,
    method: Method = "sequential",
    alpha: float = ALPHA,
    power: float = POWER,
    tuning: float = sequential.TUNING,
) -> int | None:
    """Subjects per variant to detect ``effect`` from ``baseline`` with ``power``;
    ``None`` without a change to detect (or one out of 0..1, or out of reach)."""
    if _check(baseline, effect) is None:
        return None

    def enough(n: int) -> bool:
        return _power(baseline, effect, n, method, alpha, tuning) >= power

    low, high = 0, 2  # low: a size known to fall short (0 detects nothing)
    while not enough(high):
        low, high = high, high * 2
        if high > MAX_SUBJECTS:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def _power(
    baseline: float, effect: float, n: int, method: Method, alpha: float, tuning: float
) -> float:
    return power(baseline, effect, n, method=method, alpha=alpha, tuning=tuning)


def detectable_effect(
    baseline: float,
    per_variant: int,
    *,
    method: Method = "sequential",
    alpha: float = ALPHA,
    power: float = POWER,
    tuning: float = sequential.TUNING,
) -> float | None:
    """The smallest change (in either direction, the larger of the two) that
    ``per_variant`` subjects each detect with ``power``; ``None`` if none can be."""
    found = []
    for sign, room in ((1, 1 - baseline), (-1, baseline)):

        def enough(size: float, sign: int = sign) -> bool:
            return _power(baseline, sign * size, per_variant, method, alpha, tuning) >= power

        if room <= 0 or not enough(room):
            continue
        low, high = 0.0, room
        for _step in range(60):
            middle = (low + high) / 2
            low, high = (low, middle) if enough(middle) else (middle, high)
        found.append(high)
    return max(found) if found else None


def days_needed(needed: int, entered: Sequence[int], per_day: Sequence[float]) -> int | None:
    """Whole days until every group holds ``needed`` subjects at its entry rate
    (``per_day``); 0 when all do, ``None`` when a short group gets nobody."""
    days = 0
    for count, rate in zip(entered, per_day, strict=True):
        if count >= needed:
            continue
        if rate <= 0:
            return None
        days = max(days, math.ceil((needed - count) / rate))
    return days


@dataclass(frozen=True)
class Plan:
    """What the experiment can detect now and what it needs for ``effect``.

    ``needed`` subjects per variant detect ``effect`` (points as a fraction) from
    ``baseline`` with ``power``; ``detectable`` is the change the smallest group
    (``per_variant``) detects now; ``days`` the days still needed at the entry rate
    (``None``: unknown, or nobody enters).
    """

    method: Method
    baseline: float
    effect: float
    alpha: float
    power: float
    per_variant: int
    needed: int | None
    detectable: float | None
    days: int | None

    @property
    def more_needed(self) -> int | None:
        return None if self.needed is None else max(0, self.needed - self.per_variant)


def plan(
    baseline: float,
    effect: float,
    *,
    entered: Sequence[int],
    per_day: Sequence[float] | None = None,
    method: Method = "sequential",
    alpha: float = ALPHA,
    power: float = POWER,
    tuning: float = sequential.TUNING,
) -> Plan:
    """The planner of an experiment with groups of ``entered`` subjects so far (empty or
    zeros before it starts), entering at ``per_day`` subjects a day each: the size to
    detect a change of ``effect`` in either direction."""
    # A change either way: the larger size of the two directions that stay within 0..1.
    sizes = [
        sample_size(baseline, sign * effect, method=method, alpha=alpha, power=power, tuning=tuning)
        for sign in (1, -1)
    ]
    needed = max((size for size in sizes if size is not None), default=None)
    smallest = min(entered) if entered else 0
    return Plan(
        method=method,
        baseline=baseline,
        effect=effect,
        alpha=alpha,
        power=power,
        per_variant=smallest,
        needed=needed,
        detectable=(
            detectable_effect(
                baseline, smallest, method=method, alpha=alpha, power=power, tuning=tuning
            )
            if smallest
            else None
        ),
        days=(
            days_needed(needed, entered, per_day)
            if needed is not None and per_day is not None and entered
            else None
        ),
    )
