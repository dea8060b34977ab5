"""The rules on what a customer sends, checked once for every surface (API, form, admin): each
raises :class:`~django_oneclick.domain.errors.OrderRequestInvalid` with a field-level message."""

from __future__ import annotations

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.errors import OrderRequestInvalid

#: The longest Idempotency-Key kept (the column's length).
MAX_KEY_LENGTH = 255


def validate_quantity(quantity: int) -> int:
    if not 1 <= quantity <= oneclick_settings.MAX_QUANTITY:
        raise OrderRequestInvalid({"quantity": [f"Choose a quantity from 1 to {oneclick_settings.MAX_QUANTITY}."]})
    return quantity


def validate_idempotency_key(key: str) -> str:
    """One key per purchase, chosen by the client: required, printable, at most 255 characters."""
    key = key.strip()
    if not key:
        raise OrderRequestInvalid({"idempotency_key": ["This key is required: one unique key per purchase."]})
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise OrderRequestInvalid({"idempotency_key": [f"Use at most {MAX_KEY_LENGTH} printable characters."]})
    return key
