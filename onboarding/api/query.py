"""Query strings of the API's GET routes: each parameter once, only text a column can store."""

from __future__ import annotations

from collections.abc import Collection

from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from onboarding.api.text import shown_name, text_problem


def check_query(query: QueryDict, *, repeatable: Collection[str] = ()) -> None:
    """400 naming each parameter that holds NUL (in its name or a value) or is given more
    than once without being one of ``repeatable`` (which page would ``page=1&page=2`` be?)."""
    errors: dict[str, list[str]] = {}
    for name, values in query.lists():
        problem = text_problem(name) or next(filter(None, map(text_problem, values)), None)
        if problem:
            errors[shown_name(name)] = [problem]
        elif len(values) > 1 and name not in repeatable:
            errors[shown_name(name)] = [
                _("Given %(count)d times: give it once.") % {"count": len(values)}
            ]
    if errors:
        raise ValidationError(errors)
