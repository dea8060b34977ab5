"""The customer service view: the user's admin page shows the customer's saved methods and latest
one-click orders (read-only, each linked to its page), with a link to buy on their behalf.

The app adds two inlines to the user admin that is registered, whichever it is: the shop's own
user admin keeps working, as a subclass with the inlines added (:func:`add_customer_view`, called
from the app's ``ready()``, after the admin's autodiscovery). A shop that builds its user admin
another way adds :class:`CustomerOneClickMixin` to it, or the two inlines.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from django_oneclick.admin.columns import placed_html, provider_order_html
from django_oneclick.admin.methods import masked
from django_oneclick.admin.retry import short_id
from django_oneclick.models import OneClickOrder, PaymentMethod

#: How many of the customer's orders the user's page lists (the newest); the rest are a link away.
LATEST_ORDERS = 20
INLINE_TEMPLATE = "admin/django_oneclick/customer_inline.html"
METHOD_FIELDS = ("label", "provider", "is_default", "needs_reentry", "expires", "masked_reference", "created_at")
ORDER_FIELDS = ("order_id", "placed", "product_title", "total_display", "status_display", "provider_order")


class LatestOrdersFormSet(BaseInlineFormSet):
    """The customer's newest orders only: a customer with thousands does not make a slow page."""

    def get_queryset(self) -> Any:
        if not hasattr(self, "_latest"):
            newest = list(
                super().get_queryset().order_by("-created_at", "-pk").values_list("pk", flat=True)[:LATEST_ORDERS]
            )
            self._latest = OneClickOrder.objects.filter(pk__in=newest).order_by("-created_at", "-pk")
        return self._latest


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True
    template = INLINE_TEMPLATE

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CustomerPaymentMethodsInline(ReadOnlyInline):
    model = PaymentMethod
    fk_name = "owner"
    verbose_name_plural = "One-click payment methods"
    fields = readonly_fields = METHOD_FIELDS

    @admin.display(description="Provider reference")
    def masked_reference(self, obj: PaymentMethod) -> str:
        return masked(obj.reference)


class CustomerOrdersInline(ReadOnlyInline):
    model = OneClickOrder
    fk_name = "owner"
    formset = LatestOrdersFormSet
    verbose_name_plural = f"One-click orders (the latest {LATEST_ORDERS})"
    fields = readonly_fields = ORDER_FIELDS

    class Media:
        css = {"all": ["django_oneclick/admin.css"]}

    @admin.display(description="Order")
    def order_id(self, obj: OneClickOrder) -> str:
        return format_html('<code class="oneclick-id" title="{}">{}</code>', obj.public_id, short_id(obj))

    @admin.display(description="Placed")
    def placed(self, obj: OneClickOrder) -> str:
        return placed_html(obj)

    @admin.display(description="Total")
    def total_display(self, obj: OneClickOrder) -> str:
        return format_html('<span class="oneclick-nowrap">{} {}</span>', obj.total, obj.currency)

    @admin.display(description="Status")
    def status_display(self, obj: OneClickOrder) -> str:
        late = format_html('<br><span class="oneclick-note-flag">late charge</span>') if obj.late_charge else ""
        return format_html(
            '<strong class="oneclick-admin-status oneclick-admin-status-{}">{}</strong>{}',
            obj.status,
            obj.get_status_display(),
            late,
        )

    @admin.display(description="Provider order")
    def provider_order(self, obj: OneClickOrder) -> str:
        return provider_order_html(obj)


class CustomerOneClickMixin:
    """Mixed into a user admin: the customer's methods and orders inline on their page, with links
    to all their orders and to buying on their behalf."""

    oneclick_inlines = [CustomerPaymentMethodsInline, CustomerOrdersInline]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        inlines = list(super().get_inlines(request, obj))  # type: ignore[misc]
        if obj is None:  # the add page: no customer yet
            return inlines
        return [*inlines, *(inline for inline in self.oneclick_inlines if inline not in inlines)]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        site = self.admin_site  # type: ignore[attr-defined]
        context = {**customer_links(request, object_id, site), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)  # type: ignore[misc]


def customer_links(request: HttpRequest, object_id: str, site: admin.AdminSite) -> dict[str, str]:
    """Links for the inlines' header: all the customer's orders, buying on their behalf."""
    links: dict[str, str] = {}
    orders = site._registry.get(OneClickOrder)
    if orders is None:
        return links
    opts = OneClickOrder._meta
    try:
        changelist = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_changelist")
        buy = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_buy")
    except NoReverseMatch:
        return links
    if orders.has_view_or_change_permission(request):
        links["oneclick_orders_url"] = f"{changelist}?owner__id__exact={object_id}"
    if orders.has_change_permission(request):
        links["oneclick_buy_url"] = f"{buy}?customer={object_id}"
    return links


def add_customer_view(site: admin.AdminSite | None = None) -> bool:
    """Show the customer's one-click methods and orders on the user's admin page of ``site`` (the
    default admin site): the registered user admin is replaced by a subclass of itself with
    :class:`CustomerOneClickMixin`. False when no user admin is registered there, or it has it."""
    site = site or admin.site
    user_model = get_user_model()
    registered = site._registry.get(user_model)
    if registered is None or isinstance(registered, CustomerOneClickMixin):
        return False
    base = type(registered)
    extended = type(base.__name__, (CustomerOneClickMixin, base), {"__module__": base.__module__})
    site.unregister(user_model)
    site.register(user_model, extended)
    return True
