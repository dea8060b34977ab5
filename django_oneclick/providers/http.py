"""Base class for providers spoken to over HTTP with httpx.

It owns the pooled client (one per provider per process), the timeouts, the recording of every
request and response, and the translation of transport failures into provider errors. A
provider fills in :meth:`HttpProvider.error_for_response` to map its documented error bodies.
:meth:`HttpProvider.request` sends one call; :meth:`HttpProvider.stream` sends one whose answer
is a stream of server-sent events, with the same recording and the same meaning of failures.

Only a 429 proves by its status alone that nothing was done: a 5xx may come from a gateway that
already forwarded the request, so for a call that may charge it leaves the outcome unknown,
unless the provider's own documented error body says its application refused the call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import httpx
from django.utils import timezone

from django_oneclick.providers.base import (
    AuthenticationFailed,
    ExchangeDraft,
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

T = TypeVar("T")

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
_EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event of :meth:`HttpProvider.stream`: its name and its data (parsed when
    it is JSON, else the text)."""

    name: str
    data: Any


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
                    self._client = httpx.Client(
                        base_url=self.base_url, timeout=self.timeout, transport=self.transport()
                    )
        return self._client

    def transport(self) -> httpx.BaseTransport | None:
        """The client's transport: None for the network. Only a provider whose API runs in this
        process (the sandbox) fills it."""
        return None

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
        with self.exchange(log, operation, _logged_request(method, url, kwargs)) as draft:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                raise self.transport_error(exc, safe_to_retry=safe_to_retry) from exc
            self._record_answer(response, draft, safe_to_retry=safe_to_retry)
            return response

    def stream(
        self,
        log: ExchangeLog,
        operation: str,
        method: str,
        url: str,
        *,
        safe_to_retry: bool,
        deadline: float,
        on_event: Callable[[StreamEvent, Sequence[StreamEvent]], T | None],
        on_plain: Callable[[httpx.Response], T] | None = None,
        steps: Mapping[str, str] | None = None,
        deadline_option: str = "",
        **kwargs: Any,
    ) -> T:
        """Send one request answered by a stream of server-sent events, and record it with every
        event received (in the exchange's response, under ``events``).

        ``on_event(event, events so far)`` returns the call's result at the final event, or raises
        the error an event announces; ``None`` reads on. ``steps`` maps an event's name to the
        step shown while the call runs (:meth:`ExchangeLog.progress`). An answer that is not an
        event stream is checked as :meth:`request` checks one (an error status raises) and handed
        to ``on_plain``; without ``on_plain`` it is no answer. ``deadline``: the seconds the whole
        stream may take once it opened (checked as each event arrives; ``READ_TIMEOUT`` bounds the
        wait for the next), named ``deadline_option`` in the message. Past it, when the stream
        ends without a final event, or when the connection fails after sending, a call that may
        charge (``safe_to_retry`` False) has an unknown outcome.

        Needs httpx-sse, imported here: only a provider that streams lists it in its extra.
        """
        from httpx_sse import EventSource

        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Accept": _EVENT_STREAM}
        with self.exchange(log, operation, _logged_request(method, url, kwargs)) as draft:
            try:
                with self.client.stream(method, url, **kwargs) as response:
                    if _EVENT_STREAM not in response.headers.get("content-type", ""):
                        response.read()  # answered plainly (e.g. an error before any processing)
                        self._record_answer(response, draft, safe_to_retry=safe_to_retry)
                        if on_plain is None:
                            raise failure_after_sending(
                                f"{self.display_name} answered without an event stream.",
                                may_have_acted=not safe_to_retry,
                            )
                        return on_plain(response)
                    draft.http_status = response.status_code
                    events: list[StreamEvent] = []
                    recorded: list[dict[str, Any]] = []
                    draft.response = {**self.describe_response(response, None), "events": recorded}
                    ends = time.monotonic() + deadline
                    for sse in EventSource(response).iter_sse():
                        event = StreamEvent(sse.event, _event_data(sse.data))
                        events.append(event)
                        recorded.append({"event": event.name, "data": event.data})
                        if steps and event.name in steps:
                            log.progress(steps[event.name])
                        result = on_event(event, events)
                        if result is not None:
                            return result
                        if time.monotonic() > ends:
                            named = f" ({deadline_option})" if deadline_option else ""
                            raise failure_after_sending(
                                f"{self.display_name}'s event stream did not finish within {deadline:g} s{named}.",
                                may_have_acted=not safe_to_retry,
                            )
            except httpx.TransportError as exc:
                raise self.transport_error(exc, safe_to_retry=safe_to_retry) from exc
            raise failure_after_sending(
                f"{self.display_name}'s event stream ended before its final event.", may_have_acted=not safe_to_retry
            )

    def _record_answer(self, response: httpx.Response, draft: ExchangeDraft, *, safe_to_retry: bool) -> None:
        """Record a (read) answer, and raise what an error status or a redirect means."""
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


def _logged_request(method: str, url: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """What the exchange log keeps of a request (redacted when it is recorded)."""
    logged: dict[str, Any] = {"method": method, "url": url}
    for key in ("params", "headers", "json", "data"):
        if kwargs.get(key) is not None:
            logged[key] = dict(kwargs[key]) if key == "headers" else kwargs[key]
    return logged


def _event_data(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
