"""The funnel as an inline SVG bar chart, rendered on the server (no script, no CDN).

One bar per step, its height the share of entered subjects who reached it. A hatched
segment on top of each bar reaches up to the level of the step it is measured from
(the previous required step, or entry) and the drop-off is written beside it: what
was lost between the two. Colours come from the admin's CSS variables, with
fallbacks, so the chart follows its light and dark themes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from onboarding.admin_funnel.formatting import MINUS, count, percent
from onboarding.funnel import FunnelResult, StepResult

WIDTH = 760
LEFT, RIGHT = 56, 12
TOP, PLOT = 40, 220
BOTTOM = 58
HEIGHT = TOP + PLOT + BOTTOM
BAR_SHARE = 0.56  # of a column; the rest is the gap where the drop-off is written
FONT = "font-family: var(--font-family-primary, sans-serif)"


@dataclass(frozen=True)
class _Column:
    step: StepResult
    x: float
    width: float
    top: float  # y of the bar's top (reached)
    level: float  # y of the previous step's level (top of the drop-off segment)


def _y(part: int, whole: int) -> float:
    share = part / whole if whole else 0.0
    return TOP + PLOT * (1 - share)


def _columns(result: FunnelResult) -> list[_Column]:
    steps = result.steps
    column = (WIDTH - LEFT - RIGHT) / max(1, len(steps))
    width = column * BAR_SHARE
    return [
        _Column(
            step=step,
            x=LEFT + index * column + (column - width),
            width=width,
            top=_y(step.reached, result.entered),
            level=_y(step.previous_reached, result.entered),
        )
        for index, step in enumerate(steps)
    ]


def _wrap(text: str, limit: int) -> list[str]:
    """At most two lines of about ``limit`` characters; the rest is cut with an ellipsis."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > 2:
        lines = [lines[0], lines[1] + " …"]
    return [line if len(line) <= limit + 2 else line[: limit - 1] + "…" for line in lines]


def describe(result: FunnelResult) -> str:
    """The chart in words, for its ``<desc>``: every number the bars show."""
    parts = [_("%(entered)s entered.") % {"entered": count(result.entered)}]
    for step in result.steps:
        values = {
            "title": str(step.title),
            "reached": count(step.reached),
            "share": percent(step.conversion_from_entry),
            "lost": count(step.drop_off),
        }
        if step.drop_off:
            parts.append(_("%(title)s: %(reached)s (%(share)s), %(lost)s dropped off.") % values)
        else:
            parts.append(_("%(title)s: %(reached)s (%(share)s).") % values)
    parts.append(
        _("Finished: %(finished)s (%(share)s).")
        % {"finished": count(result.finished), "share": percent(result.finish_rate)}
    )
    return " ".join(parts)


def _grid(result: FunnelResult) -> SafeString:
    lines = []
    for share in (0, 25, 50, 75, 100):
        y = TOP + PLOT * (1 - share / 100)
        lines.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}" '
                'style="stroke: var(--hairline-color, #e8e8e8)"/>'
                '<text x="{}" y="{}" text-anchor="end" font-size="11" '
                'style="fill: var(--body-quiet-color, #666); {}">{}</text>',
                LEFT - 6,
                WIDTH - RIGHT,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 10,
                f"{y + 4:.1f}",
                FONT,
                percent(share / 100, 0),
            )
        )
    return format_html_join("", "{}", ((line,) for line in lines))


def _legend(result: FunnelResult, chart_id: str) -> SafeString:
    # Positions fit the English labels at 12px; longer translations still fit the width.
    first, second = WIDTH - RIGHT - 400, WIDTH - RIGHT - 262
    return format_html(
        '<g class="legend" font-size="12" style="fill: var(--body-fg, #333); {}">'
        '<text x="{}" y="16" font-weight="bold">{}</text>'
        '<rect x="{}" y="6" width="12" height="12" style="fill: var(--secondary, #417690)"/>'
        '<text x="{}" y="16">{}</text>'
        '<rect x="{}" y="6" width="12" height="12" fill="url(#{}-hatch)" '
        'style="stroke: var(--error-fg, #ba2121)"/>'
        '<text x="{}" y="16">{}</text></g>',
        FONT,
        LEFT - 50,
        _("Entered: %(entered)s") % {"entered": count(result.entered)},
        first,
        first + 16,
        _("reached the step"),
        second,
        chart_id,
        second + 16,
        _("dropped off since the previous step"),
    )


def _bar(column: _Column, result: FunnelResult, chart_id: str) -> SafeString:
    step = column.step
    fill = "var(--primary, #79aec8)" if step.optional else "var(--secondary, #417690)"
    middle = column.x + column.width / 2
    limit = max(6, int((column.width / BAR_SHARE) / 7))
    title = str(step.title) + (" " + _("(optional)") if step.optional else "")
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>',
        (
            (f"{middle:.1f}", TOP + PLOT + 34 + 14 * line, text)
            for line, text in enumerate(_wrap(title, limit))
        ),
    )
    numbers = _("%(reached)s · %(share)s") % {
        "reached": count(step.reached),
        "share": percent(step.conversion_from_entry),
    }
    tooltip = _("%(title)s: %(reached)s reached, %(share)s of entered") % {
        "title": str(step.title),
        "reached": count(step.reached),
        "share": percent(step.conversion_from_entry),
    }
    parts = [
        format_html(
            '<rect class="bar step{}" data-step="{}" x="{}" y="{}" width="{}" height="{}" '
            'style="fill: {}"><title>{}</title></rect>',
            " optional" if step.optional else "",
            step.key,
            f"{column.x:.1f}",
            f"{column.top:.1f}",
            f"{column.width:.1f}",
            f"{TOP + PLOT - column.top:.1f}",
            fill,
            tooltip,
        ),
        format_html(
            '<g style="fill: var(--body-fg, #333); {}">{}'
            '<text x="{}" y="{}" text-anchor="middle" font-size="12" font-weight="bold">{}</text>'
            "</g>",
            FONT,
            labels,
            f"{middle:.1f}",
            TOP + PLOT + 17,
            numbers,
        ),
    ]
    if step.drop_off > 0:
        lost = _("%(lost)s lost since %(previous)s (%(share)s)") % {
            "lost": count(step.drop_off),
            "previous": str(result.step(step.previous).title) if step.previous else _("entry"),
            "share": percent(1 - (step.conversion_from_previous or 0)),
        }
        gap_text_y = (column.level + column.top) / 2
        parts.append(
            format_html(
                '<rect class="dropoff" data-step="{}" x="{}" y="{}" width="{}" height="{}" '
                'fill="url(#{}-hatch)" style="stroke: var(--error-fg, #ba2121)">'
                "<title>{}</title></rect>"
                '<g class="dropoff-label" text-anchor="end" font-size="11" '
                'style="fill: var(--error-fg, #ba2121); {}">'
                '<text x="{}" y="{}">{}{}</text><text x="{}" y="{}">{}{}</text></g>',
                step.key,
                f"{column.x:.1f}",
                f"{column.level:.1f}",
                f"{column.width:.1f}",
                f"{column.top - column.level:.1f}",
                chart_id,
                lost,
                FONT,
                f"{column.x - 4:.1f}",
                f"{max(TOP + 10, gap_text_y - 2):.1f}",
                MINUS,
                count(step.drop_off),
                f"{column.x - 4:.1f}",
                f"{max(TOP + 10, gap_text_y - 2) + 13:.1f}",
                MINUS,
                percent(1 - (step.conversion_from_previous or 0)),
            )
        )
    return format_html_join("", "{}", ((part,) for part in parts))


def funnel_svg(result: FunnelResult, *, chart_id: str = "funnel-chart") -> SafeString:
    """The funnel of ``result`` as accessible SVG markup (``role="img"``, title, desc).

    ``chart_id`` prefixes the ids inside, so that several charts can share a page.
    """
    title = _("Funnel of %(flow)s: share of entered subjects reaching each step") % {
        "flow": result.flow
    }
    columns = _columns(result)
    empty = ""
    if not result.entered:
        empty = format_html(
            '<text x="{}" y="{}" text-anchor="middle" font-size="14" '
            'style="fill: var(--body-quiet-color, #666); {}">{}</text>',
            (LEFT + WIDTH - RIGHT) / 2,
            TOP + PLOT / 2,
            FONT,
            _("Nobody entered this flow in the chosen range."),
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="funnel-chart" id="{id}" role="img" '
        'aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
        '<defs><pattern id="{id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" '
        'style="fill: var(--message-error-bg, #ffefef)"/><line x1="0" y1="0" x2="0" y2="6" '
        'stroke-width="2" style="stroke: var(--error-fg, #ba2121)"/></pattern></defs>'
        "{legend}{grid}{bars}{empty}"
        '<line x1="{left}" x2="{right}" y1="{base}" y2="{base}" '
        'style="stroke: var(--body-quiet-color, #666)"/></svg>',
        id=chart_id,
        w=WIDTH,
        h=HEIGHT,
        title=title,
        desc=describe(result),
        legend=_legend(result, chart_id),
        grid=_grid(result),
        bars=format_html_join("", "{}", ((_bar(c, result, chart_id),) for c in columns)),
        empty=empty,
        left=LEFT - 6,
        right=WIDTH - RIGHT,
        base=TOP + PLOT,
    )
