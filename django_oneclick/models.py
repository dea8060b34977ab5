"""Saved payment methods, one-click orders and the log of every provider exchange.

The order's status only changes through :func:`django_oneclick.orders.transition`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from django_oneclick.domain.states import FINAL, OrderStatus


class PaymentMethod(models.Model):
    """A payment method the customer saved at a provider. Holds the provider's reference and a
    display label, never a card number or CVV."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oneclick_payment_methods"
    )
    provider = models.CharField(max_length=50)
    reference = models.CharField(
        max_length=4000,
        help_text=_("The provider's reference: token, previous order number, charge method id."),
    )
    label = models.CharField(max_length=100, help_text=_('Shown to the customer, e.g. "Visa •••• 4242".'))
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    data = models.JSONField(
        default=dict, blank=True, help_text=_("Provider extras such as the billing email.")
    )
    is_default = models.BooleanField(default=False)
    needs_reentry = models.BooleanField(
        default=False, help_text=_("The provider no longer accepts it; the customer must enter it again.")
    )
    expires = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_default=True),
                name="oneclick_one_default_method_per_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class OneClickOrder(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="oneclick_orders"
    )
    payment_method = models.ForeignKey(
        PaymentMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    payment_label = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=50)
    product_reference = models.CharField(max_length=200)
    product_title = models.CharField(max_length=300)
    provider_product_id = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    max_total = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "The most the customer agreed to pay, shipping and tax included, as shown on the button "
            "(the total plus the offer's allowance); sent as the cap to providers that price at the merchant."
        ),
    )
    charged_total = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("What the provider says it charged, all-in, where it reports it (Rye); else the total."),
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True
    )
    provider_order_id = models.CharField(max_length=200, blank=True, db_index=True)
    next_action = models.JSONField(null=True, blank=True)
    progress = models.CharField(max_length=50, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True, help_text=_("The provider's detail, for the operator."))
    customer_message = models.TextField(blank=True, help_text=_("What the customer is told."))
    customer_ip = models.GenericIPAddressField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    refresh_attempts = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    candidates = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Provider orders that may be this one (found by product and time, not by our reference): "
            "an operator tells which, if any, it is."
        ),
    )
    late_charge = models.BooleanField(
        default=False,
        help_text=_("The provider reported a charge after the order was settled as failed: an operator must act."),
    )
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="oneclick_idempotency_key_per_owner"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="oneclick_quantity_positive"),
            # One charge is one order: a provider's order never settles two of ours.
            models.UniqueConstraint(
                fields=["provider", "provider_order_id"],
                condition=~Q(provider_order_id=""),
                name="oneclick_one_order_per_provider_order",
            ),
        ]
        indexes = [
            # The late charges waiting for an operator (the overview's queue, the list's filter): a
            # handful among all orders, found without reading the others.
            models.Index(fields=["created_at"], condition=Q(late_charge=True), name="oneclick_late_charges"),
        ]

    def __str__(self) -> str:
        return f"{self.product_title} × {self.quantity} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class ProviderExchange(models.Model):
    """One call to a provider, redacted before it is written."""

    order = models.ForeignKey(
        OneClickOrder, on_delete=models.CASCADE, related_name="exchanges", null=True, blank=True
    )
    provider = models.CharField(max_length=50)
    operation = models.CharField(max_length=50)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=50)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider}.{self.operation}: {self.outcome}"


class OneClickOverview(OneClickOrder):
    """The admin's one-click overview, listed on the admin index: a proxy, with no table and no
    permissions of its own (staff who may view orders see it)."""

    class Meta:
        proxy = True
        verbose_name = _("overview")
        verbose_name_plural = _("overview")
        default_permissions = ()
