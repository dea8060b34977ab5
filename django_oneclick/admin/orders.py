"""Orders: read-only accounting records with their exchange log; refresh, retry, and the operator's
pages (settle by hand, acknowledge a late charge, see :mod:`django_oneclick.admin.operator`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join

from django_oneclick.admin.forms import candidate_rows
from django_oneclick.admin.operator import OperatorPages
from django_oneclick.domain.errors import IdempotencyConflict, InvalidTransition, OrderRequestInvalid
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.models import OneClickOrder, OrderStatus, ProviderExchange
from django_oneclick.orders import refresh_order, retry_order

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
class OneClickOrderAdmin(OperatorPages, admin.ModelAdmin):
    list_display = [
        "public_id",
        "created_at",
        "owner",
        "product_title",
        "total_display",
        "provider",
        "status_badge",
        "late_charge",
        "candidates_count",
        "provider_order_id",
    ]
    list_filter = ["status", "late_charge", "provider", "currency", "created_at"]
    search_fields = ["provider_order_id", "owner__email", "owner__username", "=public_id", "product_reference"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [ProviderExchangeInline]
    actions = ["refresh_status", "retry_as_new_order", "settle_by_hand"]
    exclude = ["request_fingerprint"]

    @method_decorator(transaction.non_atomic_requests)
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        """The actions call providers: never inside ATOMIC_REQUESTS (see place_order)."""
        return super().changelist_view(request, extra_context)

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

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: OneClickOrder) -> str:
        colours: dict[str, str] = {S.COMPLETED: "#2e7d32", S.FAILED: "#c62828", S.UNKNOWN: "#ef6c00"}
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(obj.status, "#555"), obj.get_status_display()
        )

    @admin.display(description="Candidates")
    def candidates_count(self, obj: OneClickOrder) -> int | None:
        """How many provider orders may be this one; empty when there are none to decide on."""
        return len(obj.candidates) if obj.candidates and obj.status in UNSETTLED else None

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
        changed = 0
        for order in queryset.select_related("payment_method", "owner"):
            before = order.status
            refresh_order(order)
            changed += order.status != before
        self.message_user(request, f"Asked the provider about {queryset.count()} order(s); {changed} changed status.")

    @admin.action(description="Retry failed orders as new orders", permissions=["change"])
    def retry_as_new_order(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        for order in queryset.select_related("owner"):
            try:
                placed = retry_order(order)
            except InvalidTransition as exc:
                self.message_user(request, f"{order.public_id}: {exc}", messages.WARNING)
            except OrderRequestInvalid as exc:
                problems = "; ".join(m for msgs in exc.errors.values() for m in msgs)
                self.message_user(request, f"{order.public_id}: {problems}", messages.ERROR)
            except IdempotencyConflict as exc:
                self.message_user(request, f"{order.public_id}: {exc}", messages.WARNING)
            else:
                verb = "placed" if placed.created else "was already placed"
                self.message_user(
                    request, f"Retry of {order.public_id} {verb} as {placed.order.public_id} ({placed.order.status})."
                )

    @admin.action(description="Settle one order by hand (checked at the provider)…", permissions=["change"])
    def settle_by_hand(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> HttpResponse | None:
        """Opens the order's settle page: each order needs its own check at the provider and reason."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one order to settle by hand.", messages.WARNING)
            return None
        return HttpResponseRedirect(self.operator_url("settle", queryset.get()))
