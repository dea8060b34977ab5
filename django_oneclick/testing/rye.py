"""A fake of Rye's checkout-intents API, after its OpenAPI document (Universal Checkout API).

It checks the bearer key and the purchase body like Rye (required fields, types, lengths,
promo-code pattern, the ``paymentMethod`` kinds by ``type``) and answers the documented shapes:
``201`` with a checkout intent, ``401 AuthenticationError``, ``422 ValidateError`` with
``fields``, and on demand ``429``, ``500 RuntimeError`` and ``503 AmazonUnavailableError``.

An intent moves one state further at each ``GET`` of it: by default ``retrieving_offer`` ->
``placing_order`` -> ``completed``; :meth:`RyeFake.plan_next` sets another course for the next
purchase, e.g. one ending ``failed`` with any documented failure reason.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

API_KEY = "RYE/staging-fake-0f3c9a2b7d41e6"
INTENTS_PATH = "/api/v1/checkout-intents"

#: ``FailureReasonCode`` as documented.
FAILURE_REASONS = (
    "unknown",
    "checkout_intent_expired",
    "payment_failed",
    "payment_cvc_expired",
    "insufficient_stock",
    "product_out_of_stock",
    "offer_retrieval_failed",
    "order_placement_failed",
    "developer_not_found",
    "missing_shipping_method",
    "unsupported_currency",
    "invalid_input",
    "incorrect_cost_breakdown",
    "unsupported_store_no_guest_checkout",
    "workflow_invocation_failed",
    "variant_selections_invalid",
    "variant_selections_required",
    "form_validation_error",
    "captcha_blocked",
    "bot_protection_blocked",
    "constraint_total_price_exceeded",
    "constraint_shipping_cost_exceeded",
    "promo_code_discovery_not_enabled",
    "product_not_found",
)
STATES = (
    "retrieving_offer",
    "awaiting_confirmation",
    "requires_action",
    "placing_order",
    "completed",
    "failed",
)
#: ``paymentMethod.type`` -> its required fields and their type.
PAYMENT_METHODS: dict[str, dict[str, type]] = {
    "stripe_token": {"stripeToken": str},
    "basis_theory_token": {"basisTheoryToken": str},
    "nekuda_token": {"nekudaUserId": str},
    "prava_token": {"pravaToken": str},
    "drawdown": {},
    "x402": {"network": str},
}
X402_NETWORKS = ("base", "solana", "tempo")
#: Buyer field -> max length (None: no limit documented); ``address2`` is the optional one.
BUYER_FIELDS = {
    "firstName": 255,
    "lastName": 255,
    "email": None,
    "phone": None,
    "address1": 255,
    "city": 255,
    "province": 255,
    "postalCode": 255,
    "country": None,
}
PROMO_CODE = re.compile(r"^[a-zA-Z0-9_\-]+$")
INT32_MAX = 2**31 - 1
DEFAULT_UNIT_PRICE = 1999
COMPLETING = ("retrieving_offer", "placing_order", "completed")
COMPLETING_AFTER_ACTION = ("retrieving_offer", "requires_action", "placing_order", "completed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Errors(dict[str, dict[str, Any]]):
    """``ValidateError.fields``: path -> ``{message, value}`` (Rye echoes the value)."""

    def add(self, path: str, message: str, value: Any = None) -> None:
        self[f"requestBody.{path}"] = {"message": message, **({"value": value} if value is not None else {})}


def validate_purchase(body: Any) -> dict[str, dict[str, Any]]:
    """The purchase body's schema errors, as ``ValidateError.fields``."""
    errors = _Errors()
    if not isinstance(body, dict):
        errors.add("", "invalid object")
        return errors
    for name in ("buyer", "quantity", "productUrl", "paymentMethod"):
        if name not in body:
            errors.add(name, f"'{name}' is required")
    if "buyer" in body:
        _validate_buyer(body["buyer"], errors)
    if "quantity" in body and not (_is_int(body["quantity"]) and 0 <= body["quantity"] <= INT32_MAX):
        errors.add("quantity", "invalid integer number", body["quantity"])
    if "productUrl" in body and not isinstance(body["productUrl"], str):
        errors.add("productUrl", "invalid string value", body["productUrl"])
    if "paymentMethod" in body:
        _validate_payment_method(body["paymentMethod"], errors)
    _validate_options(body, errors)
    return errors


def _validate_buyer(buyer: Any, errors: _Errors) -> None:
    if not isinstance(buyer, dict):
        errors.add("buyer", "invalid object", buyer)
        return
    for name, max_length in {**BUYER_FIELDS, "address2": 255}.items():
        if name not in buyer:
            if name != "address2":
                errors.add(f"buyer.{name}", f"'{name}' is required")
            continue
        value = buyer[name]
        if not isinstance(value, str):
            errors.add(f"buyer.{name}", "invalid string value", value)
        elif max_length and len(value) > max_length:
            errors.add(f"buyer.{name}", f"maxLength {max_length}", value)
    if isinstance(buyer.get("country"), str) and buyer["country"] != "US":
        errors.add("buyer.country", "Only US shipping addresses are supported", buyer["country"])


def _validate_payment_method(method: Any, errors: _Errors) -> None:
    if not isinstance(method, dict) or method.get("type") not in PAYMENT_METHODS:
        errors.add("paymentMethod", f"Could not match the union against any of the items: {sorted(PAYMENT_METHODS)}")
        return
    for name, kind in PAYMENT_METHODS[method["type"]].items():
        if not isinstance(method.get(name), kind):
            errors.add(f"paymentMethod.{name}", f"'{name}' is required")
    if method["type"] == "x402" and method.get("network") not in X402_NETWORKS:
        errors.add("paymentMethod.network", f"should be one of {X402_NETWORKS}", method.get("network"))
    mandate = method.get("nekudaMandateData")
    if mandate is not None and not (
        isinstance(mandate, dict) and all(isinstance(v, str) or _is_number(v) for v in mandate.values())
    ):
        errors.add("paymentMethod.nekudaMandateData", "invalid Record<string, string | number>")


def _validate_options(body: dict[str, Any], errors: _Errors) -> None:
    if "discoverPromoCodes" in body and not isinstance(body["discoverPromoCodes"], bool):
        errors.add("discoverPromoCodes", "invalid boolean value", body["discoverPromoCodes"])
    if "referenceId" in body and not isinstance(body["referenceId"], str):
        errors.add("referenceId", "invalid string value", body["referenceId"])
    constraints = body.get("constraints", {})
    if not isinstance(constraints, dict):
        errors.add("constraints", "invalid object", constraints)
        constraints = {}
    for name in ("maxTotalPrice", "maxShippingPrice"):
        if name in constraints and not (_is_int(constraints[name]) and 0 <= constraints[name] <= INT32_MAX):
            errors.add(f"constraints.{name}", "min 0, invalid integer number", constraints[name])
    if constraints.get("offerRetrievalEffort", "max") not in ("max", "low"):
        errors.add("constraints.offerRetrievalEffort", "should be one of ['max', 'low']")
    codes = body.get("promoCodes", [])
    if not isinstance(codes, list) or len(codes) > 16:
        errors.add("promoCodes", "maxItems 16")
    else:
        for index, code in enumerate(codes):
            if not (isinstance(code, str) and len(code) <= 32 and PROMO_CODE.match(code)):
                errors.add(f"promoCodes.$[{index}]", "Not match in '^[a-zA-Z0-9_\\-]+$', maxLength 32", code)
    selections = body.get("variantSelections", [])
    if not isinstance(selections, list):
        errors.add("variantSelections", "invalid array")
        return
    for index, selection in enumerate(selections):
        label = selection.get("label") if isinstance(selection, dict) else None
        value = selection.get("value") if isinstance(selection, dict) else None
        if not (isinstance(label, str) and len(label) <= 30):
            errors.add(f"variantSelections.$[{index}].label", "'label' is required, maxLength 30")
        if not (_is_number(value) or (isinstance(value, str) and len(value) <= 60)):
            errors.add(f"variantSelections.$[{index}].value", "'value' is required, maxLength 60")


@dataclass
class Intent:
    """One checkout intent at the fake: what was posted, and its course through the states."""

    posted: dict[str, Any]
    steps: tuple[str, ...]
    failure: str = ""
    id: str = field(default_factory=lambda: f"ci_{secrets.token_hex(12)}")
    created_at: str = field(default_factory=_now)
    order_id: str = field(default_factory=lambda: f"ord_{secrets.token_hex(8)}")
    fetches: int = 0

    @property
    def state(self) -> str:
        return self.steps[min(self.fetches, len(self.steps) - 1)]

    def render(self, unit_price: int) -> dict[str, Any]:
        """The intent as Rye shows it in its current state."""
        body = {
            key: self.posted[key]
            for key in ("buyer", "quantity", "productUrl", "constraints", "promoCodes", "referenceId")
            if key in self.posted
        }
        body.update(id=self.id, createdAt=self.created_at, state=self.state)
        if self.state not in ("retrieving_offer", "failed"):
            body["offer"] = _offer(unit_price * self.posted["quantity"])
            body["paymentMethod"] = self.posted["paymentMethod"]
        if self.state == "requires_action":
            body["nextAction"] = {
                "type": "x402",
                "x402": {
                    "expiresAt": _now(),
                    "recipient": "0x00000000000000000000000000000000000fa4e",
                    "currency": "USDC",
                    "maxAmountRequired": str(unit_price * self.posted["quantity"]),
                    "network": self.posted["paymentMethod"].get("network", "base"),
                    "scheme": "exact",
                },
            }
        elif self.state == "completed":
            body["orderId"] = self.order_id
        elif self.state == "failed":
            body["failureReason"] = {"code": self.failure, "message": f"Fake failure: {self.failure}."}
        return body


def _offer(total: int) -> dict[str, Any]:
    money = {"currencyCode": "USD", "amountSubunits": total}
    return {
        "cost": {"total": money, "subtotal": money},
        "shipping": {
            "availableOptions": [{"id": "standard", "cost": {"currencyCode": "USD", "amountSubunits": 0}}],
            "selectedOptionId": "standard",
        },
    }


def _error(status: int, name: str, message: str, **headers: str) -> FakeResponse:
    return json_response(status, {"name": name, "message": message}, **headers)


class RyeFake(FakeProviderServer):
    """Rye's checkout intents. ``prices`` maps a product URL to its unit price in cents (the
    default is the buyer's ``maxTotalPrice`` per unit, else 19.99)."""

    backend = "django_oneclick.providers.rye.RyeProvider"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.intents: dict[str, Intent] = {}
        self.prices: dict[str, int] = {}
        self._plans: list[tuple[tuple[str, ...], str]] = []
        self._rejections: list[tuple[int, dict[str, str], str]] = []
        self._by_idempotency_key: dict[str, str] = {}
        self._state_lock = threading.Lock()

    # -- control

    def plan_next(self, *steps: str, failure: str = "") -> None:
        """The next purchase's states, one further per fetch; ending in ``failed`` needs a
        documented ``failure`` reason."""
        if not steps or any(step not in STATES for step in steps):
            raise ValueError(f"Steps are states of {STATES}.")
        if (steps[-1] == "failed") != bool(failure) or (failure and failure not in FAILURE_REASONS):
            raise ValueError("A course ending 'failed' needs one documented failure reason.")
        self._plans.append((steps, failure))

    def fail_next_purchase(self, failure: str) -> None:
        """The next purchase is accepted, then fails with ``failure`` at the second fetch."""
        self.plan_next("retrieving_offer", "placing_order", "failed", failure=failure)

    def reject_next(self, status: int, *, field_path: str = "", **headers: str) -> None:
        """Answer the next request with a documented error (401, 404, 422, 429, 500, 503) before
        acting on it; for 422, ``field_path`` (e.g. ``paymentMethod.stripeToken``) names the
        refused field, echoed with its value like Rye does."""
        self._rejections.append((status, headers, field_path))

    def add_intent(self, posted: dict[str, Any], *, created_at: str | None = None) -> Intent:
        """An intent made elsewhere (another shop process, the console), for list lookups."""
        intent = Intent(posted=posted, steps=COMPLETING, created_at=created_at or _now())
        with self._state_lock:
            self.intents[intent.id] = intent
        return intent

    # -- what the demo and the provider need

    def provider_options(self) -> dict[str, Any]:
        return {"BASE_URL": self.base_url, "API_KEY": self.api_key, "READ_TIMEOUT": 10}

    def demo_method(self) -> MethodDetails:
        return MethodDetails(
            reference="tok_visa_fake_4242",
            label="Visa •••• 4242 (Rye fake)",
            brand="Visa",
            last4="4242",
            data={"type": "stripe_token"},
        )

    def demo_product_id(self, slug: str) -> str:
        """Rye buys a product by its URL at the merchant's."""
        return f"https://merchant.example/products/{slug}"

    # -- the API

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.header("authorization") != f"Bearer {self.api_key}":
            return _error(401, "AuthenticationError", "Invalid or missing API key")
        rejection = self._take_rejection(request)
        if rejection is not None:
            return rejection
        path = request.path.rstrip("/")
        if request.method == "POST" and path == f"{INTENTS_PATH}/purchase":
            return self._purchase(request)
        if request.method == "GET" and path == INTENTS_PATH:
            return self._list(request)
        if request.method == "GET" and path.startswith(f"{INTENTS_PATH}/"):
            return self._retrieve(path.rsplit("/", 1)[1])
        return _error(404, "NotFoundError", f"No route {request.method} {request.path}")

    def _take_rejection(self, request: FakeRequest) -> FakeResponse | None:
        with self._state_lock:
            if not self._rejections:
                return None
            status, headers, field_path = self._rejections.pop(0)
        if status == 422:
            value: Any = request.json() if request.body else None
            for part in field_path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            errors = _Errors()
            errors.add(field_path, "invalid value", value)
            body = {"name": "ValidateError", "message": "Validation failed", "status": 422, "fields": errors}
            return json_response(422, body, **headers)
        names = {
            401: ("AuthenticationError", "Invalid or missing API key"),
            404: ("NotFoundError", "Not found"),
            429: ("RateLimitError", "Too many requests"),
            500: ("RuntimeError", "Internal error"),
            503: ("AmazonUnavailableError", "The merchant is unavailable right now"),
        }
        name, message = names.get(status, ("Error", "Error"))
        return _error(status, name, message, **headers)

    def _purchase(self, request: FakeRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "BadRequestError", "The body is not JSON")
        errors = validate_purchase(body)
        if errors:
            return json_response(
                422, {"name": "ValidateError", "message": "Validation failed", "status": 422, "fields": errors}
            )
        key = request.header("idempotency-key")
        with self._state_lock:
            if key and key in self._by_idempotency_key:
                intent = self.intents[self._by_idempotency_key[key]]
                return json_response(201, intent.render(self._unit_price(intent.posted)))
            steps, failure = self._course_for(body)
            intent = Intent(posted=body, steps=steps, failure=failure)
            self.intents[intent.id] = intent
            if key:
                self._by_idempotency_key[key] = intent.id
        return json_response(201, intent.render(self._unit_price(body)))

    def _course_for(self, body: dict[str, Any]) -> tuple[tuple[str, ...], str]:
        """Rye's own checks come first; then a planned course, else the usual one."""
        if body["quantity"] == 0:
            return ("retrieving_offer", "failed"), "invalid_input"
        limit = body.get("constraints", {}).get("maxTotalPrice")
        if limit is not None and self._unit_price(body) * body["quantity"] > limit:
            return ("retrieving_offer", "failed"), "constraint_total_price_exceeded"
        if self._plans:
            return self._plans.pop(0)
        if body["paymentMethod"]["type"] == "x402":
            return COMPLETING_AFTER_ACTION, ""
        return COMPLETING, ""

    def _unit_price(self, posted: dict[str, Any]) -> int:
        limit = posted.get("constraints", {}).get("maxTotalPrice")
        default = limit // posted["quantity"] if limit and posted.get("quantity") else DEFAULT_UNIT_PRICE
        return self.prices.get(posted.get("productUrl", ""), default)

    def _retrieve(self, intent_id: str) -> FakeResponse:
        with self._state_lock:
            intent = self.intents.get(intent_id)
            if intent is None:
                return _error(404, "NotFoundError", f"Checkout intent {intent_id} not found")
            intent.fetches += 1
            return json_response(200, intent.render(self._unit_price(intent.posted)))

    def _list(self, request: FakeRequest) -> FakeResponse:
        """Newest first, cursor pagination (``limit``, ``after``, ``before``), ``id`` and
        ``state`` filters; listing does not move an intent on."""
        try:
            limit = int(request.query.get("limit", ["100"])[0])
        except ValueError:
            return _error(400, "BadRequestError", "limit must be an integer")
        if not 1 <= limit <= 100:
            return _error(400, "BadRequestError", "limit must be from 1 to 100")
        with self._state_lock:
            intents = sorted(self.intents.values(), key=lambda i: i.created_at, reverse=True)
            ids, states = request.query.get("id"), request.query.get("state")
            intents = [i for i in intents if (not ids or i.id in ids) and (not states or i.state in states)]
            order = [i.id for i in intents]
            start, end = 0, len(intents)
            if "after" in request.query:
                start = order.index(request.query["after"][0]) + 1 if request.query["after"][0] in order else end
            if "before" in request.query:
                end = order.index(request.query["before"][0]) if request.query["before"][0] in order else 0
                start = max(start, end - limit)
            page = intents[start : min(end, start + limit)]
            data = [i.render(self._unit_price(i.posted)) for i in page]
        page_info = {
            "hasNextPage": start + len(page) < len(intents),
            "hasPreviousPage": start > 0,
            "startCursor": page[0].id if page else None,
            "endCursor": page[-1].id if page else None,
        }
        return json_response(200, {"data": data, "pageInfo": page_info})
