"""The order list's columns and search: short ids to copy, the status with what waits on it, the
provider with its order id, and a search an index serves (:mod:`~django_oneclick.admin.search`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from django_oneclick.admin.retry import short_id
from django_oneclick.admin.search import order_search
from django_oneclick.domain.states import UNSETTLED
from django_oneclick.models import OneClickOrder

if TYPE_CHECKING:
    _OrderAdminBase = admin.ModelAdmin[OneClickOrder]
else:
    _OrderAdminBase = object


class OrderListColumns(_OrderAdminBase):
    """Mixed into the order's ModelAdmin."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OneClickOrder], search_term: str
    ) -> tuple[QuerySet[OneClickOrder], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(order_search(search_term)), False

    @admin.display(description="Order", ordering="public_id")
    def short_id_display(self, obj: OneClickOrder) -> str:
        return format_html('<code class="oneclick-id" title="{}">{}</code>', obj.public_id, short_id(obj))

    @admin.display(description="Placed", ordering="created_at")
    def placed(self, obj: OneClickOrder) -> str:
        return placed_html(obj)

    @admin.display(description="Status", ordering="status")
    def status_column(self, obj: OneClickOrder) -> str:
        """The status, with what waits for an operator under it: a late charge, candidates."""
        notes = []
        if obj.late_charge:
            notes.append("late charge")
        if obj.candidates and obj.status in UNSETTLED:
            count = len(obj.candidates)
            notes.append(f"{count} candidate{'s' if count != 1 else ''}")
        extra = format_html_join("", '<br><span class="oneclick-note-flag">{}</span>', ((note,) for note in notes))
        return format_html("{}{}", self.status_badge(obj), extra)

    if TYPE_CHECKING:

        def status_badge(self, obj: OneClickOrder) -> str: ...  # the order admin's

    @admin.display(description="Provider order", ordering="provider_order_id")
    def provider_order_display(self, obj: OneClickOrder) -> str:
        return provider_order_html(obj)


def placed_html(obj: OneClickOrder) -> str:
    """The date and the time, each on one line (the cell may wrap between them)."""
    local = timezone.localtime(obj.created_at)
    return format_html(
        '<span class="oneclick-nowrap">{}</span> <span class="oneclick-nowrap">{}</span>',
        local.strftime("%Y-%m-%d"),
        local.strftime("%H:%M"),
    )


def provider_order_html(obj: OneClickOrder) -> str:
    """The provider, and its id for the order, copied whole by one click."""
    if not obj.provider_order_id:
        return format_html('<span class="oneclick-provider">{}</span>', obj.provider)
    return format_html(
        '<span class="oneclick-provider">{}</span><br><code class="oneclick-id">{}</code>',
        obj.provider,
        obj.provider_order_id,
    )
