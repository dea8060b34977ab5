from __future__ import annotations

from typing import Any

from rest_framework import serializers

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.messages import ProgressStep
from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.orders.customer import customer_view


class JSONIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: DRF's field also takes ``"2"`` and ``2.0``, a body the
    schema (``type: integer``) calls invalid and this API refuses as such."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONStringField(serializers.CharField):
    """A JSON string and nothing else: DRF's field also turns ``123`` into ``"123"``."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PlaceOrderSerializer(serializers.Serializer):
    """The body of ``POST orders/``. The price is not an input: it comes from the shop. The rules
beyond types (key, options, what the shop sells) are the core's (``orders.validation``)."""

    product = JSONStringField(max_length=200, min_length=1, help_text="The shop's product reference.")
    quantity = JSONIntegerField(default=1, min_value=1)
    payment_method = JSONIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The id of one of the customer's saved methods; left out or null: the default method.",
    )
    options = serializers.DictField(
        required=False,
        default=dict,
        help_text="The provider's purchase options (bounded JSON, no card data); most providers take none.",
    )

    def get_fields(self) -> dict[str, Any]:
        """The quantity's bounds as the shop set them (``MAX_QUANTITY``), read when a body is
        checked, so that the schema shows them too; the message is the core's."""
        fields = super().get_fields()
        most = oneclick_settings.MAX_QUANTITY
        message = f"Choose a quantity from 1 to {most}."
        fields["quantity"] = JSONIntegerField(
            default=1, min_value=1, max_value=most, error_messages={"min_value": message, "max_value": message}
        )
        return fields


class CustomerTextField(serializers.CharField):
    """Read-only words of the order's customer view (``message`` or ``progress``): the catalogue's,
    in the reader's language, never the provider's text (see :mod:`django_oneclick.domain.messages`)."""

    def __init__(self, part: str, **kwargs: Any) -> None:
        self.part = part
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return str(getattr(customer_view(value), self.part))


class ProgressStepField(serializers.ChoiceField):
    """The customer's progress step, a value of :class:`ProgressStep`; null when none applies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ProgressStep.choices, source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        step = customer_view(value).step
        return step.value if step is not None else None


class OrderSerializer(serializers.ModelSerializer):
    """An order as its customer sees it: the provider's detail and raw state (``error_message``,
    ``progress`` as stored) are the operator's, in the admin; here ``customer_message`` and
    ``progress`` are curated words for the order's error code and step."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    product = serializers.CharField(source="product_reference", read_only=True)
    payment_method = serializers.CharField(source="payment_label", read_only=True)
    is_final = serializers.BooleanField(read_only=True)
    progress = CustomerTextField("progress", help_text="How far the order got, in the customer's words.")
    progress_step = ProgressStepField(help_text="The step of `progress`, for clients with words of their own.")
    customer_message = CustomerTextField("message", help_text="What to tell the customer (may be empty).")

    class Meta:
        model = OneClickOrder
        fields = [
            "id",
            "status",
            "is_final",
            "product",
            "product_title",
            "quantity",
            "unit_price",
            "total",
            "max_total",
            "charged_total",
            "currency",
            "provider",
            "payment_method",
            "provider_order_id",
            "next_action",
            "progress",
            "progress_step",
            "error_code",
            "customer_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentMethodSerializer(serializers.ModelSerializer):
    """A saved method as its owner sees it: never the provider reference."""

    class Meta:
        model = PaymentMethod
        fields = ["id", "provider", "label", "brand", "last4", "expires", "is_default", "needs_reentry", "created_at"]
        read_only_fields = fields


class RegisterMethodSerializer(serializers.Serializer):
    """The body of ``POST payment-methods/``: what the customer submitted to a provider that takes
    methods from customers (the provider checks ``data``)."""

    provider = JSONStringField(max_length=50, min_length=1, help_text="The provider's name, e.g. `sandbox`.")
    # The serializer's metaclass moves declared fields into ``_declared_fields``, so this field does
    # not replace ``Serializer.data``; the stubs cannot see that.
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="What the provider's form produced (bounded JSON); its page says what it holds."
    )
