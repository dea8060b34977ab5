"""Billerix "Core Billing" Pay service: one-click orders on a buyer's saved charge method.

``POST /api/v3/buyers/{buyerId}/oneclick`` creates an order and answers ``201`` with its id;
the charge happens afterwards, and ``GET /api/v3/orders/{orderId}/result`` tells how it went. So
a placed order is ``processing`` until a status fetch sees ``chargeStatus`` settle.

Every call is signed: ``x-token = hex(HMAC-SHA256(secretKey, secretKey + publicKey + buyerIp +
xDate))`` with the buyer's IP as the shop saw it (``x-buyer-ip``) and the UTC time (``x-date``).

One order is one entry of the ``products`` array: ``purchase`` by default, or ``renew``,
``upgrade`` or ``downgrade`` of a subscription with ``options={"action": ..., "subscription_id":
...}``; so a request never holds two actions on one subscription, as Billerix requires.

A purchase whose answer was lost cannot be looked up: Billerix documents no search by the
``metaData`` it keeps, so such an order stays ``unknown`` for an operator (who finds it by
``metaData.oneclickOrderId`` at Billerix and settles it in the admin).

The saved method is the buyer's charge method: ``reference`` is its ``chargeMethodId`` and
``data["buyer_id"]`` the buyer's id at Billerix.

Options: ``PUBLIC_KEY``, ``SECRET_KEY``, ``SERVICE_ID`` (x-id), ``SOURCE`` (x-source, default
``shop``), ``BASE_URL`` (default ``https://pay.billerbase.com``; sandbox
``https://pay-sandbox.billerbase.com``), ``CONNECT_TIMEOUT``, ``READ_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext_lazy as _

from django_oneclick.providers.base import (
    AuthenticationFailed,
    ExchangeLog,
    InvalidRequest,
    NotFound,
    OrderNotIdentified,
    OutcomeUnknown,
    PaymentDeclined,
    ProgressStep,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    StatusRequest,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider

ACTIONS = ("purchase", "renew", "upgrade", "downgrade")
#: The keys a shop may pass in an order's options.
OPTION_KEYS = frozenset({"action", "subscription_id"})
SUCCESS_CHARGE_STATUSES = frozenset({"settled", "captured"})
FAILURE_CHARGE_STATUSES = frozenset({"declined", "failed"})
#: Billerix error codes of a charge that failed (2101 charge failed, 2102 invalid card data,
#: 2104 insufficient funds, 2105 general decline, ...); 2107 is "Race condition".
CHARGE_FAILURE_CODES = range(2101, 2107)
RACE_CONDITION = 2107
#: The message of Billerix's answer to a bad signature, key or service (sent with 401 or 500).
UNAUTHORIZED_MESSAGE = "Unauthorized service use is forbidden"
#: ``chargeStatus`` values (and ``created``, our word for an order whose charge has not started)
#: -> the step the customer is shown.
CHARGE_STEPS: dict[str, ProgressStep] = {
    "created": ProgressStep.AUTHORISING_PAYMENT,
    "authorized": ProgressStep.AUTHORISING_PAYMENT,
    **dict.fromkeys(SUCCESS_CHARGE_STATUSES | FAILURE_CHARGE_STATUSES, ProgressStep.FINISHING),
}
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
X_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def x_token(secret_key: str, public_key: str, buyer_ip: str, x_date: str) -> str:
    """Billerix's request signature: lowercase hex HMAC-SHA256 keyed with the secret key."""
    message = (secret_key + public_key + buyer_ip + x_date).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class BillerixOptions(HttpOptions):
    PUBLIC_KEY: str = option(required=True)
    SECRET_KEY: str = option(required=True, secret=True)
    #: ``x-id``: the service identifier Billerix configured for the shop.
    SERVICE_ID: str = option(required=True)
    #: ``x-source``: the channel the request comes from.
    SOURCE: str = "shop"
    BASE_URL: str = "https://pay.billerbase.com"


class BillerixProvider(HttpProvider):
    display_name = "Billerix"
    options_class = BillerixOptions
    options: BillerixOptions
    sensitive_keys = ("x-token",)
    customer_messages = {
        "charge_failed": _("The payment could not be taken. Please use another payment method."),
        "race_condition": _(
            "The payment provider was busy with another payment of yours. Nothing was charged; try again."
        ),
    }
    progress_steps = CHARGE_STEPS

    # -- the provider interface

    def prepare(self, request: PurchaseRequest) -> None:
        """Billerix's rules for the request, checked before the order is written."""
        unknown = set(request.options) - OPTION_KEYS
        if unknown:
            raise InvalidRequest.for_customer(
                f"Unknown options: {', '.join(sorted(unknown))}. Use action and subscription_id."
            )
        action = request.options.get("action", "purchase")
        subscription = request.options.get("subscription_id")
        if action not in ACTIONS:
            raise InvalidRequest.for_customer(f"The action must be one of: {', '.join(ACTIONS)}.")
        if action == "purchase" and subscription is not None:
            raise InvalidRequest.for_customer("A purchase creates a new subscription: do not send subscription_id.")
        if action != "purchase":
            if not isinstance(subscription, str) or not UUID_PATTERN.match(subscription):
                raise InvalidRequest.for_customer(f"To {action} a subscription, send its subscription_id (a UUID).")
            if request.quantity != 1:
                raise InvalidRequest.for_customer(f"A {action} is for one subscription: the quantity must be 1.")
        if not request.customer_ip:
            raise InvalidRequest.for_customer("Your IP address could not be determined; Billerix requires it.")
        if not UUID_PATTERN.match(str(request.method.data.get("buyer_id", ""))):
            raise InvalidRequest.for_customer("This payment method has no Billerix buyer id: add it again.")
        if not request.method.reference:
            raise InvalidRequest.for_customer("This payment method has no Billerix charge method: add it again.")

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        buyer = request.method.data["buyer_id"]
        body = {
            "isMobile": False,
            "chargeMethodId": request.method.reference,
            "currency": request.currency,
            "metaData": {"oneclickOrderId": request.order_id},
            "products": [self._product(request)],
        }
        response = self._signed(
            log,
            "purchase",
            "POST",
            f"/api/v3/buyers/{quote(buyer, safe='')}/oneclick",
            buyer_ip=request.customer_ip or "",
            safe_to_retry=False,
            json=body,
        )
        data = self.json_body(response, safe_to_retry=False).get("data")
        order_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(order_id, str) or not order_id:
            raise OutcomeUnknown(f"Billerix answered {response.status_code} without an order id.")
        return ProviderResult(ProviderStatus.PROCESSING, order_id, progress="created")

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        order_id = request.provider_order_id
        if not order_id:
            # The purchase answer was lost. Billerix keeps our order id in the order's metaData
            # but documents no lookup by it, and nothing else tells our order from another
            # purchase of the same product: the order stays unknown for an operator.
            raise OrderNotIdentified(
                "Billerix documents no lookup of an order by our reference: find the order whose "
                f"metaData.oneclickOrderId is {request.order_id} in Billerix's back office and settle "
                "this order by hand.",
                candidates=[],
                records_complete=False,
                sought=f"order with metaData.oneclickOrderId {request.order_id}",
            )
        try:
            response = self._signed(
                log,
                "fetch_status",
                "GET",
                f"/api/v3/orders/{quote(order_id, safe='')}/result",
                buyer_ip=request.customer_ip or "",
                safe_to_retry=True,
            )
        except NotFound as exc:
            # Billerix created this order (it gave us its id): a 404 of its result is no word
            # that nothing was charged.
            raise OutcomeUnknown(f"Billerix has no result for its order {order_id}: {exc.message}") from exc
        if response.status_code == 204:  # the result is not ready yet
            return ProviderResult(ProviderStatus.PROCESSING, order_id)
        data = self.json_body(response, safe_to_retry=True).get("data")
        return self._result(order_id, data if isinstance(data, dict) else {})

    # -- errors

    def error_for_response(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError | None:
        if not isinstance(body, dict) or "message" not in body:
            return None
        message = str(body.get("message"))
        code = body.get("code")
        field_errors = [
            f"{error.get('field')}: {error.get('title')}"
            for error in body.get("errors") or []
            if isinstance(error, dict)
        ]
        detail = f"Billerix answered HTTP {response.status_code}: {message} (code {code}" + (
            f"; {'; '.join(field_errors)})" if field_errors else ")"
        )
        if message == UNAUTHORIZED_MESSAGE or response.status_code in (401, 403):
            return AuthenticationFailed(detail)
        if code == RACE_CONDITION:
            return ProviderUnavailable(detail, code="race_condition")
        if code in CHARGE_FAILURE_CODES:
            return PaymentDeclined(detail)
        if response.status_code == 404:
            return NotFound(detail)
        if 400 <= response.status_code < 500:
            return InvalidRequest(detail)
        # A 500 keeps the base class's meaning (unknown outcome for a purchase).
        return None

    # -- helpers

    def _signed(
        self, log: ExchangeLog, operation: str, method: str, url: str, *, buyer_ip: str, **kwargs: Any
    ) -> httpx.Response:
        """Send a call with Billerix's authentication headers."""
        public_key = self.options.PUBLIC_KEY
        x_date = datetime.now(UTC).strftime(X_DATE_FORMAT)
        headers = {
            "x-public-key": public_key,
            "x-buyer-ip": buyer_ip,
            "x-date": x_date,
            "x-token": x_token(self.options.SECRET_KEY, public_key, buyer_ip, x_date),
            "x-source": self.options.SOURCE,
            "x-id": self.options.SERVICE_ID,
            "Accept": "application/json",
        }
        return self.request(log, operation, method, url, headers=headers, **kwargs)

    @staticmethod
    def _product(request: PurchaseRequest) -> dict[str, Any]:
        action = request.options.get("action", "purchase")
        if action == "purchase":
            return {"actionName": action, "productCode": request.product_id, "quantity": request.quantity}
        return {
            "actionName": action,
            "productCode": request.product_id,
            "subscriptionId": request.options["subscription_id"],
        }

    @staticmethod
    def _result(order_id: str, data: dict[str, Any]) -> ProviderResult:
        charge_status = str(data.get("chargeStatus", ""))
        if charge_status in SUCCESS_CHARGE_STATUSES:
            return ProviderResult(ProviderStatus.COMPLETED, order_id, progress=charge_status)
        if charge_status in FAILURE_CHARGE_STATUSES:
            error: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else {}
            code = error.get("code")
            return ProviderResult(
                ProviderStatus.FAILED,
                order_id,
                progress=charge_status,
                error_code="declined" if charge_status == "declined" else "charge_failed",
                error_message=f"Billerix: {error.get('message') or charge_status} (code {code}).",
            )
        return ProviderResult(ProviderStatus.PROCESSING, order_id, progress=charge_status)
