"""The REST API: place an order, read orders, manage saved payment methods."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.decorators import method_decorator
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from django_oneclick import services
from django_oneclick.api.serializers import (
    OrderSerializer,
    PaymentMethodSerializer,
    PlaceOrderSerializer,
    RegisterMethodSerializer,
)
from django_oneclick.client_ip import client_ip
from django_oneclick.conf import oneclick_settings
from django_oneclick.models import OneClickOrder, PaymentMethod

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class PlaceOrderThrottle(UserRateThrottle):
    scope = "oneclick_orders"

    def get_rate(self) -> str:
        return oneclick_settings.ORDER_THROTTLE_RATE


class OrderPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def idempotency_key(request: Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        raise ValidationError({IDEMPOTENCY_HEADER: ["This header is required: one unique key per purchase."]})
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError({IDEMPOTENCY_HEADER: [f"Use at most {MAX_KEY_LENGTH} printable characters."]})
    return key


class SessionAuthenticationByDefault:
    """Session authentication, with its CSRF check, unless the shop's ``REST_FRAMEWORK`` setting
    names its own ``DEFAULT_AUTHENTICATION_CLASSES`` (DRF's built-in default would also accept
    HTTP Basic, with no CSRF check, on an endpoint that spends money)."""

    def get_authenticators(self) -> list[BaseAuthentication]:
        if "DEFAULT_AUTHENTICATION_CLASSES" in getattr(settings, "REST_FRAMEWORK", {}):
            return super().get_authenticators()
        return [SessionAuthentication()]


# Never inside ATOMIC_REQUESTS: an order is committed before its provider is called.
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class OrderViewSet(
    SessionAuthenticationByDefault, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = OrderPagination
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-f-]{36}"

    def get_queryset(self):
        return OneClickOrder.objects.filter(owner=self.request.user).select_related("payment_method")

    def get_throttles(self):
        if self.action == "create":
            return [PlaceOrderThrottle()]
        return super().get_throttles()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = idempotency_key(request)
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        body = PlaceOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            placed = services.place_order(
                user=request.user,
                product=body.validated_data["product"],
                quantity=body.validated_data["quantity"],
                payment_method_id=body.validated_data.get("payment_method"),
                idempotency_key=key,
                customer_ip=client_ip(request),
                options=body.validated_data["options"],
            )
        except services.OrderRequestInvalid as exc:
            raise ValidationError(exc.errors) from exc
        except services.IdempotencyConflict as exc:
            return Response(
                {"detail": str(exc), "order": str(exc.order.public_id)}, status=exc.http_status
            )
        code = status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK
        return Response(OrderSerializer(placed.order).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order = self.get_object()
        services.refresh_order(order, min_interval=oneclick_settings.STATUS_REFRESH_INTERVAL)
        return Response(OrderSerializer(order).data)


class PaymentMethodViewSet(
    SessionAuthenticationByDefault,
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = PaymentMethodSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None

    def get_queryset(self):
        return PaymentMethod.objects.filter(owner=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RegisterMethodSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            method = services.register_payment_method(
                request.user, body.validated_data["provider"], body.validated_data["data"]
            )
        except services.OrderRequestInvalid as exc:
            raise ValidationError(exc.errors) from exc
        return Response(PaymentMethodSerializer(method).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="default")
    def make_default(self, request: Request, pk: str | None = None) -> Response:
        method = self.get_object()
        services.set_default_method(method)
        return Response(PaymentMethodSerializer(method).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            services.remove_method(self.get_object())
        except services.MethodInUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
