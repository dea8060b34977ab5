"""A fake of Digital River's Shopper API: shopper tokens, single-click purchase, order history.

It checks what Digital River checks, with its own code (it imports nothing from the provider
module it tests): HTTP Basic credentials and the grant on ``/oauth20/token``; on every shopper
call a bearer token this fake issued, unexpired, whose shopper the call then acts for; an empty
purchase body, a known product, and a shopper with a default address and payment option. Errors
use Digital River's documented body ``{"errors": {"error": [{"relation", "code", "subcode",
"description"}]}}``.

The purchase answers as documented: ``201 Created``, an empty body, and a ``Location`` naming
the order as in Digital River's sample, ``{base_url}/shoppers/me/orders/{id}`` (no ``/v1``).

Usage::

    with DigitalRiverFake() as fake:
        fake.add_shopper("customer-42")
        fake.add_product("5321623900", "A good book", Decimal("19.99"))
        fake.add_past_order("customer-42", "5321623900", datetime(2025, 1, 2, tzinfo=UTC), order_id="111")
        settings.ONECLICK["PROVIDERS"]["digitalriver"] = {"BACKEND": fake.backend, **fake.provider_options()}
        fake.fail_next_with("declined")                # the next purchase is declined
        fake.redirect_next_purchase(acted=True)        # the next purchase is placed, then answered 302
        fake.expire_tokens()                           # the next shopper call answers 401 invalid_token
"""

from __future__ import annotations

import base64
import binascii
import hmac
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
_TOKEN_PATHS = ("/oauth20/token", "/oauth20/token.json")
_PURCHASE = re.compile(r"^/v1/shoppers/me/products/(?P<product>[^/]+)/purchase$")
_HISTORY = "/v1/shoppers/me/orders"
_ORDER = re.compile(r"^/v1/shoppers/me/orders/(?P<order>[^/]+)$")
_MAINTENANCE = "/maintenance"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"
#: Invented: the document is silent on a maintenance page; this is what a redirect leads to.
MAINTENANCE_PAGE = b"<html><body><h1>Down for maintenance</h1><p>Please come back later.</p></body></html>"


def error_body(code: str, description: str, subcode: str = "", **extra: Any) -> dict[str, Any]:
    entry = {"relation": _RELATION, "code": code, "description": description, **extra}
    if subcode:
        entry["subcode"] = subcode
    return {"errors": {"error": [entry]}}


def _error(status: int, code: str, description: str) -> FakeResponse:
    return json_response(status, error_body(code, description))


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
        #: Unexpected answers for the next purchases: (status, placed first?, Location in a 200?)
        self._next_answers: list[tuple[int, bool, bool]] = []
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

    def add_past_order(
        self,
        shopper: str,
        product_id: str,
        submitted_at: datetime,
        *,
        order_id: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """An order already in ``shopper``'s history, placed at ``submitted_at`` (an aware
        datetime) for a product of the catalogue, e.g. the same product bought last month."""
        if shopper not in self.shoppers or product_id not in self.products:
            raise ValueError("Add the shopper and the product first.")
        if submitted_at.tzinfo is None:
            raise ValueError("submitted_at must be an aware datetime.")
        with self._state_lock:
            if order_id is not None and order_id in self.orders:
                raise ValueError(f"Order {order_id} exists already.")
            return self._place(shopper, product_id, submitted_at, order_id, state)

    def fail_next_with(self, error: str) -> None:
        """The next purchase meets one of :data:`ERRORS` (nothing is ordered)."""
        if error not in ERRORS:
            raise ValueError(f"Unknown error {error!r}; choose from {sorted(ERRORS)}.")
        self._next_errors.append(error)

    def redirect_next_purchase(self, *, acted: bool) -> None:
        """The next purchase is answered ``302 Found`` to ``{base_url}/maintenance``, after it
        was carried out as usual (``acted=True``: an order may exist) or before (nothing is
        ordered). Invented: the document shows only the 201; this is a test double for an
        unexpected answer, e.g. a gateway redirecting to a maintenance page."""
        self._next_answers.append((302, acted, False))

    def answer_next_purchase_with_200(self, *, location: bool = True) -> None:
        """The next purchase is carried out as usual, and a placed order is answered ``200 OK``
        with the order as a JSON body (and, if ``location``, the usual Location) instead of the
        documented empty ``201``. Invented: a test double for an unexpected answer."""
        self._next_answers.append((200, True, location))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def purchase_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "POST" and _PURCHASE.match(r.path)]

    def history(self, shopper: str) -> list[dict[str, Any]]:
        """``shopper``'s orders as the history lists them, newest first."""
        mine = [order for order in reversed(self.orders.values()) if order["shopper"] == shopper]
        # Invented: the document is silent on the order of the history; newest first.
        return sorted(mine, key=lambda order: order["submissionDate"], reverse=True)

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
        if request.path in _TOKEN_PATHS and request.method == "POST":
            return self._token(request)
        if request.path == _MAINTENANCE and request.method == "GET":
            return FakeResponse(200, MAINTENANCE_PAGE, {"Content-Type": "text/html"})
        shopper = self._shopper_for(request)
        if isinstance(shopper, FakeResponse):
            return shopper
        purchase = _PURCHASE.match(request.path)
        if purchase and request.method == "POST":
            return self._purchase(request, shopper, purchase["product"])
        if request.path == _HISTORY and request.method == "GET":
            return self._history(request, shopper)
        order = _ORDER.match(request.path)
        if order and request.method == "GET":
            found = self.orders.get(order["order"])
            if found is None or found["shopper"] != shopper.reference:
                return _error(404, "resource-not-found", "Order not found.")
            return json_response(200, {"order": self._public(found, expand=True)})
        # Invented: the document is silent on other paths and methods.
        return _error(405, "method-not-allowed", f"{request.method} {request.path}")

    def _token(self, request: FakeRequest) -> FakeResponse:
        """``client_credentials`` with the shopper's ``externalReferenceId``, HTTP Basic with
        the API key and secret. Invented: the document is silent on these errors' bodies; the
        other documented grants (password, refresh_token) are not served by this fake."""
        if not self._client_authenticated(request.header("authorization")):
            return _error(401, "invalid_client", "The provided client is incorrect.")
        if not request.header("content-type").startswith("application/x-www-form-urlencoded"):
            return _error(400, "invalid_request", "Send a form-encoded body.")
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "Only client_credentials is served by this fake.")
        reference = form.get("externalReferenceId", "")
        if not reference:
            return _error(400, "invalid_request", "The required parameter externalReferenceId is missing.")
        if reference not in self.shoppers:
            return _error(400, "invalid-request", f"Unknown shopper {reference!r}.")
        token, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._state_lock:
            self.tokens[token] = (reference, datetime.now(UTC).timestamp() + self.token_lifetime)
            self.issued += [token, refresh]
        body = {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        return json_response(200, {**body, "refresh_token": refresh})

    @staticmethod
    def _client_authenticated(authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            key, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        key_ok = hmac.compare_digest(key.encode(), API_KEY.encode())
        return bool(colon) and key_ok and hmac.compare_digest(secret.encode(), API_SECRET.encode())

    def _shopper_for(self, request: FakeRequest) -> Shopper | FakeResponse:
        """The shopper of the call's bearer token: one this fake issued and that is still valid."""
        scheme, _, token = request.header("authorization").partition(" ")
        grant = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        shopper = self.shoppers.get(grant[0]) if grant is not None else None
        if grant is None or shopper is None or grant[1] < datetime.now(UTC).timestamp():
            return _error(401, "invalid_token", "Invalid token for the Shopper Session.")
        return shopper

    def _purchase(self, request: FakeRequest, shopper: Shopper, product_id: str) -> FakeResponse:
        status, acted, location = self._next_answers.pop(0) if self._next_answers else (201, True, True)
        if not acted:
            return self._redirect()
        answer, order = self._carry_out(request, shopper, product_id)
        if status == 302:
            return self._redirect()
        if status == 200 and order is not None:
            headers = {"Location": answer.headers["Location"]} if location else {}
            return json_response(200, {"order": self._public(order, expand=True)}, **headers)
        return answer

    def _carry_out(
        self, request: FakeRequest, shopper: Shopper, product_id: str
    ) -> tuple[FakeResponse, dict[str, Any] | None]:
        """The documented purchase: its answer, and the order it placed if any."""
        if request.body:
            return _error(400, "invalid-request", "The request body must be empty."), None
        if self._next_errors:
            status, body = ERRORS[self._next_errors.pop(0)]
            return json_response(status, body), None
        if product_id not in self.products:
            return _error(404, "resource-not-found", f"Product {product_id} not found."), None
        if not shopper.has_address:
            return _error(409, "apply-shopper-failure", "The shopper has no default address."), None
        if not shopper.has_payment:
            return _error(409, "apply-payment-failure", "The shopper has no default payment option."), None
        with self._state_lock:
            order = self._place(shopper.reference, product_id, datetime.now(UTC), None, None)
        # As in Digital River's own sample, the Location names the order without /v1.
        location = f"{self.base_url}/shoppers/me/orders/{order['id']}"
        return FakeResponse(201, None, {"Location": location}), order

    def _redirect(self) -> FakeResponse:
        return FakeResponse(302, None, {"Location": f"{self.base_url}{_MAINTENANCE}"})

    def _place(
        self, shopper: str, product_id: str, submitted_at: datetime, order_id: str | None, state: str | None
    ) -> dict[str, Any]:
        """Record an order (the caller holds the state lock)."""
        if order_id is None:
            self._next_order += 1
            order_id = str(self._next_order)
        name, price, currency = self.products[product_id]
        order = {
            "id": order_id,
            "shopper": shopper,
            "product": product_id,
            "name": name,
            "total": {"currency": currency, "value": float(price)},
            "submissionDate": submitted_at.astimezone(UTC).strftime(_DATE_FORMAT),
            "orderState": state or self.new_order_state,
        }
        self.orders[order_id] = order
        return order

    def _history(self, request: FakeRequest, shopper: Shopper) -> FakeResponse:
        try:
            # Invented: the document is silent on the default and largest page size.
            size = int(request.query.get("pageSize", ["10"])[0])
            page = int(request.query.get("pageNumber", ["1"])[0])
        except ValueError:
            return _error(400, "invalid-request", "pageSize and pageNumber must be integers.")
        if not (1 <= size <= 1000 and page >= 1):
            return _error(400, "invalid-request", "pageSize must be 1..1000 and pageNumber 1 or more.")
        mine = self.history(shopper.reference)
        # Invented: the document is silent on the history's shape without expand=all; the
        # line items (with the product ids) are only listed with it.
        expand = "all" in request.query.get("expand", [""])[0].split(",")
        orders = {
            "uri": f"{self.base_url}{_HISTORY}",
            "order": [self._public(o, expand) for o in mine[(page - 1) * size : page * size]],
            "totalResults": len(mine),
            "totalResultPages": -(-len(mine) // size),
        }
        return json_response(200, {"orders": orders})

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
            product = {"id": order["product"], "name": order["name"]}
            public["lineItems"] = {"lineItem": [{"uri": f"{uri}/line-items/1", "quantity": 1, "product": product}]}
        return public
