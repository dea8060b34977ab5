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
# 13 to 19 digits, optionally grouped by spaces or dashes: candidates for a card number.
_PAN_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


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
    """Replace anything that looks like a card number (Luhn-valid) by its last four digits."""

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if _luhn_valid(digits):
            return f"[card •••• {digits[-4:]}]"
        return match.group()

    return _PAN_CANDIDATE.sub(replace, text)


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
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))


redact = Redactor()
