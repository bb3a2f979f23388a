"""Two proportions and their difference: the fixed-horizon z-test and Wald interval."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

Method = Literal["sequential", "fixed"]
METHODS: tuple[Method, ...] = ("sequential", "fixed")
ALPHA = 0.05
POWER = 0.8

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``total`` subjects (converted of entered)."""

    successes: int
    total: int

    def __post_init__(self) -> None:
        if self.total < 0 or not 0 <= self.successes <= max(self.total, 0):
            raise ValueError(
                f"A proportion needs 0 <= successes <= total, not {self.successes} of {self.total}."
            )

    @property
    def rate(self) -> float:
        return self.successes / self.total if self.total else 0.0


@dataclass(frozen=True)
class DifferenceTest:
    """B's rate minus A's (a proportion, not points), its ``1 - alpha`` interval, the z
    score and a two-sided p-value, by ``method``.

    ``sequential`` figures are always valid: they may be read after every new subject.
    ``fixed`` figures are valid only at a sample size fixed before the test started.
    """

    method: Method
    rate_a: float
    rate_b: float
    difference: float
    lower: float
    upper: float
    z: float
    p_value: float
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def check_counts(a: Proportion, b: Proportion) -> None:
    for name, part in (("A", a), ("B", b)):
        if part.total < 1:
            raise ValueError(f"Variant {name} needs total >= 1, not {part.total}.")


def unpooled_variance(a: Proportion, b: Proportion) -> float:
    """Variance of ``rate_b - rate_a``; with no variation at all (every rate 0 or 1) the
    Agresti-Caffo counts (one more success and failure each) keep the interval honest."""
    variance = a.rate * (1 - a.rate) / a.total + b.rate * (1 - b.rate) / b.total
    if variance > 0:
        return variance
    shrunk = [((part.successes + 1) / (part.total + 2), part.total + 2) for part in (a, b)]
    return sum(rate * (1 - rate) / total for rate, total in shrunk)


def two_sided_p(z: float) -> float:
    # erfc keeps precision in the far tail, where 1 - cdf(z) would round to 0.
    return math.erfc(abs(z) / math.sqrt(2))


def z_test(a: Proportion, b: Proportion, *, alpha: float = ALPHA) -> DifferenceTest:
    """Pooled two-proportion z-test (as statsmodels' ``proportions_ztest``) with the
    unpooled Wald interval. Valid only when the sample size was fixed in advance.

    With no variation at all (both rates 0 or both 1) there is no evidence of a
    difference: z is 0 and the p-value 1.
    """
    check_counts(a, b)
    difference = b.rate - a.rate
    pooled = (a.successes + b.successes) / (a.total + b.total)
    error = math.sqrt(pooled * (1 - pooled) * (1 / a.total + 1 / b.total))
    z = difference / error if error else 0.0
    half = _NORMAL.inv_cdf(1 - alpha / 2) * math.sqrt(unpooled_variance(a, b))
    return DifferenceTest(
        method="fixed",
        rate_a=a.rate,
        rate_b=b.rate,
        difference=difference,
        lower=difference - half,
        upper=difference + half,
        z=z,
        p_value=two_sided_p(z) if error else 1.0,
        alpha=alpha,
    )


def normal_quantile(p: float) -> float:
    return _NORMAL.inv_cdf(p)


def normal_cdf(x: float) -> float:
    return _NORMAL.cdf(x)
