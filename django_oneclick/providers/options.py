"""A provider's options, typed, parsed and checked once when the provider is built.

Each provider declares its options as a frozen dataclass whose field names are the keys of its
``ONECLICK["PROVIDERS"][name]`` dict::

    @dataclass(frozen=True)
    class EchoOptions(HttpOptions):
        API_KEY: str = option(required=True, secret=True)
        RETRIES: int = 2

:func:`parse_options` turns the shop's dict into that object, converting each value to the
field's type with one set of rules for every provider (``"on"`` is true everywhere), and returns
every problem (an unknown key, a value of the wrong type, a missing required value) for the
system checks to report at start-up. A problem never raises: the field keeps its default, so a
shop sees all its mistakes at once, in ``manage.py check``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

#: Spellings of true and false accepted for a boolean option (an environment variable is a string).
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

OptionsT = TypeVar("OptionsT", bound="ProviderOptions")


def option(default: Any = "", *, required: bool = False, secret: bool = False, minimum: float | None = None) -> Any:
    """A field of a provider's options. ``required``: the provider cannot work without it (an
    empty value counts as missing); ``secret``: its value is redacted wherever it appears;
    ``minimum``: the smallest number accepted."""
    return dataclasses.field(default=default, metadata={"required": required, "secret": secret, "minimum": minimum})


@dataclass(frozen=True)
class ProviderOptions:
    """The options every provider has."""

    #: For an order whose purchase answer was lost: after how many seconds its absence from the
    #: provider's complete records means it was never placed (see Provider.missing_order).
    NOT_FOUND_AFTER: float = option(600.0, minimum=0)

    @classmethod
    def secret_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("secret"))

    def secret_values(self) -> list[str]:
        return [str(getattr(self, name)) for name in self.secret_names() if getattr(self, name)]


@dataclass(frozen=True)
class OptionProblem:
    key: str
    message: str
    #: A required option is missing (E005), rather than present and wrong (E009).
    missing: bool = False


def parse_options(cls: type[OptionsT], raw: Mapping[str, Any]) -> tuple[OptionsT, list[OptionProblem]]:
    """``cls`` built from the shop's ``raw`` dict, and what was wrong with it."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[OptionProblem] = []
    for key, value in raw.items():
        if key not in fields:
            problems.append(OptionProblem(key, f"is not an option (known: {', '.join(sorted(fields))})."))
            continue
        try:
            values[key] = _convert(value, hints[key], fields[key].metadata.get("minimum"))
        except (TypeError, ValueError) as exc:
            problems.append(OptionProblem(key, str(exc)))
    for name, field in fields.items():
        if field.metadata.get("required") and not values.get(name):
            problems.append(OptionProblem(name, "is missing.", missing=True))
    return cls(**values), problems


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of an options class, once per class."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(value: Any, kind: Any, minimum: float | None) -> Any:
    """``value`` as ``kind`` (str, bool, int, float, or one of them or None)."""
    if typing.get_origin(kind) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None:
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    if kind is bool:
        return _to_bool(value)
    if kind in (int, float):
        return _to_number(value, kind, minimum)
    if kind is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise TypeError(f"must be text, not {type(value).__name__}.")
        return str(value)
    raise TypeError(f"has an option type the parser does not know: {kind!r}.")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"must be true or false (or one of {', '.join(sorted(_TRUE | _FALSE - {''}))}), not {value!r}.")


def _to_number(value: Any, kind: type[int] | type[float], minimum: float | None) -> int | float:
    if isinstance(value, bool):
        raise TypeError("must be a number, not true or false.")
    try:
        number = kind(value) if kind is float or not isinstance(value, float) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"must be a{'n integer' if kind is int else ' number'}, not {value!r}.") from None
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(f"must be an integer, not {value!r}.")
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"must be a finite number, not {value!r}.")
    if minimum is not None and number < minimum:
        raise ValueError(f"must be at least {minimum:g}, not {value!r}.")
    return number
