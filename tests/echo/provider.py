"""Echo, an invented HTTP provider.

Its documentation (invented): ``POST /orders`` with ``{"reference", "sku", "quantity", "amount",
"currency", "customer"}`` places an order and answers ``201 {"order": {...}}``; ``GET
/orders?reference=<the merchant's reference>`` answers ``200 {"orders": [...]}``, every order placed
with it. An order is ``{"id", "reference", "state", ...}``, ``state`` one of ``paid``, ``pending``,
``failed``; Echo records an order within the purchase call. At most 10 items per order. Every request
carries ``X-Echo-Key`` and ``X-Echo-Signature``: the hex HMAC-SHA256, keyed with the API secret, of
the canonical JSON (sorted keys, no spaces) of the body, or of the query of a GET. Errors are
``{"error": code, "detail": text}``: 401 ``unauthorized``, 402 ``declined``, 422 ``invalid``, and 503
``busy``, which Echo answers before doing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from django_oneclick.providers.base import (
    ExchangeLog,
    InvalidRequest,
    OutcomeUnknown,
    PaymentDeclined,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    StatusRequest,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider, retry_after_seconds

STATES = {"paid": ProviderStatus.COMPLETED, "pending": ProviderStatus.PROCESSING, "failed": ProviderStatus.FAILED}
MAX_QUANTITY = 10


def signature(secret: str, payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class EchoOptions(HttpOptions):
    BASE_URL: str = "https://api.echo.invalid"
    API_KEY: str = option(required=True, secret=True)
    API_SECRET: str = option(required=True, secret=True)
    READ_TIMEOUT: float = option(10.0, minimum=0.001)
    #: Echo records an order within the purchase call: a minute is ample.
    NOT_FOUND_AFTER: float = option(60.0, minimum=0)


class EchoProvider(HttpProvider):
    display_name = "Echo"
    options_class = EchoOptions
    options: EchoOptions
    sensitive_keys = ("x-echo-key",)
    calls_per_purchase = 1

    def prepare(self, request: PurchaseRequest) -> None:
        if request.quantity > MAX_QUANTITY:
            raise InvalidRequest(
                f"Echo sells at most {MAX_QUANTITY} items per order (asked {request.quantity}).",
                customer_message=f"At most {MAX_QUANTITY} items can be bought at once with this payment method.",
            )

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        body = {
            "reference": request.order_id,
            "sku": request.product_id,
            "quantity": request.quantity,
            "amount": str(request.total),
            "currency": request.currency,
            "customer": request.method.reference,
        }
        response = self.request(
            log, "purchase", "POST", "/orders", safe_to_retry=False, headers=self._signed(body), json=body
        )
        return self._result(self.json_body(response, safe_to_retry=False).get("order"))

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        query = {"reference": request.order_id}
        response = self.request(
            log, "fetch_status", "GET", "/orders", safe_to_retry=True, headers=self._signed(query), params=query
        )
        orders = self.json_body(response, safe_to_retry=True).get("orders") or []
        if not orders:
            raise self.missing_order(request, f"order with reference {request.order_id}", records_complete=True)
        return self._result(orders[0])

    def error_for_response(self, response: httpx.Response, body: Any, *, safe_to_retry: bool) -> ProviderError | None:
        error = body.get("error") if isinstance(body, dict) else None
        detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        if error == "declined":
            return PaymentDeclined(f"Echo declined the payment: {detail}")
        if error == "busy" and response.status_code == 503:
            # Documented: "busy" is answered before anything is done.
            return ProviderUnavailable(f"Echo is busy: {detail}", retry_after=retry_after_seconds(response))
        if error == "invalid":
            return InvalidRequest(f"Echo refused the order: {detail}", code="invalid")
        return None

    def _signed(self, payload: Mapping[str, Any]) -> dict[str, str]:
        return {"X-Echo-Key": self.options.API_KEY, "X-Echo-Signature": signature(self.options.API_SECRET, payload)}

    @staticmethod
    def _result(order: Any) -> ProviderResult:
        if not isinstance(order, dict) or order.get("state") not in STATES or not order.get("id"):
            raise OutcomeUnknown(f"Echo answered an order it cannot read: {order!r}.")
        status = STATES[order["state"]]
        if status == ProviderStatus.FAILED:
            return ProviderResult(
                status, str(order["id"]), error_code="echo_failed", error_message=f"Echo order {order['id']} failed."
            )
        return ProviderResult(status, str(order["id"]))
