"""Sample ratio mismatch: the observed split of subjects against the declared weights."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# Below this p-value the split is called broken (GrowthBook's, Eppo's and Statsig's).
SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatio:
    """Pearson's chi-square goodness of fit of ``observed`` counts to ``weights``.

    ``expected`` and ``observed_shares`` are shares of the total (0.5 is 50 %), by name
    in the order given. ``mismatch``: ``p_value < threshold``, assignment is broken.
    """

    names: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    threshold: float = SRM_THRESHOLD

    @property
    def total(self) -> int:
        return sum(self.observed)

    @property
    def observed_shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(count / total if total else 0.0 for count in self.observed)

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


def sample_ratio(
    observed: Mapping[str, int],
    weights: Mapping[str, float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatio:
    """Check ``observed`` subjects per variant against the declared ``weights``.

    Only variants in ``weights`` count (their weights are renormalized, so a filter
    that keeps some variants checks the split among those).
    """
    names = tuple(weights)
    if len(names) < 2:
        raise ValueError(f"A split needs two variants or more, not {len(names)}.")
    if any(weight <= 0 for weight in weights.values()):
        raise ValueError(f"Weights must be positive: {dict(weights)}.")
    counts = tuple(int(observed.get(name, 0)) for name in names)
    if any(count < 0 for count in counts):
        raise ValueError(f"Counts must not be negative: {dict(observed)}.")
    whole = sum(weights.values())
    shares = tuple(weights[name] / whole for name in names)
    total = sum(counts)
    if not total:
        chi = 0.0
    else:
        chi = sum(
            (count - total * p) ** 2 / (total * p) for count, p in zip(counts, shares, strict=True)
        )
    df = len(names) - 1
    return SampleRatio(
        names=names,
        observed=counts,
        expected=shares,
        chi_square=chi,
        degrees_of_freedom=df,
        p_value=chi_square_sf(chi, df),
        threshold=threshold,
    )


def chi_square_sf(x: float, df: int) -> float:
    """P(X > x) for a chi-square with ``df`` degrees of freedom: Q(df / 2, x / 2)."""
    if x <= 0:
        return 1.0
    if df == 1:
        return math.erfc(math.sqrt(x / 2))
    return _upper_gamma(df / 2, x / 2)


def _upper_gamma(a: float, x: float) -> float:
    """The regularized upper incomplete gamma Q(a, x): the series below a + 1, Lentz's
    continued fraction above (Numerical Recipes, 6.2), each to double precision."""
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        n = a
        while abs(term) > abs(total) * 1e-16:
            n += 1
            term *= x / n
            total += term
        return max(0.0, 1 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return math.exp(log_front) * h
