"""Firmly: one-step checkout (``place-order``) with the card sent as a JWE, and streamed progress.

The shop never stores a card: its card form (``{% firmly_card_form %}``) encrypts the card in the
browser with Firmly's public key as a compact JWE (RSA-OAEP-256 + A256GCM), and the saved
method keeps that JWE and the key id (``kid``) it was made for. Firmly rotates its key; a
method made for an older key cannot be decrypted any more and must be entered again.

Options: ``APP_ID`` and ``DOMAIN`` (the merchant domain) are required; ``BASE_URL`` (payment
host), ``AUTH_URL`` (browser-session host), ``STREAM`` (server-sent progress, default true),
``STREAM_DEADLINE`` (seconds the whole stream may take, default 120; past it the outcome is
unknown), ``KEY_CACHE_SECONDS`` (default 300), ``CONNECT_TIMEOUT``, ``READ_TIMEOUT``.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.utils import timezone
from httpx_sse import EventSource, ServerSentEvent
from jwcrypto import jwe, jwk

from django_oneclick.providers.base import (
    AuthenticationFailed,
    Buyer,
    CachedCredential,
    Exchange,
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    OutcomeUnknown,
    PaymentDeclined,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    SavedMethod,
    StatusRequest,
    buyer_problems,
    option,
)
from django_oneclick.providers.http import HttpOptions, HttpProvider

logger = logging.getLogger("django_oneclick")

KEY_PATH = "/api/v1/payment/key"
JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
#: What the card JSON inside the JWE holds (Firmly's documented card object).
CARD_FIELDS = ("number", "name", "verification_value", "month", "year")
#: Brand code sent by the card form -> what the customer reads.
BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "card": "Card",
}
#: Streamed event -> the step shown on the order while Firmly works.
STEPS = {
    "order_processing": "processing order",
    "payment_processing": "authorising payment",
    "order_completed": "done",
}
_DONE = "order_completed"
#: From this event on, the card may have been charged.
_PAYMENT_STARTED = "payment_processing"
DEFAULT_STREAM_DEADLINE = 120.0
#: Firmly's documented error names -> (error type, operator code, customer message).
ERRORS: dict[str, tuple[type[ProviderError], str, str]] = {
    "InvalidAddress": (
        InvalidRequest,
        "invalid_address",
        "Your shipping address could not be validated. Please check it in your account.",
    ),
    "InsufficientStock": (InvalidRequest, "insufficient_stock", "This product is out of stock."),
    "PaymentFailed": (
        PaymentDeclined,
        "payment_failed",
        "The card was declined. Please use another payment method.",
    ),
    "InvalidVariant": (
        InvalidRequest,
        "invalid_variant",
        "This product cannot be bought with one click at the moment.",
    ),
    "InvalidCard": (
        PaymentDeclined,
        "invalid_card",
        "Your saved card could not be used. Please enter it again.",
    ),
}
#: Keys that must never come with a method registration: the card in clear.
_CLEAR_CARD_KEYS = frozenset({"number", "card_number", "verification_value", "cvv", "cvc"})
_MAX_JWE_LENGTH = 4000  # PaymentMethod.reference
_TOKEN_RENEW_MARGIN = 30.0
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_DIGITS = re.compile(r"^\d+$")


# --- the card as a JWE ---------------------------------------------------------------------------


def encrypt_card(card: Mapping[str, str], jwk_data: Mapping[str, Any]) -> str:
    """The card as Firmly wants it: a compact JWE of its JSON for Firmly's public key.

    For shops allowed to handle card numbers; others use the browser card form, which builds
    the same JWE with WebCrypto. ``jwk_data`` is Firmly's JWK (which may lack ``alg``).
    """
    missing = [name for name in CARD_FIELDS if not card.get(name)]
    if missing:
        raise ValueError(f"The card lacks {', '.join(missing)}.")
    key = jwk.JWK(kty="RSA", n=jwk_data["n"], e=jwk_data["e"])
    plaintext = json.dumps({name: str(card[name]) for name in CARD_FIELDS})
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": str(jwk_data["kid"])}
    token = jwe.JWE(plaintext.encode(), protected=json.dumps(header))
    token.add_recipient(key)
    return token.serialize(compact=True)


def _b64decode(part: str) -> bytes:
    if not _B64URL.match(part):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE made for Firmly, after checking its shape:
    five parts, RSA-OAEP-256 + A256GCM, a ``kid``, a 96-bit IV and a 128-bit tag."""
    parts = token.split(".")
    if len(parts) != 5 or not all(parts[:2]) or not all(parts[2:]):
        raise ValueError("A compact JWE has five non-empty parts.")
    try:
        header = json.loads(_b64decode(parts[0]))
        encrypted_key, iv, ciphertext, tag = (_b64decode(part) for part in parts[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"The JWE is not valid base64url JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ValueError("The JWE header is not a JSON object.")
    if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
        raise ValueError(f"The JWE must use alg {JWE_ALG} and enc {JWE_ENC}.")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise ValueError("The JWE header has no kid.")
    if len(iv) != 12 or len(tag) != 16:
        raise ValueError("The JWE needs a 96-bit IV and a 128-bit tag for A256GCM.")
    if len(encrypted_key) < 128 or not ciphertext:
        raise ValueError("The JWE lacks an RSA-wrapped key or a ciphertext.")
    return header


def _last_day_of(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


class _PythonLogOnly:
    """Exchange log for calls made outside any order (the public key for the card form or a
    usability check): the redacted exchange goes to the Python log, not the database."""

    def record(self, exchange: Exchange) -> None:
        logger.info(
            "firmly.%s -> %s (%s, %d ms)%s",
            exchange.operation,
            exchange.outcome,
            exchange.http_status,
            exchange.duration_ms,
            f": {exchange.error}" if exchange.error else "",
        )

    def progress(self, step: str) -> None:
        """Nothing to show: no order is being placed."""


@dataclass(frozen=True)
class FirmlyOptions(HttpOptions):
    APP_ID: str = option(required=True, secret=True)
    #: The merchant's domain the orders are placed at.
    DOMAIN: str = option(required=True)
    #: The payment host (public key, place-order).
    BASE_URL: str = "https://cc.firmly.work"
    #: The host that issues browser-session tokens.
    AUTH_URL: str = "https://api.firmly.work"
    #: Ask for progress as server-sent events.
    STREAM: bool = True
    #: Seconds the whole event stream may take; past it the outcome is unknown.
    STREAM_DEADLINE: float = option(DEFAULT_STREAM_DEADLINE, minimum=0.001)
    #: Seconds Firmly's public key is reused before it is fetched again (it rotates).
    KEY_CACHE_SECONDS: float = option(300.0, minimum=0)


class FirmlyProvider(HttpProvider):
    display_name = "Firmly"
    options_class = FirmlyOptions
    options: FirmlyOptions
    sensitive_keys = ("x-firmly-app-id", "device_id")
    requires_buyer = True

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._key_lock = threading.Lock()
        self._key: dict[str, str] | None = None
        self._key_until = 0.0
        self._access_token = CachedCredential()

    @property
    def auth_url(self) -> str:
        return self.options.AUTH_URL.rstrip("/")

    @property
    def streams(self) -> bool:
        return self.options.STREAM

    @property
    def stream_deadline(self) -> float:
        return self.options.STREAM_DEADLINE

    @property
    def purchase_timeout(self) -> timedelta:
        # A streamed place-order may run for the whole stream deadline, on top of its requests.
        return super().purchase_timeout + timedelta(seconds=self.stream_deadline)

    # -- Firmly's public key (rotates: cached briefly)

    def public_key(self, log: ExchangeLog | None = None, *, refresh: bool = False) -> dict[str, str]:
        """Firmly's current public JWK (``kid``, ``kty``, ``n``, ``e``), cached for
        ``KEY_CACHE_SECONDS``; ``refresh`` fetches it again (after an InvalidCard)."""
        with self._key_lock:
            if self._key is not None and not refresh and time.monotonic() < self._key_until:
                return self._key
        log = log or _PythonLogOnly()
        response = self.request(log, "get_public_key", "GET", KEY_PATH, safe_to_retry=True)
        body = self.json_body(response, safe_to_retry=True)
        key = {
            "kid": str(body.get("kid") or response.headers.get("x-firmly-kid") or ""),
            "kty": body.get("kty"),
            "n": body.get("n"),
            "e": body.get("e"),
        }
        if key["kty"] != "RSA" or not all(key.values()):
            raise ProviderUnavailable(f"Firmly sent an unusable public key: {sorted(body)}")
        with self._key_lock:
            self._key = key
            self._key_until = time.monotonic() + self.options.KEY_CACHE_SECONDS
        return key

    # -- the access token (browser session: cached until it expires, then renewed)

    def _new_access_token(self, log: ExchangeLog, expired: str) -> tuple[str, float]:
        """Renew the expired token (same device), or open a new session when there is none
        or it is too old to renew. Returns the token and how long it may be used."""
        try:
            return self._open_session(log, renew=expired)
        except AuthenticationFailed:
            if not expired:
                raise
            return self._open_session(log, renew="")

    def _open_session(self, log: ExchangeLog, *, renew: str) -> tuple[str, float]:
        response = self.request(
            log,
            "browser_session",
            "POST",
            f"{self.auth_url}/api/v1/browser-session",
            safe_to_retry=True,
            headers={"x-firmly-app-id": self.options.APP_ID},
            json={"access_token": renew} if renew else None,
        )
        body = self.json_body(response, safe_to_retry=True)
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise ProviderUnavailable("Firmly's browser session came without a token or expiry.")
        return token, lifetime - min(_TOKEN_RENEW_MARGIN, lifetime / 2)

    # -- hooks

    def register_method(self, data: Mapping[str, Any]) -> MethodDetails:
        """Accept the card form's JWE with its display details; never a card in clear."""
        if _CLEAR_CARD_KEYS & set(data):
            raise InvalidRequest.for_customer("Send the card encrypted (jwe), never its number or CVV.")
        token, kid = data.get("jwe"), data.get("kid")
        if not isinstance(token, str) or len(token) > _MAX_JWE_LENGTH:
            raise InvalidRequest.for_customer("The encrypted card (jwe) is missing or too long.")
        try:
            header = jwe_header(token)
        except ValueError as exc:
            raise InvalidRequest.for_customer(f"The encrypted card is not valid: {exc}") from exc
        if kid != header["kid"]:
            raise InvalidRequest.for_customer("The key id (kid) does not match the encrypted card.")
        brand = BRANDS.get(str(data.get("brand", "")).lower())
        last4 = str(data.get("last4", ""))
        if brand is None:
            raise InvalidRequest.for_customer(f"The card brand must be one of: {', '.join(BRANDS)}.")
        if len(last4) != 4 or not _DIGITS.match(last4):
            raise InvalidRequest.for_customer("last4 must be the card's last four digits.")
        try:
            month, year = int(data.get("exp_month")), int(data.get("exp_year"))
            expires = _last_day_of(year, month)
        except (TypeError, ValueError) as exc:
            raise InvalidRequest.for_customer("Give the expiry as a month (1-12) and a four-digit year.") from exc
        today = timezone.localdate()
        if not today.year - 1 <= year <= today.year + 20:
            raise InvalidRequest.for_customer("Give the expiry year with four digits, e.g. 2031.")
        if expires < today:
            raise InvalidRequest.for_customer("This card has expired.")
        return MethodDetails(
            reference=token,
            label=f"{brand} •••• {last4}",
            brand=brand,
            last4=last4,
            expires=expires,
            data={"kid": kid},
        )

    def method_is_usable(self, method: SavedMethod) -> bool:
        """False once Firmly's key has rotated away from the key the card was encrypted for."""
        try:
            current = self.public_key()["kid"]
        except ProviderError:
            return True  # cannot tell now; the purchase will say
        return method.data.get("kid") == current

    def prepare(self, request: PurchaseRequest) -> None:
        if not request.product_id:
            raise InvalidRequest.for_customer("This product has no Firmly variant id.")
        try:
            jwe_header(request.method.reference)
        except ValueError as exc:
            raise InvalidRequest(
                f"The saved Firmly card is not a JWE: {exc}",
                customer_message=ERRORS["InvalidCard"][2],
            ) from exc
        problems = buyer_problems(request.buyer)
        if problems:
            raise InvalidRequest(
                f"Buyer address refused before sending: {' '.join(problems)}",
                code="invalid_address",
                customer_message=" ".join(problems),
            )

    # -- purchase

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        body = self._order_body(request)
        try:
            return self._place_order_authenticated(log, body)
        except PaymentDeclined as exc:
            if exc.code == "invalid_card":
                self._refresh_key_quietly(log)
            raise

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        """Firmly answers place-order synchronously and documents no lookup of an order by the
        shop's reference, so an order whose answer was lost is left to an operator."""
        raise OutcomeUnknown(
            "Firmly has no order lookup by our reference: find the order in Firmly's dashboard "
            f"(placed around {request.created_at:%Y-%m-%d %H:%M} UTC) and settle it by hand.",
            code="manual_check",
        )

    def error_for_response(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError | None:
        if isinstance(body, dict) and body.get("error") == "InvalidAppId":
            return AuthenticationFailed(f"Firmly refused the application id: {body.get('message')}")
        return self._documented_error(body)

    # -- plumbing

    def _order_body(self, request: PurchaseRequest) -> dict[str, Any]:
        address = _address(request.buyer) if request.buyer else {}
        return {
            "items": [{"variant_id": request.product_id, "quantity": request.quantity}],
            "shipping_info": address,
            "billing_info": address,
            "encrypted_card": request.method.reference,
        }

    def _place_order_authenticated(self, log: ExchangeLog, body: dict[str, Any]) -> ProviderResult:
        """A token refused (revoked early) means nothing was done: renew it and resend once."""
        return self._access_token.call(
            lambda expired: self._new_access_token(log, expired),
            lambda token: self._place_order(log, body, token),
        )

    def _place_order(self, log: ExchangeLog, body: dict[str, Any], token: str) -> ProviderResult:
        domain = quote(self.options.DOMAIN, safe="")
        url = f"/api/v1/payment/domains/{domain}/place-order"
        headers = {"x-firmly-authorization": token}
        if not self.streams:
            response = self.request(log, "place_order", "POST", url, safe_to_retry=False, headers=headers, json=body)
            return self._completed(self.json_body(response, safe_to_retry=False))
        headers["Accept"] = "text/event-stream"
        logged = {"method": "POST", "url": url, "headers": headers, "json": body}
        with self.exchange(log, "place_order", logged) as draft:
            try:
                with self.client.stream("POST", url, headers=headers, json=body) as response:
                    draft.http_status = response.status_code
                    if "text/event-stream" not in response.headers.get("content-type", ""):
                        response.read()  # answered plainly (an error before any processing)
                        answer = self.parse_body(response)
                        draft.response = self.describe_response(response, answer)
                        if response.is_error:
                            raise self.error_for_status(response, answer, safe_to_retry=False)
                        return self._completed(self.json_body(response, safe_to_retry=False))
                    events: list[dict[str, Any]] = []
                    draft.response = {**self.describe_response(response, None), "events": events}
                    deadline = time.monotonic() + self.stream_deadline
                    for event in EventSource(response).iter_sse():
                        events.append({"event": event.event, "data": _event_data(event)})
                        if event.event in STEPS:
                            log.progress(STEPS[event.event])
                        if event.event == _DONE:
                            return self._completed(events[-1]["data"])
                        if event.event == "error":
                            payment_started = any(seen["event"] == _PAYMENT_STARTED for seen in events)
                            raise self._stream_error(events[-1]["data"], payment_started=payment_started)
                        if time.monotonic() > deadline:
                            raise OutcomeUnknown(
                                f"Firmly's event stream did not finish within {self.stream_deadline:g} s "
                                "(STREAM_DEADLINE)."
                            )
            except httpx.TransportError as exc:
                raise self.transport_error(exc, safe_to_retry=False) from exc
            raise OutcomeUnknown("Firmly's event stream ended before the order completed or failed")

    def _completed(self, body: Any) -> ProviderResult:
        if not isinstance(body, dict) or not body.get("cart_id"):
            raise OutcomeUnknown(f"Firmly's answer has no cart_id: {str(body)[:200]!r}")
        order_number = body.get("platform_order_number") or body["cart_id"]
        return ProviderResult(ProviderStatus.COMPLETED, str(order_number), progress=STEPS[_DONE])

    @staticmethod
    def _documented_error(body: Any) -> ProviderError | None:
        if not isinstance(body, dict) or body.get("error") not in ERRORS:
            return None
        error_class, code, customer_message = ERRORS[body["error"]]
        detail = f"Firmly: {body['error']}: {body.get('description') or body.get('message') or ''}"
        return error_class(detail, code=code, customer_message=customer_message)

    def _stream_error(self, data: Any, *, payment_started: bool) -> ProviderError:
        """A documented error keeps its meaning; another one proves nothing was charged only
        when it is a client error (code below 500) streamed before the payment started."""
        mapped = self._documented_error(data)
        if mapped is not None:
            return mapped
        status = data.get("code") if isinstance(data, dict) else None
        if not payment_started and isinstance(status, int) and status < 500:
            return InvalidRequest(f"Firmly streamed an error: {str(data)[:300]}")
        return OutcomeUnknown(f"Firmly streamed an unexpected error: {str(data)[:300]}")

    def _refresh_key_quietly(self, log: ExchangeLog) -> None:
        """After InvalidCard: learn whether the key rotated (the method then needs re-entry)."""
        with contextlib.suppress(ProviderError):  # recorded; the usability check fetches again
            self.public_key(log, refresh=True)


def _event_data(event: ServerSentEvent) -> Any:
    try:
        return json.loads(event.data)
    except json.JSONDecodeError:
        return event.data


def _address(buyer: Buyer) -> dict[str, str]:
    address = {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "email": buyer.email,
        "phone": buyer.phone,
        "address1": buyer.address1,
        "city": buyer.city,
        "state_or_province": buyer.province,
        "postal_code": buyer.postal_code,
        "country": buyer.country,
    }
    if buyer.address2:
        address["address2"] = buyer.address2
    return address
