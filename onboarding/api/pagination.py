"""Page numbers with a page size capped by ``ONBOARDING["API_MAX_PAGE_SIZE"]``.

Stricter than DRF's: a ``page`` or ``page_size`` that is no positive integer, or a
page past the last, is a 400 naming the parameter instead of being ignored.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination

from onboarding.conf import onboarding_settings


def _positive(request: Any, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1 or str(value) != raw.strip():
        raise ValidationError({name: [_("Must be a whole number of at least 1.")]})
    return value


class CappedPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    last_page_strings = ()

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return onboarding_settings.API_PAGE_SIZE

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return onboarding_settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        wanted = _positive(request, self.page_size_query_param)
        return self.page_size if wanted is None else min(wanted, self.max_page_size)

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        return _positive(request, self.page_query_param) or 1

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ValidationError({self.page_query_param: [_("No such page.")]}) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page; default {self.page_size}, at most {self.max_page_size} "
                    "(larger values are capped)."
                )
        return parameters
