"""Small admin building blocks shared by the app's ModelAdmins."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property


class LargeTablePaginator(Paginator):
    """Counts exactly, except an unfiltered PostgreSQL table of many rows.

    There ``COUNT(*)`` scans the whole table on every page view, so the planner's
    row estimate (``pg_class.reltuples``, kept fresh by autovacuum) is shown instead.
    """

    estimate_from = 100_000

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        if estimate is not None and estimate >= self.estimate_from:
            return estimate
        return super().count

    def _estimate(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or queryset.query.where:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        # reltuples is -1 until the table is first analyzed.
        return int(row[0]) if row and row[0] >= 0 else None


class ReadOnlyAdminMixin:
    """View only, for everyone including superusers."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
