"""The REST API: place an order, read orders, manage saved payment methods."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound, Throttled, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from django_oneclick.api.parsers import BoundedJSONParser
from django_oneclick.api.schema import (
    AUTH_RESPONSES,
    BAD_QUERY,
    BAD_REQUEST,
    IDEMPOTENCY_KEY,
    METHOD_IN_USE,
    NO_PAGE,
    NOT_FOUND,
    RETRY_AFTER,
    THROTTLED,
    UNSUPPORTED_MEDIA,
    OneClickAutoSchema,
    conflict,
    operation,
)
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
from django_oneclick.orders.validation import MAX_KEY_LENGTH, validate_idempotency_key
from django_oneclick.throttle import TOO_MANY, TOO_MANY_METHODS, RateLimited, take

IDEMPOTENCY_HEADER = "Idempotency-Key"
WHOLE_NUMBER = re.compile("[0-9]+")
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
    """``?page=`` and ``?page_size=`` as whole numbers from 1: anything else is refused (an unknown
    page is a 404, a page size a 400), never silently read as the default."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    last_page_strings = ()

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        number = request.query_params.get(self.page_query_param) or 1
        if isinstance(number, str) and not WHOLE_NUMBER.fullmatch(number):
            raise NotFound(self.invalid_page_message.format(page_number=number, message="Not a whole number."))
        return number

    def get_page_size(self, request: Request) -> int:
        size = request.query_params.get(self.page_size_query_param)
        if size is None:
            return self.page_size
        digits = size.lstrip("0") if WHOLE_NUMBER.fullmatch(size) else ""
        if not digits:
            raise ValidationError(
                {self.page_size_query_param: [f"Send a whole number from 1 to {self.max_page_size}."]}
            )
        if len(digits) > len(str(self.max_page_size)):  # larger (and int() refuses thousands of digits)
            return self.max_page_size
        return min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Orders per page, {self.page_size} by default; more than {self.max_page_size} "
                    f"are sent as {self.max_page_size}."
                )
        return parameters


def invalid(exc: OrderRequestInvalid) -> ValidationError:
    """The core's field errors in DRF's words: the request-wide key and the key's header."""
    names = {GENERAL: api_settings.NON_FIELD_ERRORS_KEY, "idempotency_key": IDEMPOTENCY_HEADER}
    return ValidationError({names.get(field, field): messages for field, messages in exc.errors.items()})


def idempotency_key(request: Request) -> str:
    """The header's key, by the core's rules; and ASCII, as an HTTP field value should be (the IETF
    draft makes the key a Structured Field string, printable ASCII), and as the schema says."""
    try:
        key = validate_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER, ""))
    except OrderRequestInvalid as exc:
        raise invalid(exc) from exc
    if not key.isascii():
        raise ValidationError({IDEMPOTENCY_HEADER: [f"Use at most {MAX_KEY_LENGTH} printable ASCII characters."]})
    return key


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
@extend_schema_view(
    list=operation(
        operation_id="list_orders",
        summary="The customer's orders, newest first",
        description="Paginated: `?page=` from 1, `?page_size=` (20 by default, at most 100).",
        responses={200: OrderSerializer(many=True), 400: BAD_QUERY, 404: NO_PAGE, **AUTH_RESPONSES},
    ),
    create=operation(
        operation_id="place_order",
        summary="Place an order, exactly once per Idempotency-Key",
        description=(
            "The price comes from the shop, never from the body. `payment_method` left out charges the "
            "customer's default method. A refusal by the provider after the order was written is not an "
            "HTTP error: the order comes back `failed` with its `error_code` and `customer_message`."
        ),
        parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
        request=PlaceOrderSerializer,
        examples=[
            OpenApiExample("The default method", value={"product": "espresso-cup", "quantity": 1}, request_only=True),
            OpenApiExample("A saved method", value={"product": "field-notes", "payment_method": 2}, request_only=True),
        ],
        responses={
            201: OpenApiResponse(OrderSerializer, description="A new order, as it stood when the provider answered."),
            200: OpenApiResponse(OrderSerializer, description="The order this key placed (same key, same body)."),
            400: BAD_REQUEST,
            **AUTH_RESPONSES,
            409: conflict("The first request with this key is still being processed: ask again in a moment."),
            415: UNSUPPORTED_MEDIA,
            422: conflict("This key was already used for a different request (another body)."),
            429: THROTTLED,
        },
    ),
    retrieve=operation(
        operation_id="get_order",
        summary="One order; reading an unsettled one asks its provider",
        description="An order that has not settled is looked up with its provider, at most every "
        "`STATUS_REFRESH_INTERVAL` seconds.",
        responses={200: OrderSerializer, 404: NOT_FOUND, **AUTH_RESPONSES},
    ),
)
class OrderViewSet(
    SessionAuthenticationByDefault,
    PlainWordsWhenThrottled, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    schema = OneClickAutoSchema()
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    pagination_class = OrderPagination
    lookup_field = "public_id"
    lookup_schema_type = OpenApiTypes.UUID
    # Anything up to the next slash, so that a malformed id is this API's JSON 404, not the site's page.
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[OneClickOrder]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator's look at the view
            return OneClickOrder.objects.none()
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


@extend_schema_view(
    list=operation(
        operation_id="list_payment_methods",
        summary="The customer's saved methods, the default first",
        description="Never the provider's reference of a method.",
        responses={200: PaymentMethodSerializer(many=True), **AUTH_RESPONSES},
    ),
    create=operation(
        operation_id="register_payment_method",
        summary="Save a method with a provider that takes methods from customers",
        description="For providers that accept methods from customers (the sandbox, Firmly's card form); "
        "others answer 400. A customer's first method becomes the default.",
        parameters=[RETRY_AFTER],
        request=RegisterMethodSerializer,
        examples=[
            OpenApiExample(
                "A sandbox method", value={"provider": "sandbox", "data": {"reference": "approved"}}, request_only=True
            )
        ],
        responses={
            201: PaymentMethodSerializer,
            400: BAD_REQUEST,
            **AUTH_RESPONSES,
            415: UNSUPPORTED_MEDIA,
            429: THROTTLED,
        },
    ),
    retrieve=operation(
        operation_id="get_payment_method",
        summary="One saved method",
        description="Another customer's method is a 404.",
        responses={200: PaymentMethodSerializer, 404: NOT_FOUND, **AUTH_RESPONSES},
    ),
    destroy=operation(
        operation_id="delete_payment_method",
        summary="Remove a saved method",
        description="The newest remaining method becomes the default. A method that pays for an "
        "unsettled order stays (409).",
        responses={
            204: OpenApiResponse(description="Removed."),
            404: NOT_FOUND,
            409: METHOD_IN_USE,
            **AUTH_RESPONSES,
        },
    ),
    make_default=operation(
        operation_id="make_payment_method_default",
        summary="Make a saved method the default",
        description="The method `payment_method` left out charges.",
        request=None,
        responses={200: PaymentMethodSerializer, 404: NOT_FOUND, **AUTH_RESPONSES},
    ),
)
class PaymentMethodViewSet(
    SessionAuthenticationByDefault,
    PlainWordsWhenThrottled,
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    schema = OneClickAutoSchema()
    serializer_class = PaymentMethodSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    pagination_class = None
    throttle_message = TOO_MANY_METHODS
    lookup_schema_type = OpenApiTypes.INT
    # Anything up to the next slash, so that a malformed id is this API's JSON 404, not the site's page.
    lookup_value_regex = "[^/]+"

    def get_throttles(self) -> list[BaseThrottle]:
        if self.action == "create":
            return [AtomicRateThrottle("methods", "METHOD_THROTTLE_RATE")]
        return super().get_throttles()

    def get_queryset(self) -> QuerySet[PaymentMethod]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator's look at the view
            return PaymentMethod.objects.none()
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
