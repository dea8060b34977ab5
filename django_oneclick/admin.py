"""Back-office screens: saved methods (masked) and orders (read-only, with their exchanges)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.html import format_html

from django_oneclick import services
from django_oneclick.models import OneClickOrder, PaymentMethod, ProviderExchange
from django_oneclick.redaction import REDACTED


def masked(reference: str) -> str:
    """Enough of a provider reference to tell two apart, never enough to use it."""
    return f"…{reference[-4:]}" if len(reference) > 8 else REDACTED


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["label", "owner", "provider", "is_default", "needs_reentry", "expires", "created_at"]
    list_filter = ["provider", "is_default", "needs_reentry"]
    search_fields = ["owner__username", "owner__email", "label", "last4"]
    list_select_related = ["owner"]
    actions = None  # the bulk delete would bypass has_delete_permission's check below
    fields = [
        "owner",
        "provider",
        "label",
        "brand",
        "last4",
        "masked_reference",
        "is_default",
        "needs_reentry",
        "expires",
        "created_at",
    ]
    readonly_fields = ["owner", "provider", "brand", "last4", "masked_reference", "expires", "created_at"]

    @admin.display(description="Provider reference")
    def masked_reference(self, obj: PaymentMethod) -> str:
        return masked(obj.reference)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Methods come from the provider (checkout, card form); staff cannot invent references.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PaymentMethod | None = None) -> bool:
        # The provider may need a method to settle its unsettled orders.
        if obj is not None and services.method_in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: PaymentMethod) -> None:
        services.remove_method(obj)


class ProviderExchangeInline(admin.TabularInline):
    model = ProviderExchange
    extra = 0
    can_delete = False
    fields = ["created_at", "operation", "outcome", "http_status", "duration_ms", "error", "request", "response"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OneClickOrder)
class OneClickOrderAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "created_at",
        "owner",
        "product_title",
        "total_display",
        "provider",
        "status_badge",
        "provider_order_id",
    ]
    list_filter = ["status", "provider", "currency", "created_at"]
    search_fields = ["provider_order_id", "owner__email", "owner__username", "=public_id", "product_reference"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [ProviderExchangeInline]
    actions = ["refresh_status", "retry_as_new_order", "mark_completed", "mark_failed"]
    exclude = ["request_fingerprint"]

    @method_decorator(transaction.non_atomic_requests)
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        """The actions call providers: never inside ATOMIC_REQUESTS (see services.place_order)."""
        return super().changelist_view(request, extra_context)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name != "request_fingerprint"]

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
        colours = {"completed": "#2e7d32", "failed": "#c62828", "unknown": "#ef6c00"}
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(obj.status, "#555"), obj.get_status_display()
        )

    @admin.action(description="Refresh status from the provider")
    def refresh_status(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        changed = 0
        for order in queryset.select_related("payment_method", "owner"):
            before = order.status
            services.refresh_order(order)
            changed += order.status != before
        self.message_user(request, f"Asked the provider about {queryset.count()} order(s); {changed} changed status.")

    @admin.action(description="Retry failed orders as new orders")
    def retry_as_new_order(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        for order in queryset.select_related("owner"):
            try:
                placed = services.retry_order(order)
            except services.InvalidTransition as exc:
                self.message_user(request, f"{order.public_id}: {exc}", messages.WARNING)
            except services.OrderRequestInvalid as exc:
                problems = "; ".join(m for msgs in exc.errors.values() for m in msgs)
                self.message_user(request, f"{order.public_id}: {problems}", messages.ERROR)
            except services.IdempotencyConflict as exc:
                self.message_user(request, f"{order.public_id}: {exc}", messages.WARNING)
            else:
                verb = "placed" if placed.created else "was already placed"
                self.message_user(
                    request, f"Retry of {order.public_id} {verb} as {placed.order.public_id} ({placed.order.status})."
                )

    @admin.action(description="Mark as completed (checked at the provider)")
    def mark_completed(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        self._settle(request, queryset, "completed")

    @admin.action(description="Mark as failed (checked at the provider: nothing charged)")
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> None:
        self._settle(request, queryset, "failed")

    def _settle(self, request: HttpRequest, queryset: QuerySet[OneClickOrder], status: str) -> None:
        for order in queryset:
            try:
                settled = services.settle_manually(order, status, operator=request.user.get_username())
            except services.InvalidTransition as exc:
                self.message_user(request, f"{order.public_id}: {exc}", messages.WARNING)
            else:
                outcome = f"marked {status}" if settled else "changed meanwhile; nothing done"
                self.message_user(request, f"{order.public_id}: {outcome}.")
