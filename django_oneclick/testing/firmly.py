"""A fake Firmly on 127.0.0.1: browser sessions, the rotating public key, and place-order.

It holds a real RSA key pair and really decrypts the card JWE, so a card the browser form or
``encrypt_card`` produced is checked the way Firmly checks it: a retired or unknown ``kid``, an
algorithm other than RSA-OAEP-256 + A256GCM, a card JSON that is malformed, fails the Luhn
check or has expired are all ``InvalidCard``. It answers plainly or, with
``Accept: text/event-stream`` (or ``?sse=true``), as a stream of ``order_processing``,
``payment_processing``, then ``order_completed`` or ``error``, with ``stream_delay`` between events.

The documented errors come from the input, as at Firmly: a variant missing from ``stock`` is
InvalidVariant, a quantity above it InsufficientStock, a postal code in
``undeliverable_postal_codes`` InvalidAddress, a card number in ``declined_cards`` PaymentFailed.
"""

from __future__ import annotations

import calendar
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from jwcrypto import jwe, jwk
from jwcrypto.common import JWException

from django_oneclick.providers.base import MethodDetails
from django_oneclick.providers.firmly.jwe import CARD_FIELDS, JWE_ALG, JWE_ENC, encrypt_card
from django_oneclick.providers.firmly.provider import KEY_PATH
from django_oneclick.redaction import _luhn_valid
from django_oneclick.testing.server import (
    FakeProviderServer,
    FakeRequest,
    FakeResponse,
    json_response,
    sse_events,
)

TEST_CARD = {
    "number": "4242424242424242",
    "name": "Ada Lovelace",
    "verification_value": "123",
    "month": "12",
    "year": str(date.today().year + 3),
}
ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address1",
    "city",
    "state_or_province",
    "country",
    "postal_code",
)
ERROR_DESCRIPTIONS = {
    "InvalidAddress": "Shipping address could not be validated",
    "InsufficientStock": "Product not available in the requested quantity",
    "PaymentFailed": "Card declined",
    "InvalidVariant": "Product SKU not found",
    "InvalidCard": "Card encryption or validation failed",
}


class CardRefused(Exception):
    """The JWE cannot be used: Firmly answers InvalidCard."""


class FirmlyFake(FakeProviderServer):
    """Serves both Firmly hosts (payment and browser-session) from one port."""

    backend = "django_oneclick.providers.firmly.FirmlyProvider"
    app_id = "fake-firmly-app-id"
    domain = "staging.luma.gift"

    def __init__(self, *, stream_delay: float = 0.05, token_lifetime: int = 3600) -> None:
        super().__init__()
        self.stream_delay = stream_delay
        self.token_lifetime = token_lifetime
        #: variant id -> units in stock; None sells any variant (the demo).
        self.stock: dict[str, int] | None = None
        self.undeliverable_postal_codes: set[str] = set()
        self.declined_cards = {"4000000000000002"}
        #: End the stream right after this event, as a dropped connection would.
        self.cut_stream_after = ""
        #: Place (and charge) the next orders, then stream this undocumented error event
        #: after ``payment_processing`` instead of ``order_completed``.
        self.error_after_payment: dict[str, Any] | None = None
        #: Called with each event's name just before it is streamed (for tests that watch
        #: the order while Firmly "works").
        self.before_event: Callable[[str], None] | None = None
        self.orders: list[dict[str, Any]] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self._state = threading.Lock()
        self._keys: dict[str, jwk.JWK] = {}
        self.current_kid = ""
        self.rotate_key()

    # -- control

    def rotate_key(self) -> str:
        """A new key pair becomes current; cards encrypted for older keys become InvalidCard."""
        kid = f"fake-{uuid.uuid4().hex[:8]}"
        with self._state:
            self._keys = {kid: jwk.JWK.generate(kty="RSA", size=2048, kid=kid)}
            self.current_kid = kid
        return kid

    def public_jwk(self) -> dict[str, Any]:
        """What ``GET /api/v1/payment/key`` answers: the public key with its kid, no ``alg``."""
        public = json.loads(self._keys[self.current_kid].export_public())
        return {
            "kid": self.current_kid,
            "kty": "RSA",
            "n": public["n"],
            "e": public["e"],
            "use": "enc",
        }

    def revoke_tokens(self) -> None:
        """Access tokens stop working before their expiry (place-order answers 401)."""
        with self._state:
            for session in self.sessions.values():
                session["revoked"] = True

    def decrypt_card(self, token: str) -> dict[str, str]:
        """The card inside a JWE, checked as Firmly checks it; raises :class:`CardRefused`."""
        if not isinstance(token, str) or token.count(".") != 4:
            raise CardRefused("encrypted_card is not a compact JWE")
        probe = jwe.JWE()
        try:
            probe.deserialize(token)
        except (JWException, ValueError) as exc:
            raise CardRefused(f"unreadable JWE: {exc}") from exc
        header = probe.jose_header
        if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
            raise CardRefused(f"algorithm {header.get('alg')}/{header.get('enc')} is not accepted")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise CardRefused(f"unknown or retired key id {header.get('kid')!r}")
        try:
            token_object = jwe.JWE(algs=[JWE_ALG, JWE_ENC])
            token_object.deserialize(token, key=key)
            card = json.loads(token_object.payload)
        except (JWException, ValueError) as exc:
            raise CardRefused(f"decryption failed: {exc}") from exc
        return self._checked_card(card)

    @staticmethod
    def _checked_card(card: Any) -> dict[str, str]:
        if not isinstance(card, dict) or any(not isinstance(card.get(f), str) for f in CARD_FIELDS):
            raise CardRefused(f"the card needs the string fields {', '.join(CARD_FIELDS)}")
        number, month, year = card["number"], card["month"], card["year"]
        if not (number.isdigit() and 13 <= len(number) <= 19 and _luhn_valid(number)):
            raise CardRefused("card number is not valid")
        if not (len(month) == 2 and month.isdigit() and 1 <= int(month) <= 12):
            raise CardRefused("month must be two digits")
        if not (len(year) == 4 and year.isdigit()):
            raise CardRefused("year must be four digits")
        if (int(year), int(month)) < (date.today().year, date.today().month):
            raise CardRefused("card has expired")
        cvv = card["verification_value"]
        if not (cvv.isdigit() and len(cvv) in (3, 4)):
            raise CardRefused("verification_value must be 3 or 4 digits")
        return card

    # -- FakeProviderServer

    def provider_options(self) -> dict[str, Any]:
        return {
            "BASE_URL": self.base_url,
            "AUTH_URL": self.base_url,
            "APP_ID": self.app_id,
            "DOMAIN": self.domain,
            "STREAM": True,
        }

    def demo_method(self) -> MethodDetails:
        """The test Visa, encrypted for the fake's current key (as the card form would)."""
        year, month = int(TEST_CARD["year"]), int(TEST_CARD["month"])
        return MethodDetails(
            reference=encrypt_card(TEST_CARD, self.public_jwk()),
            label="Visa •••• 4242",
            brand="Visa",
            last4="4242",
            expires=date(year, month, calendar.monthrange(year, month)[1]),
            data={"kid": self.current_kid},
        )

    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.method == "GET" and request.path == KEY_PATH:
            return self._key(request)
        if request.method == "POST" and request.path == "/api/v1/browser-session":
            return self._browser_session(request)
        prefix, suffix = "/api/v1/payment/domains/", "/place-order"
        if request.method == "POST" and request.path.startswith(prefix) and request.path.endswith(suffix):
            return self._place_order(request, request.path[len(prefix) : -len(suffix)])
        return json_response(404, {"error": "NotFound", "message": f"No route {request.path}"})

    # -- endpoints

    def _key(self, request: FakeRequest) -> FakeResponse:
        fmt = request.query.get("format", ["JWK"])[0]
        if fmt != "JWK":
            return json_response(400, {"error": "BadRequest", "message": "This fake serves JWK only"})
        return json_response(200, self.public_jwk(), **{"x-firmly-kid": self.current_kid})

    def _browser_session(self, request: FakeRequest) -> FakeResponse:
        if request.header("x-firmly-app-id") != self.app_id:
            return json_response(400, {"error": "InvalidAppId", "message": "Application ID is invalid or not found"})
        try:
            body = request.json() or {}
        except ValueError:
            return json_response(400, {"error": "BadRequest", "message": "Body is not JSON"})
        previous = body.get("access_token") if isinstance(body, dict) else None
        device_id = str(uuid.uuid4())
        with self._state:
            if previous is not None:
                old = self.sessions.get(previous)
                if old is None or old["revoked"]:
                    return json_response(401, {"error": "Unauthorized", "message": "Token cannot be renewed"})
                device_id = old["device_id"]
            token = f"fake-jwt.{secrets.token_urlsafe(24)}"
            expires = time.time() + self.token_lifetime
            self.sessions[token] = {"device_id": device_id, "expires": expires, "revoked": False}
        return json_response(
            200,
            {
                "device_created": previous is None,
                "access_token": token,
                "expires_in": self.token_lifetime,
                "expires": int(expires),
                "device_id": device_id,
            },
        )

    def _authorised(self, request: FakeRequest) -> bool:
        session = self.sessions.get(request.header("x-firmly-authorization"))
        return session is not None and not session["revoked"] and time.time() < session["expires"]

    def _place_order(self, request: FakeRequest, domain: str) -> FakeResponse:
        if not self._authorised(request):
            return json_response(401, {"error": "Unauthorized", "message": "Invalid or expired token"})
        if domain != self.domain:
            return self._error_response(404, "NotFound", f"Unknown domain {domain}")
        try:
            body = request.json()
        except ValueError:
            body = None
        problem = _shape_problem(body)
        if problem:
            return self._error_response(400, "BadRequest", problem)
        error, card = self._business_error(body)
        # The order is placed (and charged) now; a stream only tells about it step by step.
        outcome = self._error_body(error) if error else self._placed(body, card)
        accept = request.header("accept")
        if "text/event-stream" not in accept and request.query.get("sse") != ["true"]:
            return json_response(400 if error else 200, outcome)
        return FakeResponse(
            200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"},
            stream=sse_events(self._events(error, outcome), delay=self.stream_delay),
        )

    def _business_error(self, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """The documented error Firmly would give, in its order of checks, and the card."""
        try:
            card = self.decrypt_card(body["encrypted_card"])
        except CardRefused:
            return "InvalidCard", {}
        for item in body["items"]:
            if self.stock is not None and item["variant_id"] not in self.stock:
                return "InvalidVariant", card
            if self.stock is not None and item["quantity"] > self.stock[item["variant_id"]]:
                return "InsufficientStock", card
        if body["shipping_info"]["postal_code"] in self.undeliverable_postal_codes:
            return "InvalidAddress", card
        if card["number"] in self.declined_cards:
            return "PaymentFailed", card
        return "", card

    def _events(self, error: str, outcome: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """The event sequence for an outcome: the card is only authorised when the order
        got that far (no error, or PaymentFailed)."""
        steps = ["order_processing"]
        if error in ("", "PaymentFailed"):
            steps.append("payment_processing")
        for step in steps:
            yield from self._announce(step, {"status": step, "message": step.replace("_", " ")})
            if step == self.cut_stream_after:
                return  # the connection drops: the outcome never reaches the client
        if not error and self.error_after_payment is not None:
            yield from self._announce("error", self.error_after_payment)
            return
        yield from self._announce("error" if error else "order_completed", outcome)

    def _announce(self, name: str, data: Any) -> Iterator[tuple[str, Any]]:
        if self.before_event is not None:
            self.before_event(name)
        yield name, data

    def _placed(self, body: dict[str, Any], card: dict[str, str]) -> dict[str, Any]:
        with self._state:
            for item in body["items"]:
                if self.stock is not None:
                    self.stock[item["variant_id"]] -= item["quantity"]
            number = len(self.orders) + 1
            order = {
                "cart_id": str(uuid.uuid4()),
                "platform_order_number": f"LUMA-{100000 + number}",
                "cart_status": "submitted",
                "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "display_name": "Luma (fake)",
                "platform_id": "magento",
                "shop_id": self.domain,
                "urls": {"thank_you_page": f"https://{self.domain}/checkout/success/{number}"},
                "line_items": [
                    {
                        "line_item_id": str(index),
                        "sku": item["variant_id"],
                        "quantity": item["quantity"],
                        "description": item["variant_id"],
                        "price": 10.0,
                        "line_price": 10.0 * item["quantity"],
                    }
                    for index, item in enumerate(body["items"], 1)
                ],
                "shipping_info": body["shipping_info"],
                "billing_info": body["billing_info"],
                "shipping_method": {"id": "flatrate", "description": "Flat rate", "price": 5.0},
                "payment_summary": {
                    "payment_type": "CreditCard",
                    "last_four": card["number"][-4:],
                    "card_type": "Visa" if card["number"].startswith("4") else "Card",
                    "month": int(card["month"]),
                    "year": int(card["year"]),
                },
                "sub_total": sum(10.0 * item["quantity"] for item in body["items"]),
                "shipping_total": 5.0,
                "tax": 0.0,
                "cart_discount": 0.0,
            }
            order["total"] = order["sub_total"] + order["shipping_total"]
            self.orders.append(order)
        return order

    @staticmethod
    def _error_body(error: str) -> dict[str, Any]:
        return {"code": 400, "error": error, "description": ERROR_DESCRIPTIONS[error]}

    @staticmethod
    def _error_response(status: int, error: str, description: str) -> FakeResponse:
        return json_response(status, {"code": status, "error": error, "description": description})


def _shape_problem(body: Any) -> str:
    """What makes a place-order body malformed (before any business rule), or ""."""
    if not isinstance(body, dict):
        return "Body must be a JSON object"
    if not isinstance(body.get("encrypted_card"), str):
        return "encrypted_card is required"
    items = body.get("items")
    if not isinstance(items, list) or not items:
        return "items must be a non-empty list"
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("variant_id"), str):
            return "items[].variant_id is required"
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            return "items[].quantity must be a positive integer"
    for name in ("shipping_info", "billing_info"):
        address = body.get(name)
        if not isinstance(address, dict):
            return f"{name} is required"
        for field in ADDRESS_FIELDS:
            if not isinstance(address.get(field), str) or not address[field].strip():
                return f"{name}.{field} is required"
    return ""
