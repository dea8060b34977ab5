from __future__ import annotations

from rest_framework import serializers

from django_oneclick.models import OneClickOrder, PaymentMethod


class PlaceOrderSerializer(serializers.Serializer):
    """The body of ``POST orders/``. The price is not an input: it comes from the shop. The rules
beyond types (quantity limit, key, options) are the core's (``orders.validation``)."""

    product = serializers.CharField(max_length=200)
    quantity = serializers.IntegerField(default=1, min_value=1)
    payment_method = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    options = serializers.DictField(required=False, default=dict)


class OrderSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    product = serializers.CharField(source="product_reference", read_only=True)
    payment_method = serializers.CharField(source="payment_label", read_only=True)
    is_final = serializers.BooleanField(read_only=True)

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
            "error_code",
            "error_message",
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
    provider = serializers.CharField(max_length=50)
    # The serializer's metaclass moves declared fields into ``_declared_fields``, so this field does
    # not replace ``Serializer.data``; the stubs cannot see that.
    data = serializers.DictField()  # type: ignore[assignment]
