"""The typed boundary between the order rules and the providers: what a provider is asked
(frozen dataclasses) and what it answers. Nothing here touches the database or HTTP."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from django_oneclick.domain.states import OrderStatus


class ProviderStatus(enum.StrEnum):
    """Where the provider says an order stands: the order statuses a provider may report."""

    PROCESSING = OrderStatus.PROCESSING.value
    REQUIRES_ACTION = OrderStatus.REQUIRES_ACTION.value
    COMPLETED = OrderStatus.COMPLETED.value
    FAILED = OrderStatus.FAILED.value


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

    def wire(self, names: Mapping[str, str]) -> dict[str, str]:
        """The buyer in a provider's words: ``names`` maps each field to the provider's key; an
        empty optional field (``address2``) is left out."""
        return {
            key: getattr(self, field)
            for field, key in names.items()
            if getattr(self, field) or field in BUYER_REQUIRED
        }


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


@dataclass(frozen=True)
class Candidate:
    """A provider order that may be ours, found by what the provider keeps (product, time)
    rather than by our reference: shown to an operator, never settled on by itself."""

    provider_order_id: str
    placed_at: str = ""
    #: The provider's state of that order, for the operator.
    state: str = ""


