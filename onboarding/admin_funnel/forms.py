"""The funnel page's filters, read from the query string and checked with clear errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from onboarding.declarations import Flow
from onboarding.exceptions import InvalidQuery
from onboarding.funnel import FunnelQuery

MAX_WINDOW_DAYS = 3650

BREAKDOWN_LABELS = {
    "variant": _("Variant"),
    "version": _("Version"),
    "entry_week": _("Entry week"),
}
# The form's field for each FunnelQuery input an InvalidQuery may name.
QUERY_FIELDS = {"variants": "variant", "versions": "version"}
WHERE_CHOICES = [
    ("", _("All")),
    ("inside", _("Still inside the window")),
    ("past", _("Past the window")),
]


class DateInput(forms.DateInput):
    """The browser's own date picker: no script needed."""

    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class FunnelFilterForm(forms.Form):
    """Filters of the funnel page. Every field is optional: no input is the whole funnel.

    ``step``, ``where`` and ``page`` choose what the stuck-subjects list shows.
    """

    entered_from = forms.DateField(
        label=_("Entered from"),
        required=False,
        widget=DateInput(),
        help_text=_("First day of entry counted (inclusive)."),
    )
    entered_to = forms.DateField(
        label=_("Entered to"),
        required=False,
        widget=DateInput(),
        help_text=_("Last day of entry counted (inclusive)."),
    )
    window_days = forms.IntegerField(
        label=_("Conversion window (days)"),
        required=False,
        min_value=1,
        max_value=MAX_WINDOW_DAYS,
    )
    variant = forms.MultipleChoiceField(
        label=_("Variants"), required=False, widget=forms.CheckboxSelectMultiple
    )
    version = forms.TypedMultipleChoiceField(
        label=_("Versions"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    breakdown = forms.ChoiceField(label=_("Breakdown"), required=False)
    step = forms.ChoiceField(label=_("Stuck before step"), required=False)
    where = forms.ChoiceField(label=_("Stuck subjects"), required=False, choices=WHERE_CHOICES)
    page = forms.IntegerField(label=_("Page"), required=False, min_value=1, max_value=1_000_000)
    # Read by the verdicts only, not by the query.
    test = forms.ChoiceField(
        label=_("Test"),
        required=False,
        choices=[
            ("", _("Default")),
            ("sequential", _("Sequential (always valid)")),
            ("fixed", _("Fixed-horizon z-test")),
        ],
        help_text=_(
            "The fixed-horizon test is valid only if the sample size was fixed in advance."
        ),
    )

    def __init__(self, data: Any, *, flow: Flow, versions: Sequence[int]) -> None:
        super().__init__(data)
        self.flow = flow
        self.query: FunnelQuery | None = None
        window = self.fields["window_days"]
        window.help_text = gettext("Default: the flow's %(days)s days.") % {
            "days": flow.effective_window_days()
        }
        window.widget.attrs["placeholder"] = str(flow.effective_window_days())
        variant: Any = self.fields["variant"]
        variant.choices = [(name, name) for name in sorted(flow.variants)]
        version: Any = self.fields["version"]
        version.choices = [(number, str(number)) for number in sorted(versions)]
        breakdowns = ["version", "entry_week"]
        if flow.variants:
            breakdowns.insert(0, "variant")
        breakdown: Any = self.fields["breakdown"]
        breakdown.choices = [
            ("", _("None")),
            *((key, BREAKDOWN_LABELS[key]) for key in breakdowns),
        ]
        step: Any = self.fields["step"]
        step.choices = [
            ("", _("Largest drop-off")),
            *((item.key, str(item.title)) for item in flow.steps),
        ]

    @property
    def has_variants(self) -> bool:
        return bool(self.flow.variants)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("entered_from"), data.get("entered_to")
        if start and end and start > end:
            self.add_error("entered_to", gettext("Must not be before “Entered from”."))
        if self.errors:
            return data
        try:
            self.query = FunnelQuery(
                flow=self.flow.key,
                entered_from=start,
                entered_to=end,
                window_days=data.get("window_days"),
                variants=tuple(data.get("variant") or ()),
                versions=tuple(data.get("version") or ()),
                breakdown=data.get("breakdown") or None,
            )
        except InvalidQuery as error:
            # The query checks more than the fields do; its message names the input.
            self.add_query_error(error)
        return data

    def add_query_error(self, error: InvalidQuery) -> None:
        """Show an error of the query under its field; some (the limits that depend on
        the data) are found only when the query runs, after validation."""
        name = QUERY_FIELDS.get(error.field, error.field)
        self.add_error(name if name in self.fields else None, error.message)
