"""Digital River Shopper API: single-click "product-direct purchase".

``POST /v1/shoppers/me/products/{productId}/purchase`` adds the product to the shopper's cart,
applies their default address and default payment option, and submits the order, in one call
with an empty body. It answers ``201`` with an empty body and a ``Location`` naming the order.

The call needs an authenticated shopper token. The shop knows its shoppers by its own reference
(Digital River's ``externalReferenceId``), which is what the saved method stores; a token comes
from ``POST /oauth20/token`` (HTTP Basic with the API key and secret, ``client_credentials``) and
is cached per shopper until shortly before it expires, and fetched anew once on a 401.

The purchase carries none of our data, so an order whose answer was lost can only be looked for
in the shopper's order history by product and time. What is found there is never taken for our
order by itself (the shopper may have bought the same product before or since): the orders placed
while our purchase may have run are shown to an operator as candidates (see
:class:`~django_oneclick.providers.base.OrderNotIdentified`). Only a complete history without any
such order, read after ``NOT_FOUND_AFTER``, says the purchase was never placed.

Options: ``API_KEY``, ``API_SECRET``, ``BASE_URL`` (default ``https://api.digitalriver.com``),
``CONNECT_TIMEOUT``, ``READ_TIMEOUT``, ``NOT_FOUND_AFTER``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from django.utils.translation import gettext_lazy as _

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES
from django_oneclick.providers.base import (
    AuthenticationFailed,
    CachedCredential,
    Candidate,
    ExchangeLog,
    InvalidRequest,
    NotFound,
    OrderNotFound,
    OutcomeUnknown,
    PaymentDeclined,
    ProgressStep,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    PurchaseRequest,
    StatusRequest,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider

#: Digital River's ``orderState`` values -> where our order stands.
ORDER_STATES = {
    "Submitted": ProviderStatus.COMPLETED,
    "Complete": ProviderStatus.COMPLETED,
    "Dispute": ProviderStatus.COMPLETED,
    "Cancelled": ProviderStatus.FAILED,
    "Open": ProviderStatus.PROCESSING,
    "In Process": ProviderStatus.PROCESSING,
    "In Review": ProviderStatus.PROCESSING,
    "Source Pending Funds": ProviderStatus.PROCESSING,
    "Source Pending Redirect": ProviderStatus.PROCESSING,
    "Charge Pending": ProviderStatus.PROCESSING,
}
#: Every ``orderState`` -> the step the customer is shown.
ORDER_STATE_STEPS: dict[str, ProgressStep] = {
    "Open": ProgressStep.PLACING_ORDER,
    "In Process": ProgressStep.PLACING_ORDER,
    "In Review": ProgressStep.WAITING_FOR_PROVIDER,
    "Source Pending Funds": ProgressStep.AUTHORISING_PAYMENT,
    "Source Pending Redirect": ProgressStep.AWAITING_CONFIRMATION,
    "Charge Pending": ProgressStep.AUTHORISING_PAYMENT,
    **{state: ProgressStep.FINISHING for state, status in ORDER_STATES.items() if status != ProviderStatus.PROCESSING},
}
#: The shop's own set-up refused (a route or request Digital River will not take): nothing was ordered.
_SETUP_REFUSED = _("The shop could not place this order with its payment provider. Nothing was charged.")
#: Error codes meaning the shopper's payment, not the request, was refused.
_DECLINE_CODES = frozenset({"declined", "apply-payment-failure"})
#: How many orders of the history one status fetch reads.
HISTORY_PAGE_SIZE = 50
#: A cached token is used until this many seconds (at most) before it expires.
_TOKEN_MARGIN = 60.0


def created_order_id(response: httpx.Response) -> str:
    """The order the purchase created, as documented: ``201 Created`` with a ``Location`` whose
    last segment is the order id. Any other answer (another 2xx, a Location that names no order)
    does not confirm an order, nor deny one: the outcome is unknown."""
    path = urlsplit(response.headers.get("location", "")).path.rstrip("/")
    parent, _, order_id = path.rpartition("/")
    if response.status_code != 201 or not order_id or not parent.endswith("/orders"):
        raise OutcomeUnknown(
            f"Digital River answered HTTP {response.status_code} with Location "
            f"{response.headers.get('location', '')!r}, not 201 Created naming an order."
        )
    return order_id


class ShopperTokenRejected(AuthenticationFailed):
    """Digital River refused the shopper token (``invalid_token``): fetch a new one once."""


def describe_errors(body: Any) -> tuple[list[dict[str, Any]], str]:
    """The entries of Digital River's ``{"errors": {"error": [...]}}`` body and a message for
    the operator built from their codes and descriptions."""
    errors = body.get("errors") if isinstance(body, dict) else None
    entries = errors.get("error") if isinstance(errors, dict) else None
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        return [], ""
    entries = [entry for entry in entries if isinstance(entry, dict)]
    parts = []
    for entry in entries:
        code = "/".join(str(entry[key]) for key in ("code", "subcode") if entry.get(key))
        part = f"{code}: {entry.get('description', '')}".strip(": ")
        declined = entry.get("declinedMessage")
        if isinstance(declined, dict):
            part += f" (declined {declined.get('merchantDeclinedType', '')}, code {declined.get('code', '')})"
        parts.append(part)
    return entries, "; ".join(parts)


@dataclass(frozen=True)
class DigitalRiverOptions(HttpOptions):
    API_KEY: str = option(required=True, secret=True)
    API_SECRET: str = option(required=True, secret=True)
    BASE_URL: str = "https://api.digitalriver.com"


class DigitalRiverProvider(HttpProvider):
    display_name = "Digital River"
    options_class = DigitalRiverOptions
    options: DigitalRiverOptions
    sensitive_keys = ("access_token", "refresh_token")
    # A token, the purchase, and once more both after a 401.
    calls_per_purchase = 4
    #: Digital River's documented error codes an order keeps (``declined`` and the 401/403 and
    #: ``*-already-exists`` answers map onto the core's codes), and our ``cancelled``.
    customer_messages = {
        "cancelled": _("The payment provider cancelled the order."),
        "apply-shopper-failure": _(
            "Your saved billing details could not be used. Please check your address and payment method."
        ),
        "invalid-request": CORE_MESSAGES[ErrorCode.INVALID_REQUEST],
        "resource-not-found": _("This product cannot be bought from the payment provider. Nothing was charged."),
        "method-not-allowed": _SETUP_REFUSED,
        "precondition-failed": _SETUP_REFUSED,
        "payload-too-large": _SETUP_REFUSED,
    }
    progress_steps = ORDER_STATE_STEPS

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self._tokens: dict[str, CachedCredential] = {}
        self._tokens_lock = threading.Lock()

    # -- the provider interface

    def prepare(self, request: PurchaseRequest) -> None:
        if request.quantity != 1:
            raise InvalidRequest(
                "Digital River's single-click purchase buys exactly one item.",
                customer_message="This product can only be bought one at a time with Digital River.",
            )
        if request.options:
            raise InvalidRequest(
                f"Digital River takes no purchase options (got {sorted(request.options)}).",
                customer_message="This payment method takes no extra options.",
            )
        if not request.product_id or not request.method.reference:
            raise InvalidRequest(
                "A Digital River purchase needs the product id and the shopper's reference.",
                customer_message="This product cannot be bought with this payment method.",
            )

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        url = f"/v1/shoppers/me/products/{quote(request.product_id, safe='')}/purchase"
        response = self._as_shopper(log, request.method.reference, "purchase", "POST", url, safe_to_retry=False)
        return ProviderResult(ProviderStatus.COMPLETED, created_order_id(response))

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        shopper = request.method.reference
        if request.provider_order_id:
            url = f"/v1/shoppers/me/orders/{quote(request.provider_order_id, safe='')}"
            try:
                response = self._as_shopper(log, shopper, "fetch_status", "GET", url, safe_to_retry=True)
            except NotFound as exc:  # Digital River states it has no order with this id
                raise OrderNotFound(exc.message) from exc
            order = self.json_body(response, safe_to_retry=True).get("order")
            return self._result(order if isinstance(order, dict) else {})
        response = self._as_shopper(
            log,
            shopper,
            "find_order",
            "GET",
            "/v1/shoppers/me/orders",
            safe_to_retry=True,
            params={"expand": "all", "pageSize": HISTORY_PAGE_SIZE},
        )
        history = self.json_body(response, safe_to_retry=True).get("orders") or {}
        orders = [o for o in history.get("order") or [] if isinstance(o, dict)]
        candidates = [
            Candidate(str(order.get("id")), str(order.get("submissionDate", "")), str(order.get("orderState", "")))
            for order in orders
            if request.product_id in self._product_ids(order)
            and self.placed_during_purchase(request, str(order.get("submissionDate", "")))
        ]
        complete = str(history.get("totalResultPages", "1")) in ("0", "1")
        raise self.candidates_found(request, candidates, records_complete=complete)

    # -- errors

    def error_for_response(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError | None:
        entries, message = describe_errors(body)
        if not entries:
            return None
        codes = {str(entry.get("code", "")) for entry in entries}
        detail = f"Digital River answered HTTP {response.status_code}: {message}"
        code = sorted(codes)[0] if len(codes) == 1 else None
        if response.status_code == 401 and "invalid_token" in codes:
            return ShopperTokenRejected(detail)
        if response.status_code in (401, 403):
            return AuthenticationFailed(detail)
        if codes & _DECLINE_CODES or any("declinedMessage" in entry for entry in entries):
            return PaymentDeclined(detail)
        if not safe_to_retry and any(c.endswith("-already-exists") for c in codes):
            # Digital River says an order exists: no word that nothing was charged.
            return OutcomeUnknown(detail)
        if 400 <= response.status_code < 500:
            return (NotFound if response.status_code == 404 else InvalidRequest)(detail, code=code)
        # Server errors keep the base class's meaning (unknown outcome for a purchase).
        return None

    # -- the shopper token

    def _as_shopper(
        self, log: ExchangeLog, shopper: str, operation: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        """Send a call as ``shopper`` with their cached token; a token Digital River rejects
        is replaced once. One token fetch per shopper at a time."""
        with self._tokens_lock:
            token = self._tokens.setdefault(shopper, CachedCredential())
        return token.call(
            lambda _expired: self._new_token(log, shopper),
            lambda value: self.request(log, operation, method, url, headers=self._bearer(value), **kwargs),
            rejected=ShopperTokenRejected,
        )

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def _new_token(self, log: ExchangeLog, shopper: str) -> tuple[str, float]:
        """A new token for ``shopper`` and how long it may be used."""
        response = self.request(
            log,
            "shopper_token",
            "POST",
            "/oauth20/token",
            safe_to_retry=True,
            auth=(self.options.API_KEY, self.options.API_SECRET),
            data={"grant_type": "client_credentials", "externalReferenceId": shopper},
        )
        body = self.json_body(response, safe_to_retry=True)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationFailed("Digital River's token answer has no access_token.")
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        return token, lifetime - min(_TOKEN_MARGIN, lifetime / 10)

    # -- reading orders

    @staticmethod
    def _product_ids(order: dict[str, Any]) -> set[str]:
        line_items = (order.get("lineItems") or {}).get("lineItem") or []
        if isinstance(line_items, dict):
            line_items = [line_items]
        return {str((item.get("product") or {}).get("id", "")) for item in line_items if isinstance(item, dict)}

    @staticmethod
    def _result(order: dict[str, Any]) -> ProviderResult:
        state = str(order.get("orderState", ""))
        order_id = str(order.get("id", ""))
        status = ORDER_STATES.get(state)
        if status is None:
            raise OutcomeUnknown(f"Digital River order {order_id!r} has an unknown state {state!r}.")
        if status == ProviderStatus.FAILED:
            return ProviderResult(
                status,
                order_id,
                error_code="cancelled",
                error_message=f"Digital River order {order_id} is {state}.",
            )
        return ProviderResult(status, order_id, progress=state)
