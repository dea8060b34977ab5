"""Redaction of secrets and card data before anything is stored or logged.

Applied by the provider base class to every recorded exchange, so no provider can forget it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

# Keys whose values are secrets or card data wherever they appear (headers, JSON, SOAP).
SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|authori[sz]ation|api[-_]?key|hash|session|cvv|cvc|"
    r"verification|card[-_]?number|^number$|^pan$|encrypted|signature|cookie",
    re.IGNORECASE,
)
# Digits grouped by single spaces or dashes: a card number may hide anywhere in such a run,
# next to other numbers such as an expiry month or a CVV ("4242 4242 4242 4242 12/26").
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_GROUP_SEPARATOR = re.compile(r"([ -])")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Replace anything that looks like a card number (13 to 19 Luhn-valid digits, possibly
    grouped) by its last four digits."""
    return _DIGIT_RUN.sub(lambda match: _mask_run(match.group()), text)


def _mask_run(run: str) -> str:
    """Mask, from the left, each longest span of whole digit groups that is a card number."""
    parts = _GROUP_SEPARATOR.split(run)  # digits, separator, digits, separator, ...
    groups = parts[::2]
    masked, copied, start = [], 0, 0
    while start < len(groups):
        found = _card_starting_at(groups, start)
        if found is None:
            start += 1
            continue
        end, card = found
        masked += [*parts[copied : 2 * start], f"[card •••• {card[-4:]}]"]
        copied, start = 2 * end + 1, end + 1
    return "".join(masked + parts[copied:])


def _card_starting_at(groups: list[str], start: int) -> tuple[int, str] | None:
    """The last group and digits of the longest card number made of groups from ``start``."""
    digits, found = "", None
    for end in range(start, len(groups)):
        digits += groups[end]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and _luhn_valid(digits):
            found = end, digits
    return found


#: A security code named as such ("CVV 123", "cvc: 1234", "security code 123").
_NAMED_CVV = re.compile(r"\b(?:cvv2?|cvc2?|cv2|csc|cid|security\s*code)\b\W{0,3}\d{3,4}\b", re.IGNORECASE)
#: A 3-4 digit group right after a masked or last-four card ("•••• 4242 123", "**** 4242/123").
_CVV_AFTER_CARD = re.compile(r"(?:[•*xX]{2,}|\[card •+)\s*\d{4}\]?\W{1,3}\d{3,4}\b")


def card_data_in(text: str) -> str | None:
    """What of a card ``text`` carries, for a refusal message (never the data itself): a card
    number (13 to 19 Luhn-valid digits, possibly grouped) or a security code next to a card."""
    if mask_card_numbers(text) != text:
        return "a card number"
    if _NAMED_CVV.search(text) or _CVV_AFTER_CARD.search(mask_card_numbers(text)):
        return "a card security code"
    return None


class Redactor:
    """Removes sensitive keys, known secret values and card numbers from any JSON-like data."""

    def __init__(self, secrets: Iterable[str] = (), extra_keys: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self.extra_keys = frozenset(k.lower() for k in extra_keys)

    def is_sensitive_key(self, key: str) -> bool:
        return key.lower() in self.extra_keys or bool(SENSITIVE_KEY.search(key))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return mask_card_numbers(value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                str(k): REDACTED if self.is_sensitive_key(str(k)) else self(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | float):
            return value
        if isinstance(value, int):
            # A card number sent as a JSON number is still a card number.
            masked = self.text(str(value))
            return value if masked == str(value) else masked
        return self.text(str(value))
