"""Saved payment methods: the provider's reference is only ever shown masked."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from django_oneclick.models import PaymentMethod
from django_oneclick.orders import method_in_use, remove_method
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
        if obj is not None and method_in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: PaymentMethod) -> None:
        remove_method(obj)
