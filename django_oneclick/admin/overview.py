"""The one-click overview: orders per status and provider over the last 24 hours and 7 days,
success rate, purchase latency, revenue, and the orders that need an operator.

Listed on the admin index as *Overview* under *One-click purchases* (a proxy of the order model,
with no table and no permissions of its own): staff who may view orders see it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from django_oneclick.admin.charts import Bar, horizontal_bars, stacked_columns
from django_oneclick.admin.figures import REASONS, STATUSES, Figures, overview_figures
from django_oneclick.domain.states import OrderStatus
from django_oneclick.models import OneClickOrder, OneClickOverview

STATUS_LABELS = {status: str(OrderStatus(status).label) for status in STATUSES}


def may_view_orders(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    opts = OneClickOrder._meta
    return any(user.has_perm(f"{opts.app_label}.{get_permission_codename(a, opts)}") for a in ("view", "change"))


@admin.register(OneClickOverview)
class OverviewAdmin(admin.ModelAdmin):
    #: An order ``processing`` (or ``pending``) for longer than this is listed as stuck.
    stuck_after = timedelta(hours=1)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_view_orders(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_view_orders(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.overview_view), name=name)]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        figures = overview_figures(stuck_after=self.stuck_after)
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": "One-click overview",
            "opts": self.opts,
            "figures": figures,
            **overview_context(figures, self.orders_url(), self.order_url),
        }
        return TemplateResponse(request, "admin/django_oneclick/overview.html", context)

    def orders_url(self) -> str:
        opts = OneClickOrder._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")

    def order_url(self, order: OneClickOrder) -> str:
        opts = OneClickOrder._meta
        name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change"
        return reverse(name, args=[order.pk], current_app=self.admin_site.name)


def overview_context(figures: Figures, orders_url: str, order_url: Callable[[OneClickOrder], str]) -> dict[str, Any]:
    """Tables and charts of the figures, each count linked to the order list it counts."""
    local_since = {w.key: timezone.localtime(w.since) for w in figures.windows}

    def orders_link(window: str, **filters: str) -> str:
        query = {"created_at__gte": local_since[window].isoformat(sep=" "), **filters}
        return f"{orders_url}?{urlencode(query)}"

    windows = [
        {
            "key": w.key,
            "label": w.label,
            "since": local_since[w.key],
            "tally": figures.tallies[w.key],
            "statuses": [
                (STATUS_LABELS[s], n, orders_link(w.key, status__exact=s), s)
                for s, n in figures.tallies[w.key].by_status.items()
            ],
            "all_url": orders_link(w.key),
            "revenue": [(currency, amounts[w.key]) for currency, amounts in figures.revenue.items()],
        }
        for w in figures.windows
    ]
    providers = [
        {
            "name": p.name,
            "windows": [
                {
                    "key": w.key,
                    "tally": p.tallies[w.key],
                    "url": orders_link(w.key, provider=p.name),
                    "latency": p.latency[w.key],
                }
                for w in figures.windows
            ],
        }
        for p in figures.providers
    ]
    day = figures.windows[0].key
    success = [
        Bar(p.name, rate, f"{rate:.1f} %", "oneclick-fill-completed")
        for p in figures.providers
        if (rate := p.tallies[day].success_rate) is not None
    ]
    latency_bars = []
    for p in figures.providers:
        latency = p.latency[day]
        if latency is not None:
            latency_bars.append(
                Bar(f"{p.name} median", latency.median_ms, f"{latency.median_ms} ms", "oneclick-fill-median")
            )
            latency_bars.append(Bar(f"{p.name} 95 %", latency.p95_ms, f"{latency.p95_ms} ms", "oneclick-fill-p95"))
    return {
        "windows": windows,
        "providers": providers,
        "reason_labels": REASONS,
        "attention": [
            {
                "order": item.order,
                "url": order_url(item.order),
                "reasons": [REASONS[r] for r in item.reasons],
            }
            for item in figures.attention
        ],
        "attention_counts": [(REASONS[key], count) for key, count in figures.attention_counts.items()],
        "attention_total": sum(figures.attention_counts.values()),
        "days_chart": stacked_columns(
            "Orders per day, last 7 days, by status",
            [(d.strftime("%a %d"), counts) for d, counts in figures.days],
            STATUS_LABELS,
        ),
        "success_chart": horizontal_bars("Success rate per provider, last 24 hours", success, scale_max=100),
        "latency_chart": horizontal_bars("Purchase latency per provider, last 24 hours (ms)", latency_bars),
    }
