"""The sandbox provider: no credentials, no network, every outcome on demand (the saved method's
reference chooses it, see ``server.BEHAVIOURS``). The template of a new provider
(docs/writing-a-provider.md): an :class:`HttpProvider` filling every hook a real one fills, each
saying when to fill it; only its API (``server.py``) runs in this process, through a MockTransport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.translation import gettext_lazy as _

from django_oneclick.providers.base import (
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    NotFound,
    OutcomeUnknown,
    PaymentDeclined,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    SavedMethod,
    StatusRequest,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider, retry_after_seconds
from django_oneclick.providers.sandbox.server import BEHAVIOURS, SandboxServer, behaviour_of
from django_oneclick.redaction import mask_card_numbers

ORDERS = "/v1/orders"


@dataclass(frozen=True)
class SandboxOptions(HttpOptions):
    """A field per key of ``ONECLICK["PROVIDERS"][name]``; a bad or missing value is check E009/E005."""

    BASE_URL: str = "https://sandbox.oneclick.invalid"
    #: Redacted wherever it appears; a real provider's key is ``option(required=True, secret=True)``.
    API_KEY: str = option("sandbox-key", secret=True)
    #: A purchase may run connect + read timeout (``purchase_timeout``): less than NOT_FOUND_AFTER.
    CONNECT_TIMEOUT: float = option(0.5, minimum=0.001)
    READ_TIMEOUT: float = option(4.0, minimum=0.001)
    #: The sandbox records an order within its purchase call: after it, a missing one was never placed.
    NOT_FOUND_AFTER: float = option(10.0, minimum=0)
    #: How long an ``async`` order stays processing, and a ``slow`` purchase takes.
    ASYNC_SECONDS: float = option(2.0, minimum=0)
    SLOW_SECONDS: float = option(3.0, minimum=0)


class SandboxProvider(HttpProvider):
    display_name = "Sandbox"
    options_class = SandboxOptions
    options: SandboxOptions
    #: Its pages (the action page) come from this Django app, which a shop installs (check E010).
    django_app = "django_oneclick.providers.sandbox"
    #: Payload keys secret beyond the usual ones (token, card number...): a method's reference charges.
    sensitive_keys = ("payment_method",)
    #: Requests a purchase makes at most (token fetches count): times the timeouts, ``purchase_timeout``.
    calls_per_purchase = 1
    #: The customer's words for the codes its orders keep beyond the core's (``declined``, ...): curated
    #: and translatable, never the provider's text (``failure.message`` is the operator's). A provider
    #: reporting steps maps its raw states in ``progress_steps`` too; the sandbox reports none.
    customer_messages = {
        "action_declined": _("You did not confirm the payment. Nothing was charged."),
    }

    def transport(self) -> httpx.BaseTransport:
        """Only the sandbox: its API runs in this process. A real provider leaves it out."""
        server = SandboxServer(async_seconds=self.options.ASYNC_SECONDS, slow_seconds=self.options.SLOW_SECONDS)
        return httpx.MockTransport(server)

    def prepare(self, request: PurchaseRequest) -> None:
        """Refuse what the provider documents it refuses, before the order is written or anything
        is sent (the customer gets a 400, nothing is stored): every rule you can check here."""
        if request.options:
            refused = f"The sandbox takes no purchase options (got {sorted(request.options)})."
            raise InvalidRequest(refused, customer_message="This payment method takes no extra options.")

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        """Place the order, once: ``safe_to_retry=False`` makes a failure after sending an unknown
        outcome, never resent. Send our order id, so that a lost answer can be looked up."""
        body = {"reference": request.order_id, "product": request.product_id, "quantity": request.quantity,
                "amount": str(request.total), "currency": request.currency, "payment_method": request.method.reference}
        response = self.request(log, "purchase", "POST", ORDERS, safe_to_retry=False, headers=self._auth(), json=body)
        return self._result(self.json_body(response, safe_to_retry=False))

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        """Where an order stands, looked up by our order id (after a lost answer we hold no id of
        the provider's). Its documented not-found is ``missing_order``: "never placed" only from
        complete records, once the purchase can no longer be running."""
        query = {"reference": request.order_id}
        try:
            response = self.request(log, "fetch_status", "GET", ORDERS, safe_to_retry=True, headers=self._auth(),
                                    params=query)
        except NotFound as exc:
            if exc.code != "order_not_found":  # a wrong BASE_URL says nothing of our order
                raise
            raise self.missing_order(request, f"order {request.order_id}", records_complete=True) from exc
        return self._result(self.json_body(response, safe_to_retry=True))

    def error_for_response(self, response: httpx.Response, body: Any, *, safe_to_retry: bool) -> ProviderError | None:
        """Map the provider's documented error bodies; ``None`` leaves the status to decide (a 5xx
        to a purchase: unknown outcome). "Nothing was charged" (``ProviderUnavailable``) only where
        the provider documents that its application refused before acting."""
        error = body.get("error") if isinstance(body, dict) else None
        code, message = (str(error.get("code")), str(error.get("message"))) if isinstance(error, dict) else ("", "")
        if code == "card_declined":
            return PaymentDeclined(f"Sandbox declined the payment ({message}).")
        if code == "unavailable" and response.status_code == 503:
            return ProviderUnavailable(f"Sandbox answered 503 ({message}).", retry_after=retry_after_seconds(response))
        if code == "order_not_found":
            return NotFound(f"Sandbox has no {message}.", code=code)
        return None

    def register_method(self, data: Mapping[str, Any]) -> MethodDetails:
        """Check what a customer submitted to save a method (e.g. a token from the provider's card
        form); leave it out where methods are saved another way."""
        # The text after the colon is free: a developer may type a test card number there.
        reference = mask_card_numbers(str(data.get("reference") or "approved"))
        if behaviour_of(reference) not in BEHAVIOURS:
            choices = ", ".join(BEHAVIOURS)
            message = f"Use one of: {choices}."
            raise InvalidRequest(f"Sandbox references start with one of: {choices}.", customer_message=message)
        label = str(data.get("label") or f"Sandbox ({behaviour_of(reference)})")
        return MethodDetails(reference=reference, label=label, brand="Sandbox")

    def method_is_usable(self, method: SavedMethod) -> bool:
        """False when a saved method can no longer be charged (a key rotated, a token format
        retired): the customer is asked to enter it again."""
        return behaviour_of(method.reference) in BEHAVIOURS

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.API_KEY}"}

    @staticmethod
    def _result(order: Mapping[str, Any]) -> ProviderResult:
        if order.get("status") not in set(ProviderStatus) or not order.get("id"):
            raise OutcomeUnknown(f"Sandbox answered an order without a known status or id: {dict(order)!r}.")
        failure, url = order.get("failure") or {}, order.get("action_url")
        action = {"type": "redirect_to_url", "url": url} if url else None
        return ProviderResult(ProviderStatus(order["status"]), order["id"], next_action=action,
                              error_code=failure.get("code", ""), error_message=failure.get("message", ""))
