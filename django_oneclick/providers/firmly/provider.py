"""Firmly: one-step checkout (``place-order``) with the card sent as a JWE, and streamed progress.

The shop never stores a card: its card form (``{% firmly_card_form %}``) encrypts the card in the
browser with Firmly's public key as a compact JWE (RSA-OAEP-256 + A256GCM, see :mod:`.jwe`), and
the saved method keeps that JWE and the key id (``kid``) it was made for. Firmly rotates its key;
a method made for an older key cannot be decrypted any more and must be entered again.

Options: ``APP_ID`` and ``DOMAIN`` (the merchant domain) are required; ``BASE_URL`` (payment
host), ``AUTH_URL`` (browser-session host), ``STREAM`` (server-sent progress, default true),
``STREAM_DEADLINE`` (seconds the whole stream may take, default 120; past it the outcome is
unknown), ``KEY_CACHE_SECONDS`` (default 300), ``CONNECT_TIMEOUT``, ``READ_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext_lazy as _

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES
from django_oneclick.providers.base import (
    AuthenticationFailed,
    CachedCredential,
    Exchange,
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    OutcomeUnknown,
    PaymentDeclined,
    ProgressStep,
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
from django_oneclick.providers.firmly.cards import card_details
from django_oneclick.providers.firmly.jwe import jwe_header
from django_oneclick.providers.http import HttpOptions, HttpProvider, StreamEvent

logger = logging.getLogger("django_oneclick")

KEY_PATH = "/api/v1/payment/key"
#: Streamed event -> the step the customer is shown while Firmly works (the order's ``progress``
#: keeps the event's name, for the operator).
STEPS: dict[str, ProgressStep] = {
    "order_processing": ProgressStep.PLACING_ORDER,
    "payment_processing": ProgressStep.AUTHORISING_PAYMENT,
    "order_completed": ProgressStep.FINISHING,
}
_DONE = "order_completed"
#: From this event on, the card may have been charged.
_PAYMENT_STARTED = "payment_processing"
DEFAULT_STREAM_DEADLINE = 120.0
#: Firmly's documented error names -> (error type, the order's code).
ERRORS: dict[str, tuple[type[ProviderError], str]] = {
    "InvalidAddress": (InvalidRequest, "invalid_address"),
    "InsufficientStock": (InvalidRequest, "insufficient_stock"),
    "PaymentFailed": (PaymentDeclined, "payment_failed"),
    "InvalidVariant": (InvalidRequest, "invalid_variant"),
    "InvalidCard": (PaymentDeclined, "invalid_card"),
}
#: The codes an order may keep beyond the core's -> what the customer is told.
CUSTOMER_MESSAGES = {
    "invalid_address": _("Your shipping address could not be validated. Please check it in your account."),
    "insufficient_stock": _("This product is out of stock."),
    "payment_failed": _("The card was declined. Please use another payment method."),
    "invalid_variant": _("This product cannot be bought with one click at the moment."),
    "invalid_card": _("Your saved card could not be used. Please enter it again."),
    # An order whose answer was lost: Firmly has no lookup, an operator settles it.
    "manual_check": CORE_MESSAGES[ErrorCode.NEEDS_OPERATOR],
}
_TOKEN_RENEW_MARGIN = 30.0


class _PythonLogOnly:
    """Exchange log for calls made outside any order (the public key for the card form's key
    view or a usability check): the redacted exchange goes to the Python log, not the database."""

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
    django_app = "django_oneclick.providers.firmly"
    options_class = FirmlyOptions
    options: FirmlyOptions
    sensitive_keys = ("x-firmly-app-id", "device_id")
    requires_buyer = True
    # A token and the place-order; a token refused: a new one and the place-order once more (a
    # refusal is answered at once, not streamed); after an InvalidCard, the public key again.
    # Only one place-order streams, so one STREAM_DEADLINE is added (purchase_timeout below).
    calls_per_purchase = 5
    customer_messages = CUSTOMER_MESSAGES
    progress_steps = STEPS

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
        kid = body.get("kid") or response.headers.get("x-firmly-kid")
        rsa = {name: body.get(name) for name in ("kty", "n", "e")}
        if rsa["kty"] != "RSA" or not kid or not all(isinstance(value, str) and value for value in rsa.values()):
            raise ProviderUnavailable(f"Firmly sent an unusable public key: {sorted(body)}")
        key = {"kid": str(kid), **{name: str(value) for name, value in rsa.items()}}
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
        return card_details(data)

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
                customer_message=CUSTOMER_MESSAGES["invalid_card"],
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
        address = request.buyer.wire(ADDRESS_KEYS) if request.buyer else {}
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
            return self._answered(response)
        return self.stream(
            log,
            "place_order",
            "POST",
            url,
            safe_to_retry=False,
            deadline=self.stream_deadline,
            deadline_option="STREAM_DEADLINE",
            steps={event: event for event in STEPS},
            on_event=self._on_event,
            on_plain=self._answered,
            headers=headers,
            json=body,
        )

    def _on_event(self, event: StreamEvent, events: Sequence[StreamEvent]) -> ProviderResult | None:
        """The result at ``order_completed``; an ``error`` event raises; others read on."""
        if event.name == _DONE:
            return self._completed(event.data)
        if event.name == "error":
            payment_started = any(seen.name == _PAYMENT_STARTED for seen in events)
            raise self._stream_error(event.data, payment_started=payment_started)
        return None

    def _answered(self, response: httpx.Response) -> ProviderResult:
        """The result of place-order answered plainly (JSON, not streamed)."""
        return self._completed(self.json_body(response, safe_to_retry=False))

    def _completed(self, body: Any) -> ProviderResult:
        if not isinstance(body, dict) or not body.get("cart_id"):
            raise OutcomeUnknown(f"Firmly's answer has no cart_id: {str(body)[:200]!r}")
        order_number = body.get("platform_order_number") or body["cart_id"]
        return ProviderResult(ProviderStatus.COMPLETED, str(order_number), progress=_DONE)

    @staticmethod
    def _documented_error(body: Any) -> ProviderError | None:
        if not isinstance(body, dict) or body.get("error") not in ERRORS:
            return None
        error_class, code = ERRORS[body["error"]]
        detail = f"Firmly: {body['error']}: {body.get('description') or body.get('message') or ''}"
        return error_class(detail, code=code)

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


#: Our buyer's fields -> Firmly's address keys.
ADDRESS_KEYS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province": "state_or_province",
    "postal_code": "postal_code",
    "country": "country",
}
