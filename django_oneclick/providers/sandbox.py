"""The built-in sandbox provider: no credentials, no network, every outcome on demand.

Read this module to write a new provider: implement ``purchase`` and ``fetch_status``, wrap each
call to the outside in ``self.exchange(...)`` and raise the errors from ``base`` to say what
happened. The sandbox keeps its "server side" in Django's cache, so an order it accepted can be
found again by a later status fetch, as with a real provider.

The saved method's reference chooses the outcome, like a test card number; anything after a
colon is free text, so ``approved:visa`` and ``approved:mastercard`` behave alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from django_oneclick.providers.base import (
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    OutcomeUnknown,
    PaymentDeclined,
    Provider,
    ProviderOptions,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    StatusRequest,
    option,
)
from django_oneclick.redaction import mask_card_numbers

#: Reference (before any colon) -> what the sandbox does with a purchase.
BEHAVIOURS = {
    "approved": "completes at once",
    "declined": "is declined",
    "async": "is accepted and completes on a later status fetch",
    "requires_action": "needs the customer to confirm on a page first",
    "slow": "completes after a delay (SLOW_SECONDS)",
    "timeout": "is placed, but the answer is lost: outcome unknown until a status fetch",
    "server_error": "is refused by the sandbox's own application (503) before anything is charged",
}
_STORE_TTL = 24 * 3600


def behaviour_of(reference: str) -> str:
    return reference.split(":", 1)[0]


def _store_key(order_id: str) -> str:
    return f"django_oneclick:sandbox:{order_id}"


def resolve_action(order_id: str, *, confirmed: bool) -> None:
    """What the customer's visit to the action page does at the sandbox's side."""
    state = cache.get(_store_key(order_id))
    if state and state["status"] == ProviderStatus.REQUIRES_ACTION:
        state["status"] = ProviderStatus.COMPLETED if confirmed else ProviderStatus.FAILED
        cache.set(_store_key(order_id), state, _STORE_TTL)


@dataclass(frozen=True)
class SandboxOptions(ProviderOptions):
    #: The sandbox records an order within its purchase call: once that call is over, an order it
    #: does not hold was never placed.
    NOT_FOUND_AFTER: float = option(10.0, minimum=0)
    #: How long an ``async`` order stays processing.
    ASYNC_SECONDS: float = option(2.0, minimum=0)
    #: How long a ``slow`` purchase takes.
    SLOW_SECONDS: float = option(3.0, minimum=0)


class SandboxProvider(Provider):
    display_name = "Sandbox"
    options_class = SandboxOptions
    options: SandboxOptions

    @property
    def purchase_timeout(self) -> timedelta:
        return timedelta(seconds=self.options.SLOW_SECONDS)

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        behaviour = behaviour_of(request.method.reference)
        payload = {
            "order_id": request.order_id,
            "product": request.product_id,
            "quantity": request.quantity,
            "amount": str(request.total),
            "currency": request.currency,
            "method": request.method.reference,
        }
        with self.exchange(log, "purchase", payload) as draft:
            if behaviour not in BEHAVIOURS:
                draft.http_status = 422
                raise InvalidRequest(f"Unknown sandbox method {request.method.reference!r}.")
            if behaviour == "declined":
                draft.http_status, draft.response = 402, {"error": "card_declined"}
                raise PaymentDeclined("Sandbox declined the payment (method 'declined').")
            if behaviour == "server_error":
                # The provider's own application refusing, which proves nothing was done; a 503
                # of unknown origin to a real purchase would leave the outcome unknown.
                draft.http_status, draft.response = 503, {"error": "server_error"}
                raise ProviderUnavailable("Sandbox answered 503 (method 'server_error').")
            if behaviour == "slow":
                time.sleep(self.options.SLOW_SECONDS)
            state = self._place(request, behaviour)
            if behaviour == "timeout":
                raise OutcomeUnknown("Sandbox placed the order but the answer was lost.")
            draft.http_status, draft.response = 201, state
        return self._result(request.order_id, state)

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        with self.exchange(log, "fetch_status", {"order_id": request.order_id}) as draft:
            state = cache.get(_store_key(request.order_id))
            if state is None:
                draft.http_status = 404
                # Not "never placed" while a slow purchase of it may still be running.
                raise self.missing_order(request, f"order {request.order_id}", records_complete=True)
            if state["status"] == ProviderStatus.PROCESSING and time.time() >= state["complete_at"]:
                state["status"] = ProviderStatus.COMPLETED
                cache.set(_store_key(request.order_id), state, _STORE_TTL)
            draft.http_status, draft.response = 200, state
        return self._result(request.order_id, state)

    def register_method(self, data: Mapping[str, Any]) -> MethodDetails:
        # The text after the colon is free: a developer may type a test card number there.
        reference = mask_card_numbers(str(data.get("reference") or "approved"))
        if behaviour_of(reference) not in BEHAVIOURS:
            raise InvalidRequest(
                f"Sandbox references start with one of: {', '.join(BEHAVIOURS)}.",
                customer_message=f"Use one of: {', '.join(BEHAVIOURS)}.",
            )
        return MethodDetails(
            reference=reference,
            label=str(data.get("label") or f"Sandbox ({behaviour_of(reference)})"),
            brand="Sandbox",
        )

    def _place(self, request: PurchaseRequest, behaviour: str) -> dict[str, Any]:
        status = {
            "async": ProviderStatus.PROCESSING,
            "requires_action": ProviderStatus.REQUIRES_ACTION,
        }.get(behaviour, ProviderStatus.COMPLETED)
        state = {
            "status": status,
            "provider_order_id": f"SBX-{uuid.uuid4().hex[:12].upper()}",
            "placed_at": timezone.now().isoformat(),
            "complete_at": time.time() + self.options.ASYNC_SECONDS,
        }
        cache.set(_store_key(request.order_id), state, _STORE_TTL)
        return state

    @staticmethod
    def _result(order_id: str, state: Mapping[str, Any]) -> ProviderResult:
        next_action = None
        if state["status"] == ProviderStatus.REQUIRES_ACTION:
            url = reverse("django_oneclick:sandbox-action", kwargs={"order_id": order_id})
            next_action = {"type": "redirect_to_url", "url": url}
        if state["status"] == ProviderStatus.FAILED:
            return ProviderResult(
                ProviderStatus.FAILED,
                state["provider_order_id"],
                error_code="action_declined",
                error_message="The customer did not confirm the payment.",
            )
        return ProviderResult(
            ProviderStatus(state["status"]), state["provider_order_id"], next_action=next_action
        )
