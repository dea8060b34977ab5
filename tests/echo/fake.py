"""A fake of the invented Echo API (see the docstring of tests/echo/provider.py), on the shared
FakeProviderServer. It checks what Echo checks with its own code (it imports nothing from the
provider): the key, and the signature recomputed from the body or query it received.

Usage::

    with EchoFake() as fake:
        settings.ONECLICK["PROVIDERS"]["echo"] = {"BACKEND": fake.backend, **fake.provider_options()}
        fake.fail_next_with("declined")   # the next purchase meets a documented error
        fake.answer_next(500)             # Invented: an undocumented bare 500, nothing placed
        fake.fail_next("timeout")         # the shared transport faults
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

API_KEY = "echo-fake-key"
API_SECRET = "echo-fake-secret"
#: The documented errors a purchase can be told to meet: name -> (status, body). Nothing is placed.
ERRORS: dict[str, tuple[int, dict[str, str]]] = {
    "declined": (402, {"error": "declined", "detail": "The customer's card was refused."}),
    "invalid": (422, {"error": "invalid", "detail": "Unknown sku."}),
    "busy": (503, {"error": "busy", "detail": "Try again in a minute."}),
}
_FIELDS = ("reference", "sku", "quantity", "amount", "currency", "customer")


def _expected_signature(payload: dict[str, Any]) -> str:
    """Echo's documented signature: HMAC-SHA256 of the canonical JSON, keyed with the secret."""
    message = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return hmac.new(API_SECRET.encode(), message, hashlib.sha256).hexdigest()


class EchoFake(FakeProviderServer):
    backend = "tests.echo.provider.EchoProvider"

    def __init__(self) -> None:
        super().__init__()
        #: Orders Echo holds, by id.
        self.orders: dict[str, dict[str, Any]] = {}
        self._answers: list[tuple[int, Any]] = []
        self._ids = itertools.count(1001)
        self._state_lock = threading.Lock()

    def provider_options(self) -> dict[str, Any]:
        return {"BASE_URL": self.base_url, "API_KEY": API_KEY, "API_SECRET": API_SECRET}

    def demo_method(self) -> MethodDetails:
        return MethodDetails(reference="echo-customer-1", label="Echo (fake)")

    def fail_next_with(self, error: str) -> None:
        if error not in ERRORS:
            raise ValueError(f"Unknown error {error!r}; choose from {sorted(ERRORS)}.")
        self._answers.append(ERRORS[error])

    def answer_next(self, status: int) -> None:
        """Invented: the next purchase is answered ``status`` with no body, before anything is done."""
        self._answers.append((status, None))

    def handle(self, request: FakeRequest) -> FakeResponse:
        if not self._authentic(request):
            return json_response(401, {"error": "unauthorized", "detail": "Bad key or signature."})
        if request.path != "/orders":
            # Invented: the document is silent on other paths.
            return json_response(404, {"error": "not_found", "detail": request.path})
        if request.method == "POST":
            return self._place(request.json())
        if request.method == "GET":
            reference = request.query.get("reference", [""])[0]
            return json_response(200, {"orders": [o for o in self.orders.values() if o["reference"] == reference]})
        return json_response(405, {"error": "invalid", "detail": f"{request.method} is not allowed."})

    def _authentic(self, request: FakeRequest) -> bool:
        signed = request.json() if request.method == "POST" else {k: v[-1] for k, v in request.query.items()}
        key_ok = hmac.compare_digest(request.header("x-echo-key").encode(), API_KEY.encode())
        return key_ok and hmac.compare_digest(request.header("x-echo-signature"), _expected_signature(signed))

    def _place(self, body: dict[str, Any]) -> FakeResponse:
        if self._answers:
            status, answer = self._answers.pop(0)
            return json_response(status, answer) if answer is not None else FakeResponse(status)
        missing = [name for name in _FIELDS if not body.get(name)]
        if missing or int(body["quantity"]) > 10:
            return json_response(422, {"error": "invalid", "detail": f"Missing {missing} or more than 10 items."})
        with self._state_lock:
            order = {"id": f"E-{next(self._ids)}", "state": "paid", "placed_at": datetime.now(UTC).isoformat()}
            order.update({name: body[name] for name in _FIELDS})
            self.orders[order["id"]] = order
        return json_response(201, {"order": order})
