"""Compare two variants of a funnel: finish rate, per-step conversion, a verdict."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.funnel.result import FunnelResult
from onboarding.funnel.stats import (
    ALPHA,
    POWER,
    ZTest,
    sample_size_per_variant,
    two_proportion_z_test,
)


@dataclass(frozen=True)
class StepComparison:
    """Conversion from entry to one step in each variant, and the test of the difference."""

    key: str
    title: str
    test: ZTest | None


@dataclass(frozen=True)
class VariantComparison:
    """Variant B against variant A. ``test`` is ``None`` when either has no subjects.

    ``more_needed`` is how many more subjects each variant needs (the larger of the
    two gaps) to detect the observed difference with ``power``; ``None`` without a
    difference to detect.
    """

    a: str
    b: str
    entered_a: int
    entered_b: int
    finished_a: int
    finished_b: int
    test: ZTest | None
    steps: list[StepComparison]
    alpha: float = ALPHA
    power: float = POWER
    needed_per_variant: int | None = None

    @property
    def significant(self) -> bool:
        return self.test is not None and self.test.p_value < self.alpha

    @property
    def more_needed(self) -> int | None:
        if self.needed_per_variant is None:
            return None
        return max(0, self.needed_per_variant - min(self.entered_a, self.entered_b))

    @property
    def verdict(self) -> str:
        """One plain sentence for a product manager."""
        test = self.test
        if test is None:
            return _("Not enough data: both %(a)s and %(b)s need subjects to compare.") % {
                "a": self.a,
                "b": self.b,
            }
        p_value = _p_text(test.p_value)
        if test.difference == 0:
            return _("%(b)s and %(a)s finish equally often (%(p)s): no difference yet.") % {
                "a": self.a,
                "b": self.b,
                "p": p_value,
            }
        values = {
            "a": self.a,
            "b": self.b,
            "points": _decimal(abs(test.difference) * 100, 1),
            "p": p_value,
        }
        if test.difference > 0:
            head = _("%(b)s finishes %(points)s points more often than %(a)s (%(p)s)") % values
        else:
            head = _("%(b)s finishes %(points)s points less often than %(a)s (%(p)s)") % values
        if self.significant:
            return _("%(head)s: significant") % {"head": head}
        more = self.more_needed
        if not more:
            return _("%(head)s: not yet significant") % {"head": head}
        return ngettext(
            "%(head)s: not yet significant: about %(count)s more subject per variant needed",
            "%(head)s: not yet significant: about %(count)s more subjects per variant needed",
            more,
        ) % {"head": head, "count": number_format(more, force_grouping=True)}


def _decimal(value: float, places: int) -> str:
    # number_format truncates extra digits; round first so 8.0997 reads 8.1.
    return number_format(round(value, places), places)


def _p_text(p_value: float) -> str:
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {_decimal(p_value, 3)}"


def compare_variants(
    result: FunnelResult,
    a: str | None = None,
    b: str | None = None,
    *,
    alpha: float = ALPHA,
    power: float = POWER,
) -> VariantComparison:
    """Compare variant ``b`` with ``a`` in a result broken down by variant.

    Without names, a result with exactly two variants compares them in name order.
    """
    if result.breakdown != "variant":
        raise ValueError("compare_variants needs a result of FunnelQuery(breakdown='variant').")
    if a is None and b is None:
        if len(result.groups) != 2:
            raise ValueError(
                f"Name the variants to compare: there are {len(result.groups)} "
                f"({', '.join(sorted(result.groups)) or 'none'})."
            )
        a, b = sorted(result.groups)
    if a is None or b is None:
        raise ValueError("Name both variants to compare, or neither.")
    for name in (a, b):
        if name not in result.groups:
            raise ValueError(
                f"No variant {name!r} in the result; it has {', '.join(sorted(result.groups))}."
            )
    first, second = result.groups[a], result.groups[b]

    def test(x_a: int, x_b: int) -> ZTest | None:
        if not first.entered or not second.entered:
            return None
        return two_proportion_z_test(x_a, first.entered, x_b, second.entered)

    finish = test(first.finished, second.finished)
    return VariantComparison(
        a=a,
        b=b,
        entered_a=first.entered,
        entered_b=second.entered,
        finished_a=first.finished,
        finished_b=second.finished,
        test=finish,
        steps=[
            StepComparison(one.key, one.title, test(one.reached, two.reached))
            for one, two in zip(first.steps, second.steps, strict=True)
        ],
        alpha=alpha,
        power=power,
        needed_per_variant=(
            sample_size_per_variant(finish.rate_a, finish.rate_b, alpha=alpha, power=power)
            if finish
            else None
        ),
    )
