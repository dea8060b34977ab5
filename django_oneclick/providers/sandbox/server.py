"""The sandbox's API, run in this process and reached through ``httpx.MockTransport`` as a real API is
over the network. Its orders live in Django's cache (shared by the web and task processes), so a later
status fetch finds them. Its invented documentation (docs/providers/sandbox.md): ``POST /v1/orders``
with a bearer key and ``{"reference" (our order id), "product", "quantity", "amount", "currency",
"payment_method"}`` answers ``201`` and the order ``{"id", "reference", "status", "placed_at"}`` (with
``action_url`` while ``requires_action``, ``failure`` once ``failed``); ``GET /v1/orders?reference=``
answers that order. Errors are ``{"error": {"code", "message"}}``: 401 ``unauthorized``, 402
``card_declined``, 404 ``order_not_found``, 422 ``invalid_request``, 503 ``unavailable`` (refused
before acting: nothing charged).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

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
_TTL = 24 * 3600


def behaviour_of(reference: str) -> str:
    return reference.split(":", 1)[0]


def stored_order(reference: str) -> dict[str, Any] | None:
    """The order the sandbox holds for the shop's order ``reference``, if any."""
    return cache.get(f"django_oneclick:sandbox:{reference}")


def _store(order: dict[str, Any]) -> None:
    cache.set(f"django_oneclick:sandbox:{order['reference']}", order, _TTL)


def resolve_action(reference: str, *, confirmed: bool) -> None:
    """The customer confirmed (or cancelled) on the action page."""
    order = stored_order(reference)
    if order and order["status"] == "requires_action":
        order["status"] = "completed" if confirmed else "failed"
        del order["action_url"]
        if not confirmed:
            order["failure"] = {"code": "action_declined", "message": "The customer did not confirm the payment."}
        _store(order)


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class SandboxServer:
    """The handler of the sandbox's ``MockTransport``."""

    def __init__(self, *, async_seconds: float, slow_seconds: float) -> None:
        self.async_seconds, self.slow_seconds = async_seconds, slow_seconds

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("authorization", "").removeprefix("Bearer ").strip():
            return _error(401, "unauthorized", "Send the API key as a bearer token.")
        if request.url.path != "/v1/orders" or request.method not in ("GET", "POST"):
            return _error(404, "not_found", f"No route {request.method} {request.url.path}.")
        if request.method == "POST":
            return self.place(request)
        reference = request.url.params.get("reference", "")
        order = stored_order(reference)
        if order is None:
            return _error(404, "order_not_found", f"order {reference}")
        if order["status"] == "processing" and time.time() >= order["complete_at"]:
            order["status"] = "completed"
            _store(order)
        return httpx.Response(200, json={k: v for k, v in order.items() if k != "complete_at"})

    def place(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        method, reference = str(body.get("payment_method")), str(body.get("reference") or "")
        behaviour = behaviour_of(method)
        if behaviour not in BEHAVIOURS or not reference:
            return _error(422, "invalid_request", f"Unknown payment method {method!r} or no reference.")
        if behaviour in ("declined", "server_error"):
            status, code = (402, "card_declined") if behaviour == "declined" else (503, "unavailable")
            return _error(status, code, f"method {behaviour!r}")
        # A client that gives up after its read timeout loses the answer; the order is placed.
        wait = self.slow_seconds if behaviour == "slow" else 0.0
        read_timeout = request.extensions.get("timeout", {}).get("read") or wait
        time.sleep(min(wait, read_timeout))
        state = {"async": "processing", "requires_action": "requires_action"}.get(behaviour, "completed")
        order = {"id": f"SBX-{uuid.uuid4().hex[:12].upper()}", "reference": reference, "status": state}
        order["placed_at"] = timezone.now().isoformat()
        if behaviour == "requires_action":
            order["action_url"] = reverse("django_oneclick:sandbox-action", kwargs={"order_id": reference})
        _store({**order, "complete_at": time.time() + self.async_seconds})
        if behaviour == "timeout" or wait > read_timeout:
            raise httpx.ReadTimeout("The sandbox placed the order; its answer is lost.", request=request)
        return httpx.Response(201, json=order)
