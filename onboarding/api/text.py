"""Text the database can store, checked before any query sees client input.

PostgreSQL refuses NUL in text and jsonb, and no UTF-8 connection can send a lone
surrogate; SQLite stores both, so without this check a bad value would be a 500 on
one database and stored garbage on the other.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a translated message), or ``None``."""
    if "\x00" in text:
        return _("Text must not contain NUL characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("Text must not contain lone surrogates.")
    return None


def json_text_problem(value: Any) -> str | None:
    """The first :func:`text_problem` of any string in a JSON value, keys included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict):
            stack.extend(str(key) for key in item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None


def storable(text: str) -> bool:
    return text_problem(text) is None


def shown_name(name: str, limit: int = 50) -> str:
    """A client-sent name (parameter, key) safe to use as an error's field name."""
    cut = name[:limit]
    return cut if storable(cut) else cut.encode("unicode_escape").decode("ascii")
