"""A fake of Billerix's Pay service: ``POST /api/v3/buyers/{buyerId}/oneclick`` (the provider
document) and ``GET /api/v3/orders/{orderId}/result`` (Billerix's public docs; the v2 polling page
gives its fields). Nothing else: Billerix documents no lookup of an order by the merchant's
reference; an operator finds it by its ``metaData``, kept on each order record here (see
:meth:`BillerixFake.orders_with_metadata`).

It checks what Billerix checks, with its own code (nothing is imported from the provider module
it tests): the six headers, ``x-token`` recomputed by :func:`sign`, ``x-date`` and ``x-buyer-ip``,
``x-id`` and ``x-source``; then the body per the document. Errors use Billerix's documented body
``{"uuid", "message", "code", "traceId"}`` (422 adds ``errors[{field, title}]``).

A new order's charge settles on the first result poll, unless ``pending_polls`` polls answer
"not ready" first (204, then ``authorized``), or ``decline_next(code)`` makes it fail.

Usage::

    with BillerixFake() as fake:
        buyer = fake.add_buyer()
        fake.add_product("BOOK")
        settings.ONECLICK["PROVIDERS"]["billerix"] = {"BACKEND": fake.backend, **fake.provider_options()}
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django_oneclick.providers.base import MethodDetails
from django_oneclick.testing.server import FakeProviderServer, FakeRequest, FakeResponse, json_response

PUBLIC_KEY = "6cd0070d-70d2-42b2-9223-0b1f828a808d"
SECRET_KEY = "fake-billerix-secret-key"
SERVICE_ID = "pay-front-oneclick"
#: Documented x-source values ("pass the value shop"; the reference's example is "pay-front").
SOURCES = frozenset({"shop", "cp", "staff", "directlink", "pay-front"})
ACTIONS = frozenset({"purchase", "renew", "upgrade", "downgrade"})
REQUIRED_HEADERS = ("x-public-key", "x-buyer-ip", "x-date", "x-token", "x-source", "x-id")
BODY_FIELDS = frozenset({"isMobile", "chargeMethodId", "currency", "metaData", "products"})
#: The fields of a products[] entry per action (rule 2: purchase takes another set).
PURCHASE_FIELDS = frozenset({"actionName", "productCode", "couponCode", "discount", "quantity", "autoChargeStatus"})
SUBSCRIPTION_FIELDS = PURCHASE_FIELDS - {"quantity"} | {"subscriptionId"}
UNAUTHORIZED = "Unauthorized service use is forbidden"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_X_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_ONECLICK = re.compile(r"^/api/v3/buyers/(?P<buyer>[^/]+)/oneclick$")
_RESULT = re.compile(r"^/api/v3/orders/(?P<order>[^/]+)/result$")
#: The polling page's orderId pattern: an 8-character id or a UUID.
_ORDER_ID = re.compile(
    r"^([A-Za-z0-9]{8}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12})$"
)

#: Charge failures a result can report: code -> (error uuid, message). The uuids of 2104 and
#: 2105 are Billerix's; Invented: the document is silent on the uuids of 2101 and 2102.
CHARGE_FAILURES: dict[int, tuple[str, str]] = {
    2101: ("0d4b5ad5-8a6f-4cf0-9a84-0f0c1d7f2101", "Charge failed"),
    2102: ("b2f3c1de-4f43-4b3c-8f0e-5a1c8d0e2102", "Invalid card data"),
    2104: ("2274eded-bb92-4813-94c1-ad323a69b064", "Insufficient funds"),
    2105: ("45beacf7-54f7-4706-836c-0019c0c0f6d2", "General decline / do not honour"),
}


def sign(secret_key: str, public_key: str, buyer_ip: str, x_date: str) -> str:
    """The ``x-token`` Billerix expects, written here from its document (never imported from
    the client, so a signing bug cannot pass both sides): lowercase hex of HMAC-SHA256 keyed
    with the secret key over secretKey + publicKey + buyerIp + xDate."""
    signed = "".join((secret_key, public_key, buyer_ip, x_date))
    return hmac.new(secret_key.encode("utf-8"), signed.encode("utf-8"), hashlib.sha256).hexdigest()


def _valid_x_date(value: str) -> bool:
    """``Y-m-dTH:i:s`` (PHP's notation: zero-padded, no fraction, no zone), a real date."""
    try:
        return bool(_X_DATE.match(value)) and datetime.strptime(value, "%Y-%m-%dT%H:%M:%S") is not None
    except ValueError:
        return False


def error_body(message: str, code: int = 0, error_uuid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"uuid": error_uuid, "message": message, "code": code, "traceId": secrets.token_hex(16), **extra}


class Refused(Exception):
    """A request Billerix refuses, with its answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body["message"])
        self.response = json_response(status, body)


def _invalid(field_name: str, title: str) -> Refused:
    return Refused(422, error_body("Validation error", errors=[{"field": field_name, "title": title}]))


def _not_found(message: str = "Entity not found") -> Refused:
    return Refused(404, error_body(message))


def _malformed() -> Refused:
    return Refused(400, error_body("Malformed request syntax.", 3000))


#: The documented errors the create call can be told to answer: name -> (HTTP status, body).
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "product_not_found": (404, error_body("Product not found by merchant and code")),
    "validation": (422, error_body("Validation error", errors=[{"field": "coupon", "title": "Coupon not found."}])),
    # Invented: the document gives this uuid only in part ("8d911b21-...").
    "race_condition": (400, error_body("Race condition", 2107, "8d911b21-59a3-4c43-a1a7-4b5e3c0e2107")),
    "unauthorized": (500, error_body(UNAUTHORIZED)),
    "server_error": (500, error_body("Short exception description.")),
    # Invented: the document is silent on the status of a charge failure answered synchronously.
    **{f"charge_{code}": (400, error_body(text, code, uid)) for code, (uid, text) in CHARGE_FAILURES.items()},
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
        #: public key -> secret key ("there can be several for one merchant").
        self.merchant_keys: dict[str, str] = {PUBLIC_KEY: SECRET_KEY}
        #: x-id values the access configuration allows.
        self.service_ids: set[str] = {SERVICE_ID}
        self.sources: set[str] = set(SOURCES)
        self.buyers: dict[str, Buyer] = {}
        self.product_codes: set[str] = set()
        self.coupons: set[str] = set()
        self.orders: dict[str, dict[str, Any]] = {}
        #: How many result polls of a new order answer "not ready yet" before its outcome.
        self.pending_polls = 0
        #: Invented: the document is silent on a result not recorded yet; this many result polls
        #: of a new order answer 404 "Entity not found" first.
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

    def add_coupon(self, code: str) -> None:
        self.coupons.add(code)

    def add_key(self, public_key: str, secret_key: str) -> None:
        """Another key pair of the merchant (e.g. the published test vector's)."""
        self.merchant_keys[public_key] = secret_key

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

    def orders_with_metadata(self, **items: Any) -> list[dict[str, Any]]:
        """The orders created with all of ``items`` in their ``metaData`` (what an operator
        searches Billerix for), e.g. ``orders_with_metadata(oneclickOrderId="42")``."""
        return [order for order in self.orders.values() if items.items() <= order["metaData"].items()]

    def provider_options(self) -> dict[str, Any]:
        return {"BASE_URL": self.base_url, "PUBLIC_KEY": PUBLIC_KEY, "SECRET_KEY": SECRET_KEY, "SERVICE_ID": SERVICE_ID}

    def demo_method(self) -> MethodDetails:
        return self.method_for(self.demo_buyer)

    @staticmethod
    def method_for(buyer: Buyer) -> MethodDetails:
        label = "Billerix: saved card (fake)"
        return MethodDetails(buyer.charge_method_id, label, brand="Visa", data={"buyer_id": buyer.buyer_id})

    def demo_product_id(self, slug: str) -> str:
        code = re.sub(r"[^A-Z0-9]", "", slug.upper())[:12]
        self.add_product(code)
        return code

    # -- the API

    def handle(self, request: FakeRequest) -> FakeResponse:
        try:
            self._authenticate(request)
            route = _ONECLICK.match(request.path)
            if route:
                self._allow(request, "POST")
                return self._create(request, route["buyer"])
            route = _RESULT.match(request.path)
            if route:
                self._allow(request, "GET")
                return self._result(route["order"])
            # Invented: the document is silent on unknown paths; Billerix's 404 body is used.
            raise _not_found()
        except Refused as refused:
            return refused.response

    @staticmethod
    def _allow(request: FakeRequest, method: str) -> None:
        if request.method != method:
            # Invented: the document is silent on a wrong method.
            raise Refused(405, error_body("Method not allowed"))

    def _authenticate(self, request: FakeRequest) -> None:
        """The documented server-side checks: the merchant by its public key, the token
        recomputed and compared, then the service id and the source."""
        for name in REQUIRED_HEADERS:
            if not request.header(name).strip():
                # Invented: the document is silent on the status of a missing header.
                raise _invalid(name, "This value should not be blank.")
        x_date, buyer_ip = request.header("x-date"), request.header("x-buyer-ip")
        if not _valid_x_date(x_date):
            # Invented: the document is silent on the status of a malformed x-date, and on how
            # far x-date may be from the server's clock (no window is enforced here).
            raise _invalid("x-date", "Use the format Y-m-dTH:i:s.")
        try:
            ipaddress.ip_address(buyer_ip)
        except ValueError:
            # Invented: the document is silent on the status of an invalid x-buyer-ip.
            raise _invalid("x-buyer-ip", "This is not a valid IP address.") from None
        public_key = request.header("x-public-key")
        secret_key = self.merchant_keys.get(public_key)
        # Billerix answers a bad key or token with this body and 500 (401 announced).
        if secret_key is None:
            raise Refused(500, error_body(UNAUTHORIZED))
        expected = sign(secret_key, public_key, buyer_ip, x_date)
        if not hmac.compare_digest(request.header("x-token").encode(), expected.encode()):
            raise Refused(500, error_body(UNAUTHORIZED))
        # Invented: the document is silent on the messages of these two refusals.
        if request.header("x-id") not in self.service_ids:
            raise Refused(403, error_body("Access denied for this service."))
        if request.header("x-source") not in self.sources:
            # The document allows 400 or 403 here; the fake answers 403.
            raise Refused(403, error_body("Access denied for this source."))

    def _create(self, request: FakeRequest, buyer_id: str) -> FakeResponse:
        try:
            body = json.loads(request.body) if request.header("content-type").startswith("application/json") else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _malformed()
        if not _UUID.match(buyer_id):
            # Invented: the document is silent on the status for a buyerId off its pattern.
            raise _invalid("buyerId", "This is not a valid UUID.")
        buyer = self.buyers.get(buyer_id)
        if buyer is None:
            raise _not_found()
        self._check_body(body, buyer)
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
                "metaData": dict(body.get("metaData") or {}),
                "chargeId": str(uuid.uuid4()),
                "chargeStatus": "created",
                "outcome": outcome,
                "pending_polls": self.pending_polls,
                "unrecorded_polls": self.unrecorded_polls,
                "polls": 0,
                "createdAt": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        return json_response(201, {"data": {"id": order_id}, "meta": {"type": "entity"}})

    def _check_body(self, body: dict[str, Any], buyer: Buyer) -> None:
        """The documented fields of a oneclick body and the products rules."""
        unknown = sorted(set(body) - BODY_FIELDS)
        if unknown:
            # Invented: the document is silent on unknown fields; refused, so a misspelt one shows.
            raise _invalid(unknown[0], "This field was not expected.")
        if not isinstance(body.get("isMobile"), bool):
            raise _invalid("isMobile", "This value should be of type bool.")
        charge_method = body.get("chargeMethodId")
        if not isinstance(charge_method, str) or not _UUID.match(charge_method):
            raise _invalid("chargeMethodId", "This is not a valid UUID.")
        if charge_method != buyer.charge_method_id:
            # Invented: the document is silent on another buyer's method; "entity not found" (404).
            raise _not_found()
        # Optional, default USD; ISO 4217 alphabetic: three capital letters.
        currency = body.get("currency", "USD")
        if not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise _invalid("currency", "This value is not a valid currency.")
        if "metaData" in body and not isinstance(body["metaData"], dict):
            raise _invalid("metaData", "This value should be of type object.")
        products = body.get("products")
        if not isinstance(products, list):
            raise _invalid("products", "This value should be of type array.")
        if not products:
            # Invented: the document is silent on an empty array; an order of nothing is refused.
            raise _invalid("products", "This collection should contain 1 element or more.")
        subscriptions = [self._check_product(item, buyer) for item in products]
        actions = [s for s in subscriptions if s is not None]
        if len(actions) != len(set(actions)):
            # Rule 1. Invented: the document is silent on the status when it is broken.
            raise _invalid("products", "Subscriptions must be unique: one action per subscription.")

    def _check_product(self, item: Any, buyer: Buyer) -> str | None:
        """Check one products[] entry; its subscription id for renew/upgrade/downgrade."""
        if not isinstance(item, dict) or item.get("actionName") not in ACTIONS:
            raise _invalid("actionName", "Choose purchase, renew, upgrade or downgrade.")
        purchase = item["actionName"] == "purchase"
        unknown = sorted(set(item) - (PURCHASE_FIELDS if purchase else SUBSCRIPTION_FIELDS))
        if unknown:
            # Rule 2 (the sets differ): quantity is for a purchase only (v2 reference), a
            # subscriptionId for the other actions. Invented: the document is silent on other
            # unknown fields; refused.
            raise _invalid(unknown[0], f"This field is not expected for {item['actionName']}.")
        if not isinstance(item.get("productCode"), str) or not item["productCode"]:
            raise _invalid("productCode", "This value should not be blank.")
        if item["productCode"] not in self.product_codes:
            raise _not_found("Product not found by merchant and code")
        self._check_extras(item)
        if purchase:
            return None
        subscription = item.get("subscriptionId")
        if not isinstance(subscription, str) or not _UUID.match(subscription):
            raise _invalid("subscriptionId", "This is not a valid UUID.")
        if subscription not in buyer.subscriptions:
            raise _not_found()
        return subscription

    def _check_extras(self, item: dict[str, Any]) -> None:
        """The optional fields of a products[] entry."""
        if "couponCode" in item:
            if not isinstance(item["couponCode"], str):
                raise _invalid("couponCode", "This value should be of type string.")
            if item["couponCode"] not in self.coupons:
                raise _invalid("coupon", "Coupon not found.")
        discount = item.get("discount")
        # Nullable; the reference types it a number, its samples send a string ("30.24"): both pass.
        if discount is not None and not (
            isinstance(discount, int | float | str)
            and not isinstance(discount, bool)
            and re.fullmatch(r"\d+(\.\d+)?", str(discount))
            and Decimal("0.01") <= Decimal(str(discount)) <= Decimal("99.99")
        ):
            raise _invalid("discount", "This value should be between 0.01 and 99.99.")
        if "autoChargeStatus" in item and not isinstance(item["autoChargeStatus"], bool):
            raise _invalid("autoChargeStatus", "This value should be of type bool.")
        quantity = item.get("quantity", 1)
        # Invented: the document is silent on the bounds of quantity (v2 said 1..8); < 1 is refused.
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise _invalid("quantity", "This value should be a positive integer.")

    def _result(self, order_id: str) -> FakeResponse:
        if not _ORDER_ID.match(order_id):
            raise _invalid("orderId", "This is not a valid order id.")
        with self._state_lock:
            order = self.orders.get(order_id)
            if order is None:
                raise _not_found()
            if order["unrecorded_polls"]:
                order["unrecorded_polls"] -= 1
                raise _not_found()
            order["polls"] += 1
            if order["polls"] <= order["pending_polls"]:
                if order["polls"] == 1:
                    # Invented: the public docs say the v3 result "may" answer 204 when not ready.
                    return FakeResponse(204)
                order["chargeStatus"] = "authorized"
            else:
                order["chargeStatus"] = order["outcome"][0]
            status, outcome_code = order["chargeStatus"], order["outcome"][1]
        error = None
        if status == "declined" and outcome_code is not None:
            error_uuid, message = CHARGE_FAILURES[outcome_code]
            error = {"uuid": error_uuid, "code": str(outcome_code), "message": message, "traceId": secrets.token_hex(8)}
        # The v2 polling page's fields; Invented: v3's extra fields (provider, paymentMethodType,
        # interaction, ...) are left out, the document being silent on their values here.
        data = {"orderUuid": None, "chargeId": order["chargeId"], "chargeStatus": status, "error": error}
        return json_response(200, {"data": data, "meta": {"type": "entity"}})
