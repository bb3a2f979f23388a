"""Always-valid inference for a difference: the normal-mixture confidence sequence.

The boundary is Robbins' normal mixture in the form of Howard et al. (2021, eq. 14),
applied with an estimated variance as the asymptotic confidence sequence of
Waudby-Smith et al. (2023, eq. 9; the GrowthBook engine's ``SequentialTwoSidedTTest``).
Its e-value is the mixture likelihood ratio of Johari et al.'s mSPRT (2017), whose
inverse is the always-valid p-value. See docs/experiments.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from onboarding.experiments.proportions import (
    ALPHA,
    DifferenceTest,
    Proportion,
    check_counts,
    unpooled_variance,
)

# Total subjects (both groups) at which the sequence is tightest; GrowthBook's default.
TUNING = 5000


def mixture_variance(*, alpha: float = ALPHA, tuning: float = TUNING) -> float:
    """rho^2: the mixing variance (on the standardized scale) that makes the ``alpha``
    boundary tightest at ``tuning`` subjects (Waudby-Smith et al. 2023, eq. 161)."""
    if not 0 < alpha < 1 or tuning <= 0:
        raise ValueError(f"Need 0 < alpha < 1 and tuning > 0, not {alpha} and {tuning}.")
    log_alpha = -2 * math.log(alpha)
    return (log_alpha + math.log(log_alpha + 1)) / tuning


def boundary(total: int, *, alpha: float = ALPHA, tuning: float = TUNING) -> float:
    """The critical |z| at ``total`` subjects: the half-width in standard errors."""
    r = total * mixture_variance(alpha=alpha, tuning=tuning)
    return math.sqrt(2 * (r + 1) / r * math.log(math.sqrt(r + 1) / alpha))


def half_width(
    variance: float, total: int, *, alpha: float = ALPHA, tuning: float = TUNING
) -> float:
    """Half-width of the ``1 - alpha`` confidence sequence of an estimate of ``variance``
    (its squared standard error) made from ``total`` subjects."""
    return math.sqrt(variance) * boundary(total, alpha=alpha, tuning=tuning)


def p_value(
    estimate: float,
    variance: float,
    total: int,
    *,
    alpha: float = ALPHA,
    tuning: float = TUNING,
    null: float = 0.0,
) -> float:
    """The always-valid p-value: 1 / the mixture e-value of ``estimate`` against ``null``,
    capped at 1. Below ``alpha`` exactly when the sequence excludes ``null``."""
    if variance <= 0:
        return 1.0
    r = total * mixture_variance(alpha=alpha, tuning=tuning)
    z2 = (estimate - null) ** 2 / variance
    log_e = r * z2 / (2 * (r + 1)) - 0.5 * math.log(r + 1)
    return 1.0 if log_e <= 0 else math.exp(-log_e)


def sequential_test(
    a: Proportion, b: Proportion, *, alpha: float = ALPHA, tuning: float = TUNING
) -> DifferenceTest:
    """Always-valid test and interval of ``rate_b - rate_a``: valid however often it is
    looked at and whenever the test is stopped."""
    check_counts(a, b)
    difference = b.rate - a.rate
    variance = unpooled_variance(a, b)
    total = a.total + b.total
    half = half_width(variance, total, alpha=alpha, tuning=tuning)
    plain = a.rate * (1 - a.rate) / a.total + b.rate * (1 - b.rate) / b.total
    return DifferenceTest(
        method="sequential",
        rate_a=a.rate,
        rate_b=b.rate,
        difference=difference,
        lower=difference - half,
        upper=difference + half,
        z=difference / math.sqrt(variance),
        # No variation at all is no evidence: the shrunk variance only widens the interval.
        p_value=p_value(difference, plain, total, alpha=alpha, tuning=tuning) if plain else 1.0,
        alpha=alpha,
    )


def running(looks: Sequence[DifferenceTest]) -> list[DifferenceTest]:
    """Looks in time order made cumulative: the running minimum of the p-value and the
    running intersection of the intervals (both stay valid, and only ever tighten).

    For hosts that keep one snapshot per look; a single look is already valid alone.
    """
    out: list[DifferenceTest] = []
    for look in looks:
        if out:
            last = out[-1]
            lower, upper = max(look.lower, last.lower), min(look.upper, last.upper)
            if lower > upper:  # possible only when the sequence missed; keep the newest
                lower, upper = look.lower, look.upper
            look = replace(look, lower=lower, upper=upper, p_value=min(look.p_value, last.p_value))
        out.append(look)
    return out
