"""A fake of Billerix's Pay service: one-click orders, their charge result and the charge history.

It checks what Billerix checks: the six headers, the public key, the ``x-token`` signature over
the buyer's IP and ``x-date``, the service id (``x-id``) and source, then the body (types,
required fields, the products rules: known product codes, the buyer's subscriptions, one action
per subscription). Errors use Billerix's documented body ``{"uuid", "message", "code",
"traceId"}`` (422 adds ``errors[{field, title}]``).

An order is created ``created`` and its charge settles on the first result poll, unless told
otherwise: ``pending_polls`` polls answer "not ready" (204, then ``authorized``) first, and
``decline_next(code)`` makes the next order's charge fail with one of the documented codes.

Usage::

    with BillerixFake() as fake:
        buyer = fake.add_buyer()
        fake.add_product("BOOK")
        settings.ONECLICK["PROVIDERS"]["billerix"] = {"BACKEND": fake.backend, **fake.provider_options()}
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.providers.billerix import x_token
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

PUBLIC_KEY = "6cd0070d-70d2-42b2-9223-0b1f828a808d"
SECRET_KEY = "fake-billerix-secret-key"
SERVICE_ID = "pay-front-oneclick"
SOURCES = frozenset({"shop", "cp", "staff", "directlink", "pay-front"})
ACTIONS = frozenset({"purchase", "renew", "upgrade", "downgrade"})
REQUIRED_HEADERS = ("x-public-key", "x-buyer-ip", "x-date", "x-token", "x-source", "x-id")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ONECLICK = re.compile(r"^/api/v3/buyers/(?P<buyer>[^/]+)/oneclick$")
_RESULT = re.compile(r"^/api/v3/orders/(?P<order>[^/]+)/result$")
_HISTORY = re.compile(r"^/api/v2/buyers/(?P<buyer>[^/]+)/charge/history$")
_ORDER_ID = re.compile(r"^[A-Za-z0-9]{8}$")

#: Charge failures a result can report: code -> (error uuid, message).
CHARGE_FAILURES: dict[int, tuple[str, str]] = {
    2101: ("0d4b5ad5-8a6f-4cf0-9a84-0f0c1d7f2101", "Charge failed"),
    2102: ("b2f3c1de-4f43-4b3c-8f0e-5a1c8d0e2102", "Invalid card data"),
    2104: ("2274eded-bb92-4813-94c1-ad323a69b064", "Insufficient funds"),
    2105: ("45beacf7-54f7-4706-836c-0019c0c0f6d2", "General decline / do not honour"),
}


def error_body(message: str, code: int = 0, error_uuid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"uuid": error_uuid, "message": message, "code": code, "traceId": secrets.token_hex(16), **extra}


def _validation(field_name: str, title: str) -> FakeResponse:
    return json_response(422, error_body("Validation error", errors=[{"field": field_name, "title": title}]))


def _not_found(message: str = "Entity not found") -> FakeResponse:
    return json_response(404, error_body(message))


#: The documented errors the create call can be told to answer: name -> (HTTP status, body).
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "product_not_found": (404, error_body("Product not found by merchant and code")),
    "validation": (422, error_body("Validation error", errors=[{"field": "coupon", "title": "Coupon not found."}])),
    "race_condition": (400, error_body("Race condition", 2107, "8d911b21-59a3-4c43-a1a7-4b5e3c0e2107")),
    "unauthorized": (500, error_body("Unauthorized service use is forbidden")),
    "server_error": (500, error_body("Short exception description.")),
    **{
        f"charge_{code}": (400, error_body(message, code, error_uuid))
        for code, (error_uuid, message) in CHARGE_FAILURES.items()
    },
}


@dataclass
class Buyer:
    buyer_id: str
    charge_method_id: str
    #: subscription id -> product code
    subscriptions: dict[str, str] = field(default_factory=dict)


class BillerixFake(FakeProviderServer):
    backend = "django_oneclick.providers.billerix.BillerixProvider"

    def __init__(self) -> None:
        super().__init__()
        self.buyers: dict[str, Buyer] = {}
        self.product_codes: set[str] = set()
        self.orders: dict[str, dict[str, Any]] = {}
        #: How many result polls of a new order answer "not ready yet" before its outcome.
        self.pending_polls = 0
        #: How many result polls of a new order answer 404 "Entity not found" first (its
        #: result not recorded yet, while the charge history already lists the order).
        self.unrecorded_polls = 0
        self._next_errors: list[str] = []
        self._next_outcomes: list[tuple[str, int | None]] = []
        self._state_lock = threading.Lock()
        self.demo_buyer = self.add_buyer()

    # -- set-up and control

    def add_buyer(self, subscriptions: dict[str, str] | None = None) -> Buyer:
        buyer = Buyer(str(uuid.uuid4()), str(uuid.uuid4()), dict(subscriptions or {}))
        self.buyers[buyer.buyer_id] = buyer
        return buyer

    def add_product(self, code: str) -> None:
        self.product_codes.add(code)

    def fail_next_with(self, error: str) -> None:
        """The next create call answers one of :data:`ERRORS` (no order is created)."""
        if error not in ERRORS:
            raise ValueError(f"Unknown error {error!r}; choose from {sorted(ERRORS)}.")
        self._next_errors.append(error)

    def decline_next(self, code: int | None = 2105) -> None:
        """The next order is created, then its charge fails: ``declined`` with one of
        :data:`CHARGE_FAILURES`, or ``failed`` with no error when ``code`` is None."""
        if code is not None and code not in CHARGE_FAILURES:
            raise ValueError(f"Unknown charge failure {code}; choose from {sorted(CHARGE_FAILURES)}.")
        self._next_outcomes.append(("declined", code) if code is not None else ("failed", None))

    def purchase_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "POST" and _ONECLICK.match(r.path)]

    def provider_options(self) -> dict[str, Any]:
        return {
            "BASE_URL": self.base_url,
            "PUBLIC_KEY": PUBLIC_KEY,
            "SECRET_KEY": SECRET_KEY,
            "SERVICE_ID": SERVICE_ID,
        }

    def demo_method(self) -> MethodDetails:
        return self.method_for(self.demo_buyer)

    @staticmethod
    def method_for(buyer: Buyer) -> MethodDetails:
        return MethodDetails(
            reference=buyer.charge_method_id,
            label="Billerix: saved card (fake)",
            brand="Visa",
            data={"buyer_id": buyer.buyer_id},
        )

    def demo_product_id(self, slug: str) -> str:
        code = re.sub(r"[^A-Z0-9]", "", slug.upper())[:12]
        self.add_product(code)
        return code

    # -- the API

    def handle(self, request: FakeRequest) -> FakeResponse:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        route = _ONECLICK.match(request.path)
        if route and request.method == "POST":
            return self._create(request, route["buyer"])
        route = _RESULT.match(request.path)
        if route and request.method == "GET":
            return self._result(route["order"])
        route = _HISTORY.match(request.path)
        if route and request.method == "GET":
            return self._history(request, route["buyer"])
        return json_response(405, error_body("Method not allowed"))

    def _authenticate(self, request: FakeRequest) -> FakeResponse | None:
        for name in REQUIRED_HEADERS:
            if not request.header(name):
                return _validation(name, "This value should not be blank.")
        unauthorized = json_response(500, error_body("Unauthorized service use is forbidden"))
        if request.header("x-public-key") != PUBLIC_KEY:
            return unauthorized
        try:
            datetime.strptime(request.header("x-date"), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return _validation("x-date", "Use the format Y-m-dTH:i:s.")
        try:
            ipaddress.ip_address(request.header("x-buyer-ip"))
        except ValueError:
            return _validation("x-buyer-ip", "This is not a valid IP address.")
        expected = x_token(SECRET_KEY, PUBLIC_KEY, request.header("x-buyer-ip"), request.header("x-date"))
        if not secrets.compare_digest(request.header("x-token"), expected):
            return unauthorized
        if request.header("x-id") != SERVICE_ID:
            return json_response(403, error_body("Access denied for this service."))
        if request.header("x-source") not in SOURCES:
            return json_response(403, error_body("Access denied for this source."))
        return None

    def _create(self, request: FakeRequest, buyer_id: str) -> FakeResponse:
        if not request.header("content-type").startswith("application/json"):
            return json_response(400, error_body("Malformed request syntax.", 3000))
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return json_response(400, error_body("Malformed request syntax.", 3000))
        if not isinstance(body, dict):
            return json_response(400, error_body("Malformed request syntax.", 3000))
        if not _UUID.match(buyer_id):
            return _validation("buyerId", "This is not a valid UUID.")
        buyer = self.buyers.get(buyer_id)
        if buyer is None:
            return _not_found()
        invalid = self._invalid_body(body, buyer)
        if invalid is not None:
            return invalid
        if self._next_errors:
            status, error = ERRORS[self._next_errors.pop(0)]
            return json_response(status, {**error, "traceId": secrets.token_hex(16)})
        with self._state_lock:
            order_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
            outcome = self._next_outcomes.pop(0) if self._next_outcomes else ("settled", None)
            self.orders[order_id] = {
                "id": order_id,
                "buyer": buyer_id,
                "body": body,
                "chargeId": str(uuid.uuid4()),
                "chargeStatus": "created",
                "outcome": outcome,
                "pending_polls": self.pending_polls,
                "unrecorded_polls": self.unrecorded_polls,
                "polls": 0,
                "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        return json_response(201, {"data": {"id": order_id}, "meta": {"type": "entity"}})

    def _invalid_body(self, body: dict[str, Any], buyer: Buyer) -> FakeResponse | None:
        """The documented checks of a oneclick body, in Billerix's error shapes."""
        if not isinstance(body.get("isMobile"), bool):
            return _validation("isMobile", "This value should be of type bool.")
        if body.get("chargeMethodId") != buyer.charge_method_id:
            return _validation("chargeMethodId", "Charge method not found.")
        currency = body.get("currency", "USD")
        if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            return _validation("currency", "This value is not a valid currency.")
        if not isinstance(body.get("metaData", {}), dict):
            return _validation("metaData", "This value should be of type object.")
        products = body.get("products")
        if not isinstance(products, list) or not products:
            return _validation("products", "This collection should contain 1 element or more.")
        subscriptions: list[str] = []
        for item in products:
            invalid = self._invalid_product(item, buyer, subscriptions)
            if invalid is not None:
                return invalid
        if len(subscriptions) != len(set(subscriptions)):
            return _validation("products", "Subscriptions must be unique: one action per subscription.")
        return None

    def _invalid_product(self, item: Any, buyer: Buyer, subscriptions: list[str]) -> FakeResponse | None:
        if not isinstance(item, dict) or item.get("actionName") not in ACTIONS:
            return _validation("actionName", "Choose purchase, renew, upgrade or downgrade.")
        if not isinstance(item.get("productCode"), str) or not item["productCode"]:
            return _validation("productCode", "This value should not be blank.")
        if item["productCode"] not in self.product_codes:
            return _not_found("Product not found by merchant and code")
        if item["actionName"] == "purchase":
            if "subscriptionId" in item:
                return _validation("subscriptionId", "A purchase takes no subscription.")
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                return _validation("quantity", "This value should be a positive integer.")
            return None
        if "quantity" in item:
            return _validation("quantity", "Only a purchase takes a quantity.")
        subscription = item.get("subscriptionId")
        if not isinstance(subscription, str) or not _UUID.match(subscription):
            return _validation("subscriptionId", "This is not a valid UUID.")
        if subscription not in buyer.subscriptions:
            return _not_found()
        subscriptions.append(subscription)
        return None

    def _result(self, order_id: str) -> FakeResponse:
        if not _ORDER_ID.match(order_id):
            return _validation("orderId", "This is not a valid order id.")
        with self._state_lock:
            order = self.orders.get(order_id)
            if order is None:
                return _not_found()
            if order["unrecorded_polls"]:
                order["unrecorded_polls"] -= 1
                return _not_found()
            order["polls"] += 1
            if order["polls"] <= order["pending_polls"]:
                if order["polls"] == 1:
                    return FakeResponse(204)  # the result is not ready yet
                order["chargeStatus"] = "authorized"
            else:
                order["chargeStatus"] = order["outcome"][0]
        error = None
        if order["chargeStatus"] == "declined":
            code = order["outcome"][1]
            error_uuid, message = CHARGE_FAILURES[code]
            error = {"uuid": error_uuid, "code": str(code), "message": message, "traceId": secrets.token_hex(8)}
        return json_response(
            200,
            {
                "data": {
                    "orderUuid": None,
                    "chargeId": order["chargeId"],
                    "chargeStatus": order["chargeStatus"],
                    "error": error,
                },
                "meta": {"type": "entity"},
            },
        )

    def _history(self, request: FakeRequest, buyer_id: str) -> FakeResponse:
        if buyer_id not in self.buyers:
            return _not_found()
        limit = int(request.query.get("limit", ["100"])[0])
        offset = int(request.query.get("offset", ["0"])[0])
        mine = [o for o in reversed(self.orders.values()) if o["buyer"] == buyer_id]
        if not mine:
            return json_response(404, error_body("History not found", 3000))
        entries = [
            {
                "orderId": order["id"],
                "orderUuid": None,
                "orderType": "oneclick",
                "chargeId": order["chargeId"],
                "status": order["chargeStatus"],
                "createdAt": order["createdAt"],
                "productCodes": [item["productCode"] for item in order["body"]["products"]],
            }
            for order in mine[offset : offset + limit]
        ]
        return json_response(200, {"data": entries, "meta": {"type": "entity"}})
