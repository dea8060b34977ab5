"""The rules on what a customer sends, checked once for every surface (API, form, admin): each
raises :class:`~django_oneclick.domain.errors.OrderRequestInvalid` with a field-level message."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.errors import OrderRequestInvalid
from django_oneclick.redaction import card_data_in

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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
    # A UUID (what the button sends) is no card number, though its digit groups may pass Luhn.
    return validate_text("idempotency_key", key, max_length=MAX_KEY_LENGTH, card_data_allowed=bool(_UUID.match(key)))


#: Bounds of the free-form JSON a customer may send (order ``options``, a method's ``data``).
MAX_JSON_DEPTH = 5
MAX_JSON_ITEMS = 100
MAX_JSON_TEXT = 1000
MAX_JSON_BYTES = 8192


def text_problem(text: str, *, card_data_allowed: bool = False) -> str | None:
    """Why ``text`` cannot be stored: a control character (NUL included), a lone surrogate (not
    encodable, refused by PostgreSQL), or card data typed where it must not be kept."""
    if any((ord(char) < 32 and char not in "\t\n\r") or ord(char) == 127 for char in text):
        return "must not contain control characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    if not card_data_allowed and (found := card_data_in(text)):
        return f"must not contain {found}: never type card details here"
    return None


def validate_text(
    field: str, text: str, *, max_length: int, card_data_allowed: bool = False, name: str = ""
) -> str:
    """``text`` if it may be stored; else a 400 on ``field`` (``name`` says which part of it)."""
    problem = text_problem(text, card_data_allowed=card_data_allowed)
    if problem is None and len(text) > max_length:
        problem = f"may have at most {max_length} characters"
    if problem:
        raise OrderRequestInvalid({field: [f"The {name or 'value'} {problem}."]})
    return text


def validate_json(field: str, value: Any, *, card_data_allowed: bool = False) -> Any:
    """Free-form JSON bounded in depth, size and items, its keys and texts checked like
    :func:`text_problem`, its numbers finite: refused with a field message, never stored."""
    _check_json(field, value, path="", depth=0, card_data_allowed=card_data_allowed)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise OrderRequestInvalid({field: [f"Send at most {MAX_JSON_BYTES} bytes here."]})
    return value


def _check_json(field: str, value: Any, *, path: str, depth: int, card_data_allowed: bool) -> None:
    def refuse(message: str) -> OrderRequestInvalid:
        return OrderRequestInvalid({field: [f"{path}: {message}" if path else message]})

    if depth > MAX_JSON_DEPTH:
        raise refuse(f"Nest at most {MAX_JSON_DEPTH} levels deep.")
    if isinstance(value, dict | list) and len(value) > MAX_JSON_ITEMS:
        raise refuse(f"Send at most {MAX_JSON_ITEMS} items in one object or list.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise refuse("Keys must be text.")
            validate_text(field, key, max_length=100, card_data_allowed=card_data_allowed, name="key")
            inner = f"{path}.{key}" if path else key
            _check_json(field, item, path=inner, depth=depth + 1, card_data_allowed=card_data_allowed)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            inner = f"{path}[{index}]"
            _check_json(field, item, path=inner, depth=depth + 1, card_data_allowed=card_data_allowed)
    elif isinstance(value, str):
        validate_text(field, value, max_length=MAX_JSON_TEXT, card_data_allowed=card_data_allowed, name=path)
    elif isinstance(value, float) and not math.isfinite(value):
        raise refuse("Numbers must be finite.")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        raise refuse("Numbers must be smaller than 2**53.")
    elif not isinstance(value, int | float | bool) and value is not None:
        raise refuse("Send JSON: objects, lists, text, numbers, true, false or null.")
