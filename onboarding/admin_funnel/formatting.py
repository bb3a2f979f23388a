"""How the funnel page writes numbers: counts, percentages, points, p-values, durations."""

from __future__ import annotations

from datetime import timedelta

from django.utils.formats import number_format
from django.utils.translation import gettext as _

# Typographic signs, spelled as escapes: they look like "-" in source code.
DASH = "\u2013"  # an undefined value (nothing to divide by)
MINUS = "\u2212"

# Units of a human-readable duration, largest first: (seconds, format).
UNITS: tuple[tuple[int, str], ...] = (
    (86_400, "day"),
    (3_600, "hour"),
    (60, "minute"),
    (1, "second"),
)


def count(value: int) -> str:
    """``3,000``: grouped by the active locale."""
    return number_format(value, force_grouping=True)


def percent(value: float | None, places: int = 1) -> str:
    """``75.0 %`` for 0.75; an en dash when undefined (nothing to divide by)."""
    if value is None:
        return DASH
    return _("%(value)s %%") % {"value": number_format(round(value * 100, places), places)}


def points(value: float | None) -> str:
    """A difference of two rates in percentage points, signed: ``+8.1 pts``."""
    if value is None:
        return DASH
    rounded = round(value * 100, 1)
    sign = "+" if rounded > 0 else (MINUS if rounded < 0 else "±")
    return _("%(sign)s%(value)s pts") % {"sign": sign, "value": number_format(abs(rounded), 1)}


def p_value(value: float | None) -> str:
    if value is None:
        return DASH
    if value < 0.001:
        return "< 0.001"
    return number_format(round(value, 3), 3)


def _unit(amount: int, unit: str) -> str:
    # Short unit symbols read well in a dense table; each is one translatable string.
    text = {
        "day": _("%(n)s d"),
        "hour": _("%(n)s h"),
        "minute": _("%(n)s min"),
        "second": _("%(n)s s"),
    }[unit]
    return text % {"n": count(amount)}


def duration(value: timedelta | None) -> str:
    """The two largest units, rounded to the second: ``3 h 20 min``, ``45 s``, ``2 d 4 h``."""
    if value is None:
        return DASH
    total = round(value.total_seconds())
    if total < 1:
        # Under a second (0 for a first step done on entry): say so rather than "0 s".
        return _("under 1 s") if value > timedelta(0) else _unit(0, "second")
    parts: list[tuple[int, str]] = []
    for size, unit in UNITS:
        amount, total = divmod(total, size)
        if amount or parts:
            parts.append((amount, unit))
        if len(parts) == 2:
            break
    return " ".join(_unit(amount, unit) for amount, unit in parts if amount)


def iso_duration(value: timedelta | None) -> str:
    """The HTML ``<time datetime>`` form of a duration: ``PT12345.5S``."""
    if value is None:
        return ""
    seconds = f"{value.total_seconds():.3f}".rstrip("0").rstrip(".")
    return f"PT{seconds}S"
