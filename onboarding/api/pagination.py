"""Page numbers with a page size capped by ``ONBOARDING["API_MAX_PAGE_SIZE"]``."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from onboarding.conf import onboarding_settings


class CappedPagination(PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return onboarding_settings.API_PAGE_SIZE

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return onboarding_settings.API_MAX_PAGE_SIZE
