"""A fake of Rye's checkout-intents API, after its OpenAPI document (Universal Checkout API).

It checks the bearer key and the purchase body like the document's schema (required fields, types,
integer ranges, enums, lengths, the promo-code pattern, the ``paymentMethod`` kinds by ``type``) and
answers the documented shapes: ``201`` with a checkout intent, ``401 AuthenticationError``, ``422
ValidateError`` with ``fields``, and on demand ``429``, ``500 RuntimeError`` and ``503
AmazonUnavailableError``. A merchant stands behind it: the offer's ``cost {subtotal, shipping, tax,
total}`` (``Money`` subunits) is its own price plus shipping and tax, never derived from the buyer's
cap, and an offer above ``constraints.maxTotalPrice`` / ``maxShippingPrice`` fails the intent (their
unit is not documented: read as subunits like every ``Money``, so the examples 100000 and 500 are
$1,000.00 and $5.00).

An intent moves one state further at each ``GET`` of it: by default ``retrieving_offer`` ->
``placing_order`` -> ``completed``; :meth:`RyeFake.plan_next` sets another course for the next
purchase. Where the document is silent, what the fake does is marked "invented".
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

API_KEY = "RYE/staging-fake-0f3c9a2b7d41e6"
INTENTS_PATH = "/api/v1/checkout-intents"

#: ``FailureReasonCode`` as documented.
FAILURE_REASONS = (
    "unknown", "checkout_intent_expired", "payment_failed", "payment_cvc_expired", "insufficient_stock",
    "product_out_of_stock", "offer_retrieval_failed", "order_placement_failed", "developer_not_found",
    "missing_shipping_method", "unsupported_currency", "invalid_input", "incorrect_cost_breakdown",
    "unsupported_store_no_guest_checkout", "workflow_invocation_failed", "variant_selections_invalid",
    "variant_selections_required", "form_validation_error", "captcha_blocked", "bot_protection_blocked",
    "constraint_total_price_exceeded", "constraint_shipping_cost_exceeded", "promo_code_discovery_not_enabled",
    "product_not_found",
)
STATES = ("retrieving_offer", "awaiting_confirmation", "requires_action", "placing_order", "completed", "failed")
#: The states in which an intent carries its offer (required there).
OFFER_STATES = ("awaiting_confirmation", "requires_action", "placing_order", "completed")
#: Failures found in the retrieved offer: such a failed intent shows that offer (optional there).
CONSTRAINT_FAILURES = ("constraint_total_price_exceeded", "constraint_shipping_cost_exceeded")
#: ``paymentMethod.type`` -> its required fields and their type.
PAYMENT_METHODS: dict[str, dict[str, type]] = {
    "stripe_token": {"stripeToken": str}, "basis_theory_token": {"basisTheoryToken": str},
    "nekuda_token": {"nekudaUserId": str}, "prava_token": {"pravaToken": str}, "drawdown": {}, "x402": {"network": str},
}
X402_NETWORKS = ("base", "solana", "tempo")
#: Buyer field -> max length (None: no limit documented); ``address2`` is the optional one.
BUYER_FIELDS = {
    "firstName": 255, "lastName": 255, "email": None, "phone": None, "address1": 255, "city": 255,
    "province": 255, "postalCode": 255, "country": None,
}
PROMO_CODE = re.compile(r"[a-zA-Z0-9_\-]+")
INT32_MAX = 2**31 - 1
# Invented (the document prices nothing itself): a merchant's unit price for a product missing
# from ``RyeFake.prices``, its flat shipping cost per order, and sales tax on the subtotal at New
# York City's rate, rounded to the cent.
DEFAULT_UNIT_PRICE = 1999
DEFAULT_SHIPPING_COST = 599
DEFAULT_TAX_RATE = Decimal("0.08875")
COMPLETING = ("retrieving_offer", "placing_order", "completed")
COMPLETING_AFTER_ACTION = ("retrieving_offer", "requires_action", "placing_order", "completed")
FAILING_AT_OFFER = ("retrieving_offer", "failed")
#: The error bodies of :meth:`RyeFake.reject_next` (429's name is invented: the document has no 429).
REJECTIONS = {
    401: ("AuthenticationError", "Invalid or missing API key"), 404: ("NotFoundError", "Not found"),
    429: ("RateLimitError", "Too many requests"), 500: ("RuntimeError", "Internal error"),
    503: ("AmazonUnavailableError", "The merchant is unavailable right now"),
}
#: What every intent shows of what was posted (``referenceId``: from the SDK, see below).
ECHOED_FIELDS = (
    "buyer", "quantity", "productUrl", "constraints", "discoverPromoCodes", "promoCodes",
    "variantSelections", "referenceId",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_uint32(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32_MAX


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _money(subunits: int) -> dict[str, Any]:
    return {"currencyCode": "USD", "amountSubunits": subunits}


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
    if "quantity" in body and not _is_uint32(body["quantity"]):
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
    # From Rye's developer notes (US-only ordering), not the schema; that it is a 422 is invented.
    if isinstance(buyer.get("country"), str) and buyer["country"] != "US":
        errors.add("buyer.country", "Only US shipping addresses are supported", buyer["country"])


def _validate_payment_method(method: Any, errors: _Errors) -> None:
    kind = method.get("type") if isinstance(method, dict) else None
    if not isinstance(kind, str) or kind not in PAYMENT_METHODS:
        errors.add("paymentMethod", f"Could not match the union against any of the items: {sorted(PAYMENT_METHODS)}")
        return
    for name, expected in PAYMENT_METHODS[kind].items():
        if not isinstance(method.get(name), expected):
            errors.add(f"paymentMethod.{name}", f"'{name}' is required")
    if kind == "x402" and method.get("network") not in X402_NETWORKS:
        errors.add("paymentMethod.network", f"should be one of {X402_NETWORKS}", method.get("network"))
    mandate = method.get("nekudaMandateData")
    if kind == "nekuda_token" and "nekudaMandateData" in method and not (
        isinstance(mandate, dict) and all(isinstance(v, str) or _is_number(v) for v in mandate.values())
    ):
        errors.add("paymentMethod.nekudaMandateData", "invalid Record<string, string | number>")


def _validate_options(body: dict[str, Any], errors: _Errors) -> None:
    if "discoverPromoCodes" in body and not isinstance(body["discoverPromoCodes"], bool):
        errors.add("discoverPromoCodes", "invalid boolean value", body["discoverPromoCodes"])
    # ``referenceId`` is not in the seed document: the SDK (0.28) sends it as an optional string.
    if "referenceId" in body and not isinstance(body["referenceId"], str):
        errors.add("referenceId", "invalid string value", body["referenceId"])
    constraints = body.get("constraints", {})
    if not isinstance(constraints, dict):
        errors.add("constraints", "invalid object", constraints)
        constraints = {}
    for name in ("maxTotalPrice", "maxShippingPrice"):
        if name in constraints and not _is_uint32(constraints[name]):
            errors.add(f"constraints.{name}", "min 0, invalid integer number", constraints[name])
    if "offerRetrievalEffort" in constraints and constraints["offerRetrievalEffort"] not in ("max", "low"):
        errors.add("constraints.offerRetrievalEffort", "should be one of ['max', 'low']")
    codes = body.get("promoCodes", [])
    if not isinstance(codes, list):
        errors.add("promoCodes", "invalid array")
    elif len(codes) > 16:
        errors.add("promoCodes", "maxItems 16")
    else:
        for index, code in enumerate(codes):
            if not (isinstance(code, str) and len(code) <= 32 and PROMO_CODE.fullmatch(code)):
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
    """One checkout intent at the fake: what was posted, the offer retrieved for it (None when
    its course fails before one), and its course through the states."""

    posted: dict[str, Any]
    steps: tuple[str, ...]
    offer: dict[str, Any] | None = None
    failure: str = ""
    id: str = field(default_factory=lambda: f"ci_{secrets.token_hex(12)}")
    created_at: str = field(default_factory=_now)
    order_id: str = field(default_factory=lambda: f"ord_{secrets.token_hex(8)}")
    fetches: int = 0

    @property
    def state(self) -> str:
        return self.steps[min(self.fetches, len(self.steps) - 1)]

    def render(self) -> dict[str, Any]:
        """The intent as Rye shows it in its current state."""
        body = {key: self.posted[key] for key in ECHOED_FIELDS if key in self.posted}
        body.update(id=self.id, createdAt=self.created_at, state=self.state)
        if self.state != "retrieving_offer":
            if self.offer is not None:
                body["offer"] = self.offer
            if "paymentMethod" in self.posted:
                body["paymentMethod"] = self.posted["paymentMethod"]
        if self.state == "requires_action" and self.offer is not None:
            # Invented: the values; ``maxAmountRequired`` (a string of no documented unit) is the total's subunits.
            x402 = {"expiresAt": _now(), "recipient": "0x00000000000000000000000000000000000fa4e", "currency": "USDC"}
            x402.update(maxAmountRequired=str(self.offer["cost"]["total"]["amountSubunits"]), scheme="exact")
            x402["network"] = self.posted["paymentMethod"].get("network", "base")
            body["nextAction"] = {"type": "x402", "x402": x402}
        elif self.state == "completed":
            body["orderId"] = self.order_id
        elif self.state == "failed":
            # Invented: Rye's own failure texts are not documented.
            body["failureReason"] = {"code": self.failure, "message": f"Fake failure: {self.failure}."}
        return body


def _error(status: int, name: str, message: str, **headers: str) -> FakeResponse:
    return json_response(status, {"name": name, "message": message}, **headers)


def _validation_error(fields: dict[str, Any], **headers: str) -> FakeResponse:
    body = {"name": "ValidateError", "message": "Validation failed", "status": 422, "fields": fields}
    return json_response(422, body, **headers)


class RyeFake(FakeProviderServer):
    """Rye's checkout intents, with a merchant behind them: ``prices`` maps a product URL to its
    unit price in cents (19.99 for any other product), ``shipping_cost`` is charged once per order
    (5.99) and ``tax_rate`` applies to the subtotal (8.875%). The price never depends on the
    buyer's constraints."""

    backend = "django_oneclick.providers.rye.RyeProvider"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.intents: dict[str, Intent] = {}
        self.prices: dict[str, int] = {}
        self.shipping_cost = DEFAULT_SHIPPING_COST
        self.tax_rate = DEFAULT_TAX_RATE
        self._plans: list[tuple[tuple[str, ...], str]] = []
        self._rejections: list[tuple[int, dict[str, str], str]] = []
        self._state_lock = threading.Lock()

    # -- control

    def plan_next(self, *steps: str, failure: str = "") -> None:
        """The next purchase's states, one further per fetch; ending in ``failed`` needs a
        documented ``failure`` reason. The next purchase uses the plan up even when Rye's own
        checks (the constraints) end it sooner."""
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
        with self._state_lock:
            intent = Intent(posted=posted, steps=COMPLETING, offer=self._offer(posted), created_at=created_at or _now())
            self.intents[intent.id] = intent
        return intent

    # -- what the demo and the provider need

    def provider_options(self) -> dict[str, Any]:
        return {"BASE_URL": self.base_url, "API_KEY": self.api_key, "READ_TIMEOUT": 10}

    def demo_method(self) -> MethodDetails:
        label = "Visa •••• 4242 (Rye fake)"
        return MethodDetails("tok_visa_fake_4242", label, brand="Visa", last4="4242", data={"type": "stripe_token"})

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
            return _validation_error(errors, **headers)
        name, message = REJECTIONS.get(status, ("Error", "Error"))
        return _error(status, name, message, **headers)

    def _purchase(self, request: FakeRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:  # invented: the document names no answer for a body that is not JSON
            return _error(400, "BadRequestError", "The body is not JSON")
        errors = validate_purchase(body)
        if errors:
            return _validation_error(errors)
        # The SDK sends an Idempotency-Key header, but no document says Rye honours it: the fake
        # does not, so a purchase sent twice is two intents, as it may be at Rye.
        with self._state_lock:
            offer = self._offer(body)
            steps, failure = self._course_for(body, offer)
            retrieved = failure in CONSTRAINT_FAILURES or any(step in OFFER_STATES for step in steps)
            intent = Intent(posted=body, steps=steps, offer=offer if retrieved else None, failure=failure)
            self.intents[intent.id] = intent
        return json_response(201, intent.render())

    def _offer(self, posted: dict[str, Any]) -> dict[str, Any]:
        """The merchant's offer: its own unit price times the quantity, shipping and tax."""
        subtotal = self.prices.get(posted.get("productUrl", ""), DEFAULT_UNIT_PRICE) * posted.get("quantity", 1)
        tax = int((subtotal * self.tax_rate).to_integral_value(rounding=ROUND_HALF_UP))
        shipping = self.shipping_cost
        cost = {"subtotal": subtotal, "shipping": shipping, "tax": tax, "total": subtotal + shipping + tax}
        options = [{"id": "standard", "cost": _money(shipping)}]
        return {
            "cost": {part: _money(amount) for part, amount in cost.items()},
            "shipping": {"availableOptions": options, "selectedOptionId": "standard"},
        }

    def _course_for(self, body: dict[str, Any], offer: dict[str, Any]) -> tuple[tuple[str, ...], str]:
        """Rye's own checks come first; then a planned course, else the usual one."""
        planned = self._plans.pop(0) if self._plans else None
        if body["quantity"] == 0:  # invented: the schema allows 0, but there is nothing to buy
            return FAILING_AT_OFFER, "invalid_input"
        constraints = body.get("constraints", {})
        cost = offer["cost"]
        # Invented: which constraint is checked first (the document does not say). A cap equal to
        # the amount is met: it is a maximum.
        if cost["shipping"]["amountSubunits"] > constraints.get("maxShippingPrice", INT32_MAX):
            return FAILING_AT_OFFER, "constraint_shipping_cost_exceeded"
        if cost["total"]["amountSubunits"] > constraints.get("maxTotalPrice", INT32_MAX):
            return FAILING_AT_OFFER, "constraint_total_price_exceeded"
        if planned:
            return planned
        if body["paymentMethod"]["type"] == "x402":
            return COMPLETING_AFTER_ACTION, ""
        return COMPLETING, ""

    def _retrieve(self, intent_id: str) -> FakeResponse:
        with self._state_lock:
            intent = self.intents.get(intent_id)
            if intent is None:
                return _error(404, "NotFoundError", f"Checkout intent {intent_id} not found")
            intent.fetches += 1
            return json_response(200, intent.render())

    def _list(self, request: FakeRequest) -> FakeResponse:
        """Newest first, cursor pagination (``limit``, ``after``, ``before``), ``id`` and
        ``state`` filters; listing does not move an intent on. Not in the seed document: the
        parameters and the page shape follow the SDK (0.28)."""
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
            data = [i.render() for i in page]
        page_info: dict[str, Any] = {"hasNextPage": start + len(page) < len(intents), "hasPreviousPage": start > 0}
        page_info.update(startCursor=page[0].id if page else None, endCursor=page[-1].id if page else None)
        return json_response(200, {"data": data, "pageInfo": page_info})
