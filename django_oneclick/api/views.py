"""The REST API: place an order, read orders, manage saved payment methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, Throttled, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from django_oneclick.api.parsers import BoundedJSONParser
from django_oneclick.api.serializers import (
    OrderSerializer,
    PaymentMethodSerializer,
    PlaceOrderSerializer,
    RegisterMethodSerializer,
)
from django_oneclick.client_ip import client_ip
from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.errors import (
    GENERAL,
    IdempotencyConflict,
    KeyReusedForAnotherRequest,
    MethodInUse,
    OrderRequestInvalid,
)
from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.orders import (
    place_order,
    refresh_order,
    register_payment_method,
    remove_method,
    set_default_method,
)
from django_oneclick.orders.validation import validate_idempotency_key
from django_oneclick.throttle import TOO_MANY, TOO_MANY_METHODS, RateLimited, take

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: What each refusal of the Idempotency-Key rules answers (IETF draft "The Idempotency-Key HTTP Header Field").
CONFLICT_STATUS: dict[type[IdempotencyConflict], int] = {
    KeyReusedForAnotherRequest: status.HTTP_422_UNPROCESSABLE_ENTITY
}


class AtomicRateThrottle(BaseThrottle):
    """DRF's throttle interface over :func:`django_oneclick.throttle.take` (atomic under
    concurrency); ``scope`` and ``setting`` name the allowance and the rate's setting."""

    def __init__(self, scope: str, setting: str) -> None:
        self.scope, self.setting, self.retry_after = scope, setting, 0

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            take(self.scope, request.user.pk, getattr(oneclick_settings, self.setting))
        except RateLimited as exc:
            self.retry_after = exc.retry_after
            return False
        return True

    def wait(self) -> float:
        return self.retry_after


class OrderPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


def invalid(exc: OrderRequestInvalid) -> ValidationError:
    """The core's field errors in DRF's words: the request-wide key and the key's header."""
    names = {GENERAL: api_settings.NON_FIELD_ERRORS_KEY, "idempotency_key": IDEMPOTENCY_HEADER}
    return ValidationError({names.get(field, field): messages for field, messages in exc.errors.items()})


def idempotency_key(request: Request) -> str:
    try:
        return validate_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER, ""))
    except OrderRequestInvalid as exc:
        raise invalid(exc) from exc


if TYPE_CHECKING:
    # What the mixin relies on: a DRF view (a plain base at run time, the view supplies it).
    _APIViewBase = APIView
else:
    _APIViewBase = object


class PlainWordsWhenThrottled(_APIViewBase):
    """A refusal by the rate limit in the customer's words (``throttle_message``), without DRF's
    own sentence; the wait is still sent as ``Retry-After``."""

    throttle_message: Any = TOO_MANY

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        refused = Throttled(detail=str(self.throttle_message))
        refused.wait = wait  # type: ignore[attr-defined]  # the stubs miss it; DRF sends it as Retry-After
        raise refused


class SessionAuthenticationByDefault(_APIViewBase):
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
    SessionAuthenticationByDefault,
    PlainWordsWhenThrottled, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    pagination_class = OrderPagination
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-f-]{36}"

    def get_queryset(self) -> QuerySet[OneClickOrder]:
        user = self.request.user
        if not user.is_authenticated:  # IsAuthenticated refuses such a request before this
            raise NotAuthenticated
        return OneClickOrder.objects.filter(owner=user).select_related("payment_method")

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            return [AtomicRateThrottle("orders", "ORDER_THROTTLE_RATE")]
        return super().get_throttles()


    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = idempotency_key(request)
        if not isinstance(request.data, dict):
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Send a JSON object."]})
        body = PlaceOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            placed = place_order(
                user=request.user,
                product=body.validated_data["product"],
                quantity=body.validated_data["quantity"],
                payment_method_id=body.validated_data.get("payment_method"),
                idempotency_key=key,
                customer_ip=client_ip(request),
                options=body.validated_data["options"],
            )
        except OrderRequestInvalid as exc:
            raise invalid(exc) from exc
        except IdempotencyConflict as exc:
            return Response(
                {"detail": str(exc), "order": str(exc.order.public_id)},
                status=CONFLICT_STATUS.get(type(exc), status.HTTP_409_CONFLICT),
            )
        code = status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK
        return Response(OrderSerializer(placed.order).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order = self.get_object()
        refresh_order(order, min_interval=oneclick_settings.STATUS_REFRESH_INTERVAL)
        return Response(OrderSerializer(order).data)


class PaymentMethodViewSet(
    SessionAuthenticationByDefault,
    PlainWordsWhenThrottled,
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = PaymentMethodSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    pagination_class = None
    throttle_message = TOO_MANY_METHODS

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            return [AtomicRateThrottle("methods", "METHOD_THROTTLE_RATE")]
        return super().get_throttles()

    def get_queryset(self) -> QuerySet[PaymentMethod]:
        user = self.request.user
        if not user.is_authenticated:  # IsAuthenticated refuses such a request before this
            raise NotAuthenticated
        return PaymentMethod.objects.filter(owner=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = RegisterMethodSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            method = register_payment_method(
                request.user, body.validated_data["provider"], body.validated_data["data"]
            )
        except OrderRequestInvalid as exc:
            raise invalid(exc) from exc
        return Response(PaymentMethodSerializer(method).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="default")
    def make_default(self, request: Request, pk: str | None = None) -> Response:
        method = self.get_object()
        set_default_method(method)
        return Response(PaymentMethodSerializer(method).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            remove_method(self.get_object())
        except MethodInUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
