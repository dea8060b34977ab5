"""A fake of Digital River's Shopper API: shopper tokens, single-click purchase, order history.

It checks what Digital River checks: HTTP Basic credentials and the grant on ``/oauth20/token``,
a live bearer token on every shopper call, an empty purchase body, a known product, and a
shopper with a default address and payment option; errors use Digital River's documented body
``{"errors": {"error": [{"relation", "code", "subcode", "description"}]}}``.

Usage::

    with DigitalRiverFake() as fake:
        fake.add_shopper("customer-42")
        settings.ONECLICK["PROVIDERS"]["digitalriver"] = {"BACKEND": fake.backend, **fake.provider_options()}
        fake.fail_next_with("declined")     # the next purchase is declined
        fake.expire_tokens()                # the next shopper call answers 401 invalid_token
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

API_KEY = "fake-dr-api-key"
API_SECRET = "fake-dr-api-secret"
DEMO_SHOPPER = "demo-shopper"
_RELATION = "https://api.digitalriver.com/v1/shoppers/SubmitCartResource"
_PURCHASE = re.compile(r"^/v1/shoppers/me/products/(?P<product>[^/]+)/purchase$")
_ORDER = re.compile(r"^/v1/shoppers/me/orders/(?P<order>[^/]+)$")


def error_body(code: str, description: str, subcode: str = "", **extra: Any) -> dict[str, Any]:
    entry = {"relation": _RELATION, "code": code, "description": description, **extra}
    if subcode:
        entry["subcode"] = subcode
    return {"errors": {"error": [entry]}}


#: The documented errors a purchase can be told to meet: name -> (HTTP status, body).
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "declined": (
        409,
        error_body(
            "declined",
            "The transaction has been identified by Digital River as fraudulent.",
            "fraud_block",
            declinedMessage={"merchantDeclinedType": "Hard", "customerDeclinedType": "Hard", "code": "7011"},
        ),
    ),
    "apply-payment-failure": (409, error_body("apply-payment-failure", "The payment could not be applied.")),
    "apply-shopper-failure": (409, error_body("apply-shopper-failure", "The shopper could not be applied.")),
    "already-exists": (409, error_body("order-already-exists", "The order already exists.")),
    "invalid-request": (400, error_body("invalid-request", "The request is invalid.")),
    "forbidden": (403, error_body("forbidden", "You do not have access to this resource.")),
    "resource-not-found": (404, error_body("resource-not-found", "The product was not found.")),
    "method-not-allowed": (405, error_body("method-not-allowed", "The method is not allowed.")),
    "precondition-failed": (412, error_body("precondition-failed", "A precondition failed.")),
    "payload-too-large": (413, error_body("payload-too-large", "The payload is too large.")),
    "server-error": (500, error_body("server-error", "An internal error occurred.")),
}


@dataclass
class Shopper:
    reference: str
    has_address: bool = True
    has_payment: bool = True


class DigitalRiverFake(FakeProviderServer):
    backend = "django_oneclick.providers.digitalriver.DigitalRiverProvider"
    token_lifetime = 86400
    #: The ``orderState`` a new order starts in (e.g. "Charge Pending" for a payment that settles later).
    new_order_state = "Submitted"

    def __init__(self) -> None:
        super().__init__()
        self.shoppers: dict[str, Shopper] = {}
        #: product id -> (name, price, currency)
        self.products: dict[str, tuple[str, Decimal, str]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        #: access token -> (shopper reference, expiry as a timestamp)
        self.tokens: dict[str, tuple[str, float]] = {}
        self.issued: list[str] = []
        self._next_errors: list[str] = []
        self._next_order = 278666810000
        self._state_lock = threading.Lock()
        self.add_shopper(DEMO_SHOPPER)

    # -- set-up and control

    def add_shopper(self, reference: str, *, has_address: bool = True, has_payment: bool = True) -> Shopper:
        shopper = Shopper(reference, has_address, has_payment)
        self.shoppers[reference] = shopper
        return shopper

    def add_product(self, product_id: str, name: str, price: Decimal, currency: str = "USD") -> None:
        self.products[product_id] = (name, price, currency)

    def fail_next_with(self, error: str) -> None:
        """The next purchase meets one of :data:`ERRORS` (nothing is ordered)."""
        if error not in ERRORS:
            raise ValueError(f"Unknown error {error!r}; choose from {sorted(ERRORS)}.")
        self._next_errors.append(error)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def purchase_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "POST" and _PURCHASE.match(r.path)]

    def provider_options(self) -> dict[str, Any]:
        return {"BASE_URL": self.base_url, "API_KEY": API_KEY, "API_SECRET": API_SECRET}

    def demo_method(self) -> MethodDetails:
        return MethodDetails(reference=DEMO_SHOPPER, label="Digital River: default payment (fake)", brand="Visa")

    def demo_product_id(self, slug: str) -> str:
        """A product id for one of the shop's products, added to the fake's catalogue."""
        product_id = str(5321623900 + sum(slug.encode()))
        self.add_product(product_id, slug, Decimal("10.00"))
        return product_id

    # -- the API

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.path in ("/oauth20/token", "/oauth20/token.json") and request.method == "POST":
            return self._token(request)
        shopper = self._shopper_for(request)
        if isinstance(shopper, FakeResponse):
            return shopper
        purchase = _PURCHASE.match(request.path)
        if purchase and request.method == "POST":
            return self._purchase(request, shopper, purchase["product"])
        if request.path == "/v1/shoppers/me/orders" and request.method == "GET":
            return self._history(request, shopper)
        order = _ORDER.match(request.path)
        if order and request.method == "GET":
            found = self.orders.get(order["order"])
            if found is None or found["shopper"] != shopper.reference:
                return json_response(404, error_body("resource-not-found", "Order not found."))
            return json_response(200, {"order": self._public(found, expand=True)})
        return json_response(405, error_body("method-not-allowed", f"{request.method} {request.path}"))

    def _token(self, request: FakeRequest) -> FakeResponse:
        expected = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        if request.header("authorization") != expected:
            return json_response(401, error_body("invalid_client", "The provided client is incorrect."))
        if not request.header("content-type").startswith("application/x-www-form-urlencoded"):
            return json_response(400, error_body("invalid_request", "Send a form-encoded body."))
        form = request.form()
        if form.get("grant_type") != "client_credentials" or not form.get("externalReferenceId"):
            return json_response(401, error_body("invalid_request", "The required parameter is missing or empty."))
        reference = form["externalReferenceId"]
        if reference not in self.shoppers:
            return json_response(400, error_body("invalid-request", f"Unknown shopper {reference!r}."))
        token, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._state_lock:
            self.tokens[token] = (reference, datetime.now(UTC).timestamp() + self.token_lifetime)
            self.issued += [token, refresh]
        return json_response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_lifetime,
                "refresh_token": refresh,
            },
        )

    def _shopper_for(self, request: FakeRequest) -> Shopper | FakeResponse:
        scheme, _, token = request.header("authorization").partition(" ")
        grant = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant[1] < datetime.now(UTC).timestamp():
            return json_response(401, error_body("invalid_token", "Invalid token for the Shopper Session."))
        return self.shoppers[grant[0]]

    def _purchase(self, request: FakeRequest, shopper: Shopper, product_id: str) -> FakeResponse:
        if request.body:
            return json_response(400, error_body("invalid-request", "The request body must be empty."))
        if self._next_errors:
            status, body = ERRORS[self._next_errors.pop(0)]
            return json_response(status, body)
        if product_id not in self.products:
            return json_response(404, error_body("resource-not-found", f"Product {product_id} not found."))
        if not shopper.has_address:
            return json_response(409, error_body("apply-shopper-failure", "The shopper has no default address."))
        if not shopper.has_payment:
            return json_response(409, error_body("apply-payment-failure", "The shopper has no default payment option."))
        name, price, currency = self.products[product_id]
        with self._state_lock:
            self._next_order += 1
            order_id = str(self._next_order)
            self.orders[order_id] = {
                "id": order_id,
                "shopper": shopper.reference,
                "product": product_id,
                "name": name,
                "total": {"currency": currency, "value": float(price)},
                "submissionDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "orderState": self.new_order_state,
            }
        # As in Digital River's own sample, the Location names the order without /v1.
        return FakeResponse(201, None, {"Location": f"{self.base_url}/shoppers/me/orders/{order_id}"})

    def _history(self, request: FakeRequest, shopper: Shopper) -> FakeResponse:
        size = int(request.query.get("pageSize", ["10"])[0])
        page = int(request.query.get("pageNumber", ["1"])[0])
        mine = [o for o in reversed(self.orders.values()) if o["shopper"] == shopper.reference]
        expand = "all" in request.query.get("expand", [""])[0].split(",")
        pages = max(1, -(-len(mine) // size))
        return json_response(
            200,
            {
                "orders": {
                    "uri": f"{self.base_url}/v1/shoppers/me/orders",
                    "order": [self._public(o, expand) for o in mine[(page - 1) * size : page * size]],
                    "totalResults": str(len(mine)),
                    "totalResultPages": str(pages),
                }
            },
        )

    def _public(self, order: dict[str, Any], expand: bool) -> dict[str, Any]:
        uri = f"{self.base_url}/v1/shoppers/me/orders/{order['id']}"
        public: dict[str, Any] = {
            "uri": uri,
            "id": order["id"],
            "submissionDate": order["submissionDate"],
            "orderState": order["orderState"],
            "pricing": {"total": order["total"]},
        }
        if expand:
            public["lineItems"] = {
                "lineItem": [
                    {
                        "uri": f"{uri}/line-items/1",
                        "quantity": 1,
                        "product": {"id": order["product"], "name": order["name"]},
                    }
                ]
            }
        return public
