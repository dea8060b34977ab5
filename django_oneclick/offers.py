"""What the shop tells the app: offers for its products and the buyer's address.

The app owns no catalogue. ``ONECLICK["PRODUCT_RESOLVER"]`` names a callable that turns a
product reference into an :class:`Offer`; the price always comes from there, never from the
client. ``ONECLICK["BUYER_RESOLVER"]`` names a callable that gives a user's :class:`Buyer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.types import Buyer

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Offer:
    """A product as the shop sells it now. ``provider_product_ids`` maps a provider name to
    that provider's identifier for the product; a provider not listed gets ``reference``."""

    reference: str
    title: str
    unit_price: Decimal
    currency: str
    provider_product_ids: Mapping[str, str] = field(default_factory=dict)
    #: What shipping and tax may add to the price at a merchant that prices them itself (Rye): the
    #: button shows "up to" price + allowance, and that is the most the customer is charged.
    charges_allowance: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not isinstance(self.unit_price, Decimal) or not self.unit_price.is_finite() or self.unit_price <= 0:
            raise ImproperlyConfigured(f"Offer {self.reference!r}: unit_price must be a positive Decimal.")
        if not isinstance(self.charges_allowance, Decimal) or not self.charges_allowance.is_finite() or (
            self.charges_allowance < 0
        ):
            raise ImproperlyConfigured(f"Offer {self.reference!r}: charges_allowance must be a Decimal of 0 or more.")
        if not _CURRENCY.match(self.currency):
            raise ImproperlyConfigured(f"Offer {self.reference!r}: currency must be ISO 4217, like 'EUR'.")

    def product_id_for(self, provider: str) -> str:
        return self.provider_product_ids.get(provider, self.reference)


@cache
def _load(path: str) -> Callable[..., Any]:
    try:
        return import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Cannot import {path!r}: {exc}") from exc


def resolve_offer(reference: str) -> Offer | None:
    """The shop's current offer for ``reference``, or None when it sells no such product."""
    path = oneclick_settings.PRODUCT_RESOLVER
    if not path:
        raise ImproperlyConfigured("Set ONECLICK['PRODUCT_RESOLVER'] to the shop's offer resolver.")
    offer = _load(path)(reference)
    if offer is not None and not isinstance(offer, Offer):
        raise ImproperlyConfigured(f"{path} must return a django_oneclick.offers.Offer or None.")
    return offer


def resolve_buyer(user: Any) -> Buyer | None:
    """The user's contact and shipping address from the shop, or None when it has none."""
    path = oneclick_settings.BUYER_RESOLVER
    if not path:
        return None
    buyer = _load(path)(user)
    if buyer is not None and not isinstance(buyer, Buyer):
        raise ImproperlyConfigured(f"{path} must return a django_oneclick.providers.base.Buyer or None.")
    return buyer
