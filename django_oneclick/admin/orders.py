"""Orders: read-only accounting records with their exchange log; refresh, and the operator's pages
and actions: settle by hand, acknowledge a late charge (:mod:`~django_oneclick.admin.operator`),
retry a failed order (:mod:`~django_oneclick.admin.retry`), buy on a customer's behalf
(:mod:`~django_oneclick.admin.on_behalf`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join

from django_oneclick.admin.columns import OrderListColumns
from django_oneclick.admin.forms import candidate_rows
from django_oneclick.admin.on_behalf import OnBehalfPages
from django_oneclick.domain.states import UNSETTLED
from django_oneclick.models import OneClickOrder, OneClickOverview, OrderStatus, ProviderExchange
from django_oneclick.orders import refresh_order

#: Shown first on an order's page: where it stands and what an operator may have to do about it.
WHERE_IT_STANDS = [
    "status",
    "late_charge",
    "candidates_table",
    "provider_order_id",
    "progress",
    "error_code",
    "error_message",
    "customer_message",
]
NOT_SHOWN = {"candidates", "request_fingerprint"}  # the candidates are shown as a table
#: An exchange as the order's page lists it, every column read-only.
EXCHANGE_FIELDS = ("created_at", "operation", "outcome", "http_status", "duration_ms", "error", "request", "response")


class ProviderExchangeInline(admin.TabularInline):
    model = ProviderExchange
    extra = 0
    can_delete = False
    fields = EXCHANGE_FIELDS
    readonly_fields = EXCHANGE_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OneClickOrder)
class OneClickOrderAdmin(OrderListColumns, OnBehalfPages, admin.ModelAdmin):
    #: Fits 1400 pixels: the late charge and the candidates are noted under the status, the
    #: provider over its order id (see :mod:`~django_oneclick.admin.columns`).
    list_display = [
        "short_id_display",
        "placed",
        "owner",
        "product_title",
        "total_display",
        "status_column",
        "provider_order_display",
    ]
    #: The short id is text to copy (one click selects it); the date opens the order.
    list_display_links = ["placed"]
    list_filter = ["status", "late_charge", "provider", "currency", "created_at"]
    #: What :func:`~django_oneclick.admin.search.order_search` searches (``OrderListColumns``).
    search_fields = ["public_id", "provider_order_id", "owner__email", "owner__username"]
    search_help_text = (
        "An order id or its first 8 characters, the provider's order id, the customer's email address or "
        "username (or how it starts)."
    )
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [ProviderExchangeInline]
    actions = ["refresh_status", "retry_as_new_order", "settle_by_hand"]
    exclude = ["request_fingerprint"]

    @method_decorator(transaction.non_atomic_requests)
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        """The actions call providers: never inside ATOMIC_REQUESTS (see place_order)."""
        links = {}
        overview = self.admin_site._registry.get(OneClickOverview)
        if overview is not None and overview.has_view_permission(request):
            links["oneclick_overview_url"] = reverse(
                f"{self.admin_site.name}:django_oneclick_oneclickoverview_changelist", current_app=self.admin_site.name
            )
        if self.has_change_permission(request):
            links["oneclick_buy_url"] = self.buy_url()
        return super().changelist_view(request, {**links, **(extra_context or {})})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """Read-only: no Save button, and a POST saves nothing (a full-row save of what was read
        would even overwrite a status a refresh wrote meanwhile). Links to the operator's pages."""
        if request.method == "POST":
            self.message_user(request, "Orders are read-only: nothing was saved.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            **self.operator_links(request, self.get_object(request, unquote(object_id))),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_fieldsets(self, request: HttpRequest, obj: OneClickOrder | None = None) -> list:
        shown = set(WHERE_IT_STANDS) | NOT_SHOWN
        rest = [f.name for f in self.model._meta.fields if f.name not in shown]
        return [("Where it stands", {"fields": WHERE_IT_STANDS}), ("The order", {"fields": rest})]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name not in NOT_SHOWN] + ["candidates_table"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Orders are accounting records.
        return False

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: OneClickOrder) -> str:
        return f"{obj.total} {obj.currency}"

    class Media:
        # The status colours: a stylesheet, never an inline style (a strict CSP refuses those).
        css = {"all": ["django_oneclick/admin.css"]}

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: OneClickOrder) -> str:
        return format_html(
            '<strong class="oneclick-admin-status oneclick-admin-status-{}">{}</strong>',
            obj.status,
            obj.get_status_display(),
        )

    @admin.display(description="Candidates (provider orders that may be this one)")
    def candidates_table(self, obj: OneClickOrder) -> str:
        rows = candidate_rows(obj)
        if not rows:
            return "None." if obj.status == OrderStatus.UNKNOWN else "-"
        body = format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="oneclick-candidates"><thead><tr><th>Provider order id</th><th>Placed at</th>'
            "<th>State at the provider</th></tr></thead><tbody>{}</tbody></table>"
            '<div class="help">Found by product and time, not by our reference: none is this order by itself '
            "(a customer may buy the same thing twice). Check at the provider, then settle the order by hand.</div>",
            body,
        )

    @admin.action(description="Refresh status from the provider")
    def refresh_status(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        """Asks, never sends again; says how many settled, and warns of those still unsettled."""
        asked, changed, unsettled = 0, 0, 0
        for order in queryset.select_related("payment_method", "owner"):
            before = order.status
            refresh_order(order)
            asked += 1
            changed += order.status != before
            unsettled += order.status in UNSETTLED
        message = f"Asked the provider about {asked} order(s); {changed} changed status."
        if unsettled:
            message += f" {unsettled} still unsettled: check them at the provider or settle them by hand."
        self.message_user(request, message, messages.WARNING if unsettled else messages.SUCCESS)

    @admin.action(description="Settle one order by hand (checked at the provider)…", permissions=["change"])
    def settle_by_hand(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> HttpResponse | None:
        """Opens the order's settle page: each order needs its own check at the provider and reason."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one order to settle by hand.", messages.WARNING)
            return None
        return HttpResponseRedirect(self.operator_url("settle", queryset.get()))
