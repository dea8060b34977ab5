"""What the card form sends to save a card for Firmly, checked: the JWE the browser made, its key
id, and the details the customer reads (brand, last four digits, expiry). Never a card in clear."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone

from django_oneclick.providers.base import InvalidRequest, MethodDetails
from django_oneclick.providers.firmly.jwe import jwe_header

#: Brand code sent by the card form -> what the customer reads.
BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "card": "Card",
}
#: Keys that must never come with a method registration: the card in clear.
_CLEAR_CARD_KEYS = frozenset({"number", "card_number", "verification_value", "cvv", "cvc"})
_MAX_JWE_LENGTH = 4000  # PaymentMethod.reference
_DIGITS = re.compile(r"^\d+$")


def _last_day_of(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def card_details(data: Mapping[str, Any]) -> MethodDetails:
    """The method to save for what the card form posted; :class:`InvalidRequest` (its message for
    the customer) for anything else."""
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
        month, year = int(data.get("exp_month", "")), int(data.get("exp_year", ""))
        expires = _last_day_of(year, month)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int() of an infinite float
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
