"""Plain-language sentences for experiment results, in the active language.

The one module of the package that uses Django (its translation and number
formatting); the figures come from the pure modules beside it.
"""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.experiments.analysis import MetricResult
from onboarding.experiments.planning import Plan
from onboarding.experiments.proportions import DifferenceTest
from onboarding.experiments.srm import SampleRatio

MINUS = "\u2212"


def decimal(value: float, places: int = 1) -> str:
    # number_format truncates extra digits; round first so 8.0997 reads 8.1.
    return number_format(round(value, places), places)


def signed_points(value: float) -> str:
    rounded = round(value * 100, 1)
    sign = "+" if rounded > 0 else (MINUS if rounded < 0 else "±")
    return f"{sign}{number_format(abs(rounded), 1)}"


def p_text(p_value: float) -> str:
    return f"< {decimal(0.001, 3)}" if p_value < 0.001 else f"= {decimal(p_value, 3)}"


def interval(test: DifferenceTest) -> str:
    """``95 % interval +2.8 to +13.4 points``."""
    return _("%(level)s %% interval %(lower)s to %(upper)s points") % {
        "level": decimal((1 - test.alpha) * 100, 0),
        "lower": signed_points(test.lower),
        "upper": signed_points(test.upper),
    }


def share(value: float, places: int = 1) -> str:
    return decimal(value * 100, places)


def _declared(value: float) -> str:
    percent = value * 100
    return decimal(percent, 0) if abs(percent - round(percent)) < 0.05 else decimal(percent, 1)


def sample_ratio_text(split: SampleRatio) -> str:
    """``52.0 / 48.0 observed against 50 / 50 declared: assignment is broken, ...``."""
    values = {
        "observed": " / ".join(share(value) for value in split.observed_shares),
        "declared": " / ".join(_declared(value) for value in split.expected),
        "names": " / ".join(split.names),
        "p": p_text(split.p_value),
    }
    if split.mismatch:
        return (
            _(
                "%(observed)s observed against %(declared)s declared (%(names)s, p %(p)s): "
                "assignment is broken, these results cannot be trusted."
            )
            % values
        )
    return (
        _(
            "%(observed)s observed against %(declared)s declared (%(names)s, p %(p)s): "
            "the split is as declared."
        )
        % values
    )


def method_text(method: str) -> str:
    if method == "fixed":
        return _(
            "Fixed-horizon z-test: valid only if the sample size was fixed before the test "
            "started and the result is read once, at that size."
        )
    return _(
        "Always-valid sequential test: read it as often as you like and stop when it is "
        "significant; the risk of a false verdict stays at most the level shown."
    )


def verdict(
    result: MetricResult,
    *,
    metric_title: str = "",
    trustworthy: bool = True,
) -> str:
    """One sentence: the change, its interval and p-value, and what to conclude."""
    test, a, b = result.test, result.control, result.variant
    if not trustworthy:
        return _(
            "No verdict: the split of subjects is not the declared one (sample ratio "
            "mismatch), so %(b)s against %(a)s cannot be trusted."
        ) % {"a": a, "b": b}
    if test is None:
        return _("Not enough data: both %(a)s and %(b)s need subjects to compare.") % {
            "a": a,
            "b": b,
        }
    adjusted = result.adjusted_p_value if result.adjusted_p_value is not None else test.p_value
    label = _("always-valid p") if test.method == "sequential" else _("fixed-horizon p")
    p = f"{label} {p_text(adjusted)}"
    if result.family > 1:
        # The value first, then how it was corrected: "p = 0.030, Holm-corrected for 4 ...".
        p = _("%(label)s, Holm-corrected for %(count)s comparisons") % {
            "label": p,
            "count": result.family,
        }
    values = {
        "a": a,
        "b": b,
        "step": metric_title,
        "points": decimal(abs(test.difference) * 100, 1),
        "interval": interval(test),
        "p": p,
    }
    finish = result.metric == "finished" or not metric_title
    if round(test.difference * 100, 1) == 0:
        if finish:
            head = _("%(b)s and %(a)s finish equally often (%(interval)s; %(p)s)") % values
        else:
            head = _("%(b)s and %(a)s reach “%(step)s” equally often (%(interval)s; %(p)s)") % (
                values
            )
    elif test.difference > 0:
        if finish:
            head = (
                _("%(b)s finishes %(points)s points more often than %(a)s (%(interval)s; %(p)s)")
                % values
            )
        else:
            head = (
                _(
                    "%(b)s reaches “%(step)s” %(points)s points more often than %(a)s "
                    "(%(interval)s; %(p)s)"
                )
                % values
            )
    elif finish:
        head = (
            _("%(b)s finishes %(points)s points less often than %(a)s (%(interval)s; %(p)s)")
            % values
        )
    else:
        head = (
            _(
                "%(b)s reaches “%(step)s” %(points)s points less often than %(a)s "
                "(%(interval)s; %(p)s)"
            )
            % values
        )
    if result.significant:
        if test.method == "fixed":
            return _("%(head)s: significant, if the sample size was fixed in advance.") % {
                "head": head
            }
        return _("%(head)s: significant.") % {"head": head}
    if test.method == "fixed":
        return _("%(head)s: not significant.") % {"head": head}
    return _("%(head)s: not significant yet; keep the test running.") % {"head": head}


def plan_text(plan: Plan) -> str:
    """What the test can detect now, and how many subjects and days it still needs."""
    values = {
        "n": number_format(plan.per_variant, force_grouping=True),
        "detectable": decimal((plan.detectable or 0) * 100, 1),
        "power": decimal(plan.power * 100, 0),
        "effect": decimal(plan.effect * 100, 1),
        "baseline": share(plan.baseline),
        "needed": number_format(plan.needed or 0, force_grouping=True),
        "test": _("sequential") if plan.method == "sequential" else _("fixed-horizon"),
    }
    parts = []
    if plan.per_variant and plan.detectable is None:
        parts.append(
            ngettext(
                "With %(n)s subject per variant no change can be detected at %(power)s %% "
                "power yet.",
                "With %(n)s subjects per variant no change can be detected at %(power)s %% "
                "power yet.",
                plan.per_variant,
            )
            % values
        )
    if plan.per_variant and plan.detectable is not None:
        parts.append(
            _(
                "With %(n)s subjects per variant you can detect a change of %(detectable)s "
                "points at %(power)s %% power (%(test)s test)."
            )
            % values
        )
    if plan.needed is None:
        parts.append(
            _("A change of %(effect)s points from %(baseline)s %% cannot be planned for.") % values
        )
        return " ".join(parts)
    if plan.more_needed == 0 and plan.per_variant:
        parts.append(
            _("That is enough to detect %(effect)s points (%(needed)s per variant needed).")
            % values
        )
        return " ".join(parts)
    parts.append(
        _(
            "To detect %(effect)s points from %(baseline)s %% at %(power)s %% power, the "
            "%(test)s test needs %(needed)s subjects per variant"
        )
        % values
    )
    if plan.days is None:
        parts[-1] += "."
    else:
        parts[-1] += ngettext(
            ": about %(days)s more day at the current entry rate.",
            ": about %(days)s more days at the current entry rate.",
            plan.days,
        ) % {"days": number_format(plan.days, force_grouping=True)}
    return " ".join(parts)
