"""A credential (token, session) shared by the threads of one provider and renewed when rejected."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django_oneclick.domain.errors import AuthenticationFailed, ProviderError

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
