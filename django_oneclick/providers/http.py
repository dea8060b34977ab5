"""Base class for providers spoken to over HTTP with httpx.

It owns the pooled client (one per provider per process), the timeouts, the recording of every
request and response, and the translation of transport failures into provider errors. A
provider fills in :meth:`HttpProvider.error_for_response` to map its documented error bodies.

Only a 429 proves by its status alone that nothing was done: a 5xx may come from a gateway that
already forwarded the request, so for a call that may charge it leaves the outcome unknown,
unless the provider's own documented error body says its application refused the call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
from django.utils import timezone

from django_oneclick.providers.base import (
    AuthenticationFailed,
    ExchangeLog,
    InvalidRequest,
    NotFound,
    Provider,
    ProviderError,
    ProviderOptions,
    ProviderUnavailable,
    failure_after_sending,
    option,
)

#: Response headers worth keeping in the exchange log.
_KEPT_RESPONSE_HEADERS = (
    "location",
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-reset",
    "content-type",
    "x-request-id",
)
_MAX_LOGGED_TEXT = 4000


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The server's hint in seconds: ``Retry-After`` (delta or HTTP date), else the reset of
    the IETF ``RateLimit`` headers, if any."""
    value = response.headers.get("retry-after")
    if not value:
        return ratelimit_reset_seconds(response)
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def ratelimit_reset_seconds(response: httpx.Response) -> float | None:
    """Seconds until an exhausted quota resets, from ``RateLimit: "p";r=0;t=10`` (draft 8 and
    later; the longest wait of the exhausted policies) or ``RateLimit-Reset: 10`` (earlier)."""
    waits: list[tuple[bool, float]] = []
    for policy in response.headers.get("ratelimit", "").split(","):
        params = dict(part.strip().split("=", 1) for part in policy.split(";") if "=" in part)
        try:
            waits.append((params.get("r") == "0", float(params["t"])))
        except (KeyError, ValueError):
            continue
    if waits:
        exhausted = [wait for is_exhausted, wait in waits if is_exhausted]
        return max(exhausted or [wait for _, wait in waits])
    try:
        return max(0.0, float(response.headers["ratelimit-reset"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class HttpOptions(ProviderOptions):
    """Where the provider's API is and how long to wait for it (seconds)."""

    BASE_URL: str = ""
    CONNECT_TIMEOUT: float = option(5.0, minimum=0.001)
    READ_TIMEOUT: float = option(30.0, minimum=0.001)


class HttpProvider(Provider):
    """A provider with an HTTP API (options: :class:`HttpOptions`)."""

    options_class: ClassVar[type[ProviderOptions]] = HttpOptions
    options: HttpOptions
    #: How many requests one purchase makes at most (token fetches and renewals included): with
    #: the timeouts, how long a purchase may run (:attr:`purchase_timeout`).
    calls_per_purchase: ClassVar[int] = 1

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.options.BASE_URL.rstrip("/")

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.options.READ_TIMEOUT, connect=self.options.CONNECT_TIMEOUT)

    @property
    def purchase_timeout(self) -> timedelta:
        timeout = self.timeout
        return self.calls_per_purchase * timedelta(seconds=(timeout.connect or 0) + (timeout.read or 0))

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- hooks

    def error_for_response(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError | None:
        """Map a documented error body to a provider error; ``None`` falls back to the status.
        ``safe_to_retry`` is False for a call that may have charged: map a server error to
        :class:`ProviderUnavailable` only when its documented body proves nothing was done."""
        return None

    # -- calls

    def request(
        self,
        log: ExchangeLog,
        operation: str,
        method: str,
        url: str,
        *,
        safe_to_retry: bool,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request and record it. ``safe_to_retry`` is False for calls that may charge:
        a failure after sending them raises :class:`OutcomeUnknown`, never a plain error."""
        logged_request = {"method": method, "url": url}
        for key in ("params", "headers", "json", "data"):
            if kwargs.get(key) is not None:
                logged_request[key] = dict(kwargs[key]) if key == "headers" else kwargs[key]
        with self.exchange(log, operation, logged_request) as draft:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                raise self.transport_error(exc, safe_to_retry=safe_to_retry) from exc
            body = self.parse_body(response)
            draft.http_status = response.status_code
            draft.response = self.describe_response(response, body)
            if response.is_error:
                raise self.error_for_status(response, body, safe_to_retry=safe_to_retry)
            if not response.is_success:
                # A redirect (to a maintenance page, a login, ...) is no answer to the call: it
                # neither confirms nor denies that a purchase was placed.
                raise failure_after_sending(
                    f"{self.display_name} answered HTTP {response.status_code} "
                    f"(Location {response.headers.get('location', '')!r}) instead of an answer.",
                    may_have_acted=not safe_to_retry,
                )
            return response

    def transport_error(self, exc: httpx.TransportError, *, safe_to_retry: bool) -> ProviderError:
        """What a transport failure means (also for streamed calls): not connected, nothing was
        sent; after sending a call that may charge, the outcome is unknown."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return ProviderUnavailable(f"{self.display_name} could not be reached: {exc!r}")
        return failure_after_sending(
            f"No answer from {self.display_name} after sending: {exc!r}", may_have_acted=not safe_to_retry
        )

    @staticmethod
    def parse_body(response: httpx.Response) -> Any:
        """The JSON body, or the text when it is not JSON (kept for the log), or None."""
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return response.text[:_MAX_LOGGED_TEXT]

    @staticmethod
    def describe_response(response: httpx.Response, body: Any) -> dict[str, Any]:
        headers = {k: response.headers[k] for k in _KEPT_RESPONSE_HEADERS if k in response.headers}
        return {"headers": headers, "body": body}

    def error_for_status(
        self, response: httpx.Response, body: Any, *, safe_to_retry: bool
    ) -> ProviderError:
        """What an error answer means: the provider's documented body first, else its status."""
        mapped = self.error_for_response(response, body, safe_to_retry=safe_to_retry)
        if mapped is not None:
            return mapped
        status = response.status_code
        detail = f"{self.display_name} answered HTTP {status}: {str(body)[:300]}"
        if status in (401, 403):
            return AuthenticationFailed(detail)
        if status == 404:
            return NotFound(detail)
        if status == 429:
            return ProviderUnavailable(detail, retry_after=retry_after_seconds(response))
        if status >= 500:
            return failure_after_sending(
                detail, may_have_acted=not safe_to_retry, retry_after=retry_after_seconds(response)
            )
        return InvalidRequest(detail)

    def json_body(self, response: httpx.Response, *, safe_to_retry: bool) -> dict[str, Any]:
        """The response's JSON object; a malformed success body of a call that may have charged
        leaves the outcome unknown."""
        body = self.parse_body(response)
        if isinstance(body, dict):
            return body
        raise failure_after_sending(
            f"{self.display_name} sent a malformed body: {str(body)[:200]!r}", may_have_acted=not safe_to_retry
        )
