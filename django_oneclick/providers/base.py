"""The provider interface: typed requests and results, the error types, and the base class.

A provider turns a :class:`PurchaseRequest` into a :class:`ProviderResult` or raises one of the
:class:`ProviderError` subclasses. It never touches the database: the services module owns the
order and its state, and gets every call recorded through the :class:`ExchangeLog` it passes in.
"""

from __future__ import annotations

import enum
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

from django.core.checks import CheckMessage
from django.core.checks import Error as CheckError
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from django_oneclick.redaction import Redactor


class ProviderStatus(enum.StrEnum):
    """Where the provider says an order stands (values match the order statuses)."""

    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    COMPLETED = "completed"
    FAILED = "failed"


# --- errors ---------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of what a provider may raise. ``message`` is for the operator, kept in the order."""

    code: ClassVar[str] = "provider_error"
    customer_message: ClassVar[str] = "The order could not be placed."
    #: True when the provider certainly did not act on the request, so trying again is safe.
    nothing_charged: ClassVar[bool] = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        customer_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or self.customer_message)
        self.message = message or self.customer_message
        if code:
            self.code = code
        if customer_message:
            self.customer_message = customer_message
        self.retry_after = retry_after


class PaymentDeclined(ProviderError):
    code = "declined"
    customer_message = "The payment was declined. Please use another payment method."


class InvalidRequest(ProviderError):
    code = "invalid_request"
    customer_message = "The provider refused the order as invalid."

    @classmethod
    def for_customer(cls, message: str) -> InvalidRequest:
        """A refusal whose message is written for the customer, so it is shown as it is."""
        return cls(message, customer_message=message)


class AuthenticationFailed(ProviderError):
    code = "authentication_failed"
    customer_message = "The shop could not reach its payment provider. Please try again later."


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or asked us to come back: nothing was done."""

    code = "provider_unavailable"
    customer_message = "The payment provider is unavailable. Nothing was charged; try again."


class OutcomeUnknown(ProviderError):
    """The request may have been acted upon (e.g. a timeout after sending): never resend it."""

    code = "outcome_unknown"
    customer_message = "We are confirming your order with the payment provider."
    nothing_charged = False


class OrderNotFound(ProviderError):
    """On a status fetch: the provider states it has no such order, so none was placed."""

    code = "not_placed"
    customer_message = "The order was not placed. Nothing was charged."


def failure_after_sending(
    message: str, *, may_have_acted: bool, retry_after: float | None = None
) -> ProviderError:
    """A call failed after it was sent (no answer, a server error, an unreadable answer): if
    the call may have charged, the provider may have acted, so the outcome is unknown and the
    call is never resent; otherwise nothing was done and trying again is safe."""
    if may_have_acted:
        return OutcomeUnknown(message)
    return ProviderUnavailable(message, retry_after=retry_after)


@dataclass(frozen=True)
class Candidate:
    """A provider order that may be ours, found by what the provider keeps (product, time)
    rather than by our reference: shown to an operator, never settled on by itself."""

    provider_order_id: str
    placed_at: str = ""
    #: The provider's state of that order, for the operator.
    state: str = ""


class OrderNotIdentified(OutcomeUnknown):
    """On a status fetch of an order whose purchase answer was lost, at a provider that keeps no
    reference of ours: ``candidates`` may be it. The order stays unknown for an operator unless no
    candidate is left once those settling other orders are set aside, the records read were
    complete and ``NOT_FOUND_AFTER`` has passed: then it was never placed."""

    code = "needs_operator"

    def __init__(
        self, message: str, *, candidates: list[Candidate], records_complete: bool, sought: str
    ) -> None:
        super().__init__(message)
        self.candidates = list(candidates)
        self.records_complete = records_complete
        self.sought = sought


class MethodNotSupported(ProviderError):
    """This provider does not let customers register a payment method through the API."""

    code = "method_not_supported"
    customer_message = "This payment method cannot be added here."


# --- typed boundary -------------------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """Contact and shipping address, for providers that ship physical goods."""

    first_name: str
    last_name: str
    email: str
    phone: str
    address1: str
    city: str
    province: str
    postal_code: str
    country: str
    address2: str = ""


#: Buyer fields every shipping provider needs.
BUYER_REQUIRED = ("first_name", "last_name", "email", "phone", "address1", "city", "province", "postal_code", "country")
BUYER_FIELD_MAX_LENGTH = 255


def buyer_problems(buyer: Buyer | None) -> list[str]:
    """What a shipping provider would refuse in the buyer's details, in the customer's words:
    missing or overlong fields, an invalid email, phone number (8 to 15 digits, E.164) or
    country code (ISO 3166 alpha-2). Providers add their own rules (e.g. US addresses only)."""
    if buyer is None:
        return ["Add a shipping address to your account before buying."]
    problems = []
    missing = [name.replace("_", " ") for name in BUYER_REQUIRED if not str(getattr(buyer, name)).strip()]
    if missing:
        problems.append(f"Your shipping details lack: {', '.join(missing)}.")
    too_long = [name for name, value in vars(buyer).items() if len(str(value)) > BUYER_FIELD_MAX_LENGTH]
    if too_long:
        problems.append(f"Shorten your {', '.join(too_long)} to {BUYER_FIELD_MAX_LENGTH} characters.")
    if buyer.email.strip():
        try:
            validate_email(buyer.email)
        except ValidationError:
            problems.append("Enter a valid email address.")
    if buyer.phone.strip() and not 8 <= len(re.sub(r"\D", "", buyer.phone)) <= 15:
        problems.append("Enter a phone number with 8 to 15 digits, country code included.")
    if buyer.country.strip() and not re.fullmatch(r"[A-Z]{2}", buyer.country):
        problems.append("Use a two-letter country code such as US.")
    return problems


@dataclass(frozen=True)
class SavedMethod:
    """A saved payment method as the provider sees it: its reference and stored extras."""

    reference: str
    label: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PurchaseRequest:
    """One purchase. ``order_id`` is our public order id: it stays the same across retries,
    so providers send it as their external reference / metadata for reconciliation."""

    order_id: str
    product_id: str
    title: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    currency: str
    method: SavedMethod
    customer_reference: str
    customer_email: str = ""
    customer_ip: str | None = None
    buyer: Buyer | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The most the customer agreed to pay, all-in, as the button showed it (``total`` plus the
    #: offer's allowance for shipping and tax): the cap for providers that price at the merchant.
    max_total: Decimal | None = None


@dataclass(frozen=True)
class StatusRequest:
    """Ask where an order stands. ``provider_order_id`` is empty when the purchase call's
    outcome was unknown: the provider then looks the order up by ``order_id``."""

    order_id: str
    provider_order_id: str
    method: SavedMethod
    created_at: datetime
    #: The provider's product id and the customer's IP as sent with the purchase, for providers
    #: that sign every call with the buyer's IP or can only find an order by product and time.
    product_id: str = ""
    customer_ip: str | None = None


@dataclass(frozen=True)
class ProviderResult:
    status: ProviderStatus
    provider_order_id: str = ""
    next_action: Mapping[str, Any] | None = None
    progress: str = ""
    error_code: str = ""
    error_message: str = ""
    #: What the provider charged, all-in, when it says (a merchant's shipping and tax included).
    charged_total: Decimal | None = None


@dataclass(frozen=True)
class MethodDetails:
    """What a provider accepted when a customer registered a payment method."""

    reference: str
    label: str
    brand: str = ""
    last4: str = ""
    expires: date | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """One call to a provider, already redacted."""

    operation: str
    request: Any
    response: Any
    http_status: int | None
    duration_ms: int
    outcome: str
    error: str = ""


class ExchangeLog(Protocol):
    def record(self, exchange: Exchange) -> None: ...

    def progress(self, step: str) -> None:
        """A long call (e.g. a streamed answer) says how far it got, so the customer sees
        steps such as "authorising payment" while it runs."""


@dataclass
class ExchangeDraft:
    """Filled in by the code inside :meth:`Provider.exchange` while a call is under way."""

    request: Any = None
    response: Any = None
    http_status: int | None = None


# --- credentials ----------------------------------------------------------------------------

_Answer = TypeVar("_Answer")


class CachedCredential:
    """A token or session reused until shortly before it expires, fetched by one thread at a
    time, and renewed once when the provider rejects it (a rejected call was not acted upon,
    so it is sent again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = ""
        self._usable_until = 0.0

    def get(self, fetch: Callable[[str], tuple[str, float]]) -> str:
        """The cached value, or a new one: ``fetch(previous)`` gets the expired value ("" for
        none; some providers renew it) and returns the new value and for how many seconds
        it may be used (its lifetime less a margin)."""
        with self._lock:
            if self._value and time.monotonic() < self._usable_until:
                return self._value
            value, usable_for = fetch(self._value)
            self._value, self._usable_until = value, time.monotonic() + usable_for
            return value

    def invalidate(self, value: str) -> None:
        """The provider rejected ``value``: the next :meth:`get` fetches a new one (unless
        another thread already did)."""
        with self._lock:
            if self._value == value:
                self._usable_until = 0.0

    def call(
        self,
        fetch: Callable[[str], tuple[str, float]],
        send: Callable[[str], _Answer],
        *,
        rejected: type[ProviderError] = AuthenticationFailed,
    ) -> _Answer:
        """``send(value)``; if the provider raises ``rejected`` (the credential is no longer
        valid), once more with a new value."""
        value = self.get(fetch)
        try:
            return send(value)
        except rejected:
            self.invalidate(value)
        return send(self.get(fetch))


# --- the base class -------------------------------------------------------------------------


class Provider:
    """Base of every provider. Subclasses implement :meth:`purchase` and :meth:`fetch_status`.

    ``options`` is the provider's dict from ``ONECLICK["PROVIDERS"]``; subclasses list the keys
    they cannot work without in ``required_options`` (checked at start-up) and the keys that
    are secrets in ``secret_options`` (redacted wherever they appear).
    """

    display_name: ClassVar[str] = "Provider"
    required_options: ClassVar[tuple[str, ...]] = ()
    secret_options: ClassVar[tuple[str, ...]] = ()
    #: Extra keys this provider's payloads use for secrets or card data.
    sensitive_keys: ClassVar[tuple[str, ...]] = ()
    #: True for providers that ship goods and need the buyer's address (``BUYER_RESOLVER``).
    requires_buyer: ClassVar[bool] = False
    #: For an order whose purchase answer was lost: after how many seconds (option
    #: ``NOT_FOUND_AFTER``) its absence from the provider's complete records means it was
    #: never placed, rather than not recorded yet. Must exceed :attr:`purchase_timeout`.
    default_not_found_after: ClassVar[float] = 600.0
    #: How far the provider's clock may run ahead of ours, for matching by time.
    clock_skew: ClassVar[timedelta] = timedelta(minutes=2)

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options = dict(options)
        self.redactor = Redactor(
            secrets=[str(self.options.get(key) or "") for key in self.secret_options],
            extra_keys=self.sensitive_keys,
        )

    # -- what a provider implements

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        raise NotImplementedError

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        raise NotImplementedError

    def prepare(self, request: PurchaseRequest) -> None:
        """Raise :class:`InvalidRequest` for a purchase this provider would refuse, before the
        order is written or anything is sent (documented rules, missing address, ...)."""

    def register_method(self, data: Mapping[str, Any]) -> MethodDetails:
        """Check what a customer submitted to save a method; providers that allow it override."""
        raise MethodNotSupported()

    def method_is_usable(self, method: SavedMethod) -> bool:
        """False when the saved method must be entered again (e.g. an encryption key rotated)."""
        return True

    def close(self) -> None:
        """Release pooled connections."""

    @property
    def purchase_timeout(self) -> timedelta:
        """The longest one purchase call may run before it gives up (every request it makes,
        each to its timeout). No verdict on an order may be reached sooner: until then the
        purchase may still be in flight and succeed (see the system check W001)."""
        return timedelta(0)

    @property
    def not_found_after(self) -> timedelta:
        return timedelta(seconds=float(self.options.get("NOT_FOUND_AFTER", self.default_not_found_after)))

    # -- shared behaviour

    def check(self) -> list[CheckMessage]:
        """System-check messages for this provider's configuration."""
        return [
            CheckError(
                f"ONECLICK['PROVIDERS'][{self.name!r}] is missing {key!r}.",
                hint=f"Set {key} for the {self.display_name} provider (see the README).",
                id="django_oneclick.E005",
            )
            for key in self.required_options
            if not self.options.get(key)
        ]

    def candidates_found(
        self, request: StatusRequest, candidates: list[Candidate], *, records_complete: bool
    ) -> ProviderError:
        """The provider's records hold no reference of ours, only orders of the same product placed
        while our purchase may have run (``candidates``). None of them is a match by itself: a
        customer may have bought the same thing twice. The core sets aside those already settling
        another of our orders and leaves the rest to an operator (see :class:`OrderNotIdentified`)."""
        return OrderNotIdentified(
            f"{self.display_name} keeps no reference of ours; "
            + (
                f"{len(candidates)} of its orders of product {request.product_id!r} were placed while the purchase "
                f"may have run ({', '.join(c.provider_order_id for c in candidates)})."
                if candidates
                else f"none of its orders of product {request.product_id!r} was placed while the purchase may have run."
            ),
            candidates=candidates,
            records_complete=records_complete,
            sought=f"order of product {request.product_id!r} placed after {request.created_at:%Y-%m-%d %H:%M:%S} UTC",
        )

    def placed_during_purchase(self, request: StatusRequest, placed_at: str) -> bool:
        """Whether the provider's timestamp of an order falls while our purchase may have run:
        from the order's creation to the end of the whole purchase timeout, widened by
        ``clock_skew`` on both sides because the two clocks differ. The window decides only what
        an operator is shown (and, when nothing is in it, that nothing was placed), never a
        match; so it errs wide. An unreadable timestamp counts as inside."""
        try:
            moment = datetime.fromisoformat(placed_at)
        except (TypeError, ValueError):
            return True
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        earliest = request.created_at - self.clock_skew
        return earliest <= moment <= request.created_at + self.purchase_timeout + self.clock_skew

    def missing_order(
        self, request: StatusRequest, sought: str, *, records_complete: bool
    ) -> ProviderError:
        """The provider's records show no ``sought`` (our order whose purchase answer was lost):
        it was never placed (:class:`OrderNotFound`) only when the records read were complete
        and the provider had ``NOT_FOUND_AFTER`` seconds to record it; otherwise unknown."""
        waited = datetime.now(UTC) - request.created_at
        # Never while the purchase itself may still be running, whatever NOT_FOUND_AFTER says.
        if records_complete and waited > max(self.not_found_after, self.purchase_timeout):
            return OrderNotFound(f"{self.display_name} has no {sought}.")
        return OutcomeUnknown(
            f"{self.display_name} shows no {sought} "
            + ("yet." if records_complete else "in the part of its records read: an operator must check.")
        )

    @contextmanager
    def exchange(self, log: ExchangeLog, operation: str, request: Any = None) -> Iterator[ExchangeDraft]:
        """Time and record one call; whatever happens, the redacted exchange is logged."""
        draft = ExchangeDraft(request=request)
        started = time.monotonic()
        outcome, error = "ok", ""
        try:
            yield draft
        except ProviderError as exc:
            outcome, error = exc.code, exc.message
            raise
        except Exception as exc:
            outcome, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            log.record(
                Exchange(
                    operation=operation,
                    request=self.redactor(draft.request),
                    response=self.redactor(draft.response),
                    http_status=draft.http_status,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    outcome=outcome,
                    error=self.redactor.text(error),
                )
            )
