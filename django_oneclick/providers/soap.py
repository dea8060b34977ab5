"""Base class for providers spoken to over SOAP with zeep (an optional dependency: a provider
package built on it calls ``extras.require("zeep", ...)`` before importing this module).

Like :class:`~django_oneclick.providers.http.HttpProvider` for HTTP APIs, it owns the transport:
one zeep client per provider instance, built at the first call (the WSDL is fetched and parsed
once per instance, and the registry builds one instance per process), with one requests session
and the timeouts, closed by :meth:`SoapProvider.close`; the recording of every call (its
arguments by name, its answer serialized, a fault's code and message); and the translation of
transport failures into provider errors. A provider names its operations' parameters
(:attr:`SoapProvider.parameters`) and maps its documented faults in
:meth:`SoapProvider.error_for_fault`.

As over plain HTTP, only a 429 proves by its status alone that nothing was done: any other error
status, a fault without a code (an error page of a proxy) or an answer zeep cannot read may come
after the call was acted upon, so for a call that may charge the outcome is unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import requests
import zeep
import zeep.exceptions
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from zeep.helpers import serialize_object
from zeep.proxy import ServiceProxy
from zeep.transports import Transport

from django_oneclick.providers.base import (
    ExchangeLog,
    InvalidRequest,
    Provider,
    ProviderError,
    ProviderOptions,
    ProviderUnavailable,
    failure_after_sending,
    option,
)


@dataclass(frozen=True)
class SoapOptions(ProviderOptions):
    """Where the WSDL is, where to send the calls, and how long to wait (seconds)."""

    WSDL_URL: str = option(required=True)
    #: Overrides the service address the WSDL gives.
    SERVICE_URL: str = ""
    CONNECT_TIMEOUT: float = option(5.0, minimum=0.001)
    READ_TIMEOUT: float = option(20.0, minimum=0.001)


class _QuietTransport(Transport):
    """zeep's transport logs whole envelopes at DEBUG level, and they carry credentials: this one
    sends the same way without logging them, and can be closed."""

    def post(self, address: str, message: Any, headers: Mapping[str, str]) -> requests.Response:
        return self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout)

    def close(self) -> None:
        self.session.close()


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request failed before reaching the provider, so nothing was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError | ConnectTimeoutError)
    return False


class SoapProvider(Provider):
    """A provider with a SOAP API (options: :class:`SoapOptions`)."""

    options_class: ClassVar[type[ProviderOptions]] = SoapOptions
    options: SoapOptions
    #: The parameter names of each operation, in order: a call's arguments are recorded by name
    #: (so that ``sensitive_keys`` redacts them); an operation not named here records a list.
    parameters: ClassVar[Mapping[str, Sequence[str]]] = {}
    #: How many requests one purchase makes at most (the WSDL, logins and renewals included):
    #: with the timeouts, how long a purchase may run (:attr:`purchase_timeout`).
    calls_per_purchase: ClassVar[int] = 1

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._built: tuple[zeep.Client, ServiceProxy] | None = None
        self._client_lock = threading.Lock()

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) in seconds, for the WSDL and every call."""
        return self.options.CONNECT_TIMEOUT, self.options.READ_TIMEOUT

    @property
    def purchase_timeout(self) -> timedelta:
        return self.calls_per_purchase * timedelta(seconds=sum(self.timeouts))

    @property
    def client(self) -> zeep.Client:
        """This provider's zeep client, built (the WSDL fetched and parsed) at its first use."""
        return self._client_and_service()[0]

    @property
    def service(self) -> ServiceProxy:
        """The operations, sent to ``SERVICE_URL`` when it is set, else where the WSDL says."""
        return self._client_and_service()[1]

    def close(self) -> None:
        """Close the client's session (its pooled connections); a later call builds a new client."""
        with self._client_lock:
            built, self._built = self._built, None
        if built is not None:
            built[0].transport.close()

    # -- hooks

    def error_for_fault(self, operation: str, fault: zeep.exceptions.Fault, *, safe_to_retry: bool) -> ProviderError:
        """Map a SOAP fault (its code is never empty here) to a provider error. ``safe_to_retry``
        is False for a call that may have charged. By default a ``Client`` fault (the message was
        wrong) is refused, and any other leaves such a call unknown."""
        message = self.fault_message(operation, fault)
        if str(fault.code).rsplit(":", 1)[-1] == "Client":
            return InvalidRequest(message)
        return failure_after_sending(message, may_have_acted=not safe_to_retry)

    def logged_answer(self, method: str, answer: Any) -> Any:
        """What the exchange log keeps of a serialized answer (e.g. a bare credential under a
        sensitive key, so that it is redacted)."""
        return answer

    # -- calls

    def call(self, log: ExchangeLog, operation: str, method: str, *args: Any, safe_to_retry: bool) -> Any:
        """Call the SOAP ``method`` with ``args``, recorded as ``operation``; the answer comes back
        serialized to dicts and lists. ``safe_to_retry`` is False for calls that may charge: a
        failure after sending them raises :class:`OutcomeUnknown`, never a plain error."""
        names = self.parameters.get(method)
        logged = dict(zip(names, args, strict=True)) if names is not None else list(args)
        with self.exchange(log, operation, logged) as draft:
            service = self.service
            try:
                answer = service[method](*args)
            except zeep.exceptions.Fault as fault:
                draft.http_status = 500  # SOAP 1.1 faults travel with HTTP 500
                draft.response = {"faultcode": fault.code, "faultstring": fault.message}
                if not str(fault.code or "").strip():
                    # An error page of something in front of the provider (a proxy, a load balancer).
                    raise self.unreadable("an error without a fault code", safe_to_retry=safe_to_retry) from None
                raise self.error_for_fault(operation, fault, safe_to_retry=safe_to_retry) from None
            except zeep.exceptions.TransportError as exc:
                draft.http_status = exc.status_code
                if exc.status_code == 429:
                    raise ProviderUnavailable(f"{self.display_name} answered HTTP {exc.status_code}.") from exc
                # Any other status (a 503 too) may come from a gateway that forwarded the call.
                raise self.unreadable(f"HTTP {exc.status_code}", safe_to_retry=safe_to_retry) from exc
            except zeep.exceptions.ValidationError as exc:
                # Raised while building the message, before anything is sent.
                raise InvalidRequest(f"{self.display_name} {operation} request is invalid: {exc}") from exc
            except zeep.exceptions.Error as exc:
                raise self.unreadable(type(exc).__name__, safe_to_retry=safe_to_retry) from exc
            except requests.RequestException as exc:
                if _never_connected(exc):
                    raise ProviderUnavailable(f"{self.display_name} could not be reached: {exc!r}") from exc
                raise failure_after_sending(
                    f"No answer from {self.display_name} after sending {operation}: {exc!r}",
                    may_have_acted=not safe_to_retry,
                ) from exc
            draft.http_status = 200
            answer = serialize_object(answer, dict)
            draft.response = self.logged_answer(method, answer)
        return answer

    def fault_message(self, operation: str, fault: zeep.exceptions.Fault) -> str:
        return f"{self.display_name} {operation} fault {str(fault.code).strip()}: {fault.message}"

    def unreadable(self, what: str, *, safe_to_retry: bool) -> ProviderError:
        """An answer that says nothing: unknown for a call that may charge."""
        return failure_after_sending(
            f"{self.display_name} sent an unreadable answer ({what}).", may_have_acted=not safe_to_retry
        )

    # -- the client

    def _client_and_service(self) -> tuple[zeep.Client, ServiceProxy]:
        built = self._built
        if built is None:
            with self._client_lock:
                if self._built is None:
                    self._built = self._build()
                built = self._built
        return built

    def _build(self) -> tuple[zeep.Client, ServiceProxy]:
        wsdl_url = self.options.WSDL_URL
        timeouts = self.timeouts
        transport = _QuietTransport(timeout=timeouts, operation_timeout=timeouts, session=requests.Session())
        try:
            client = zeep.Client(wsdl_url, transport=transport)
        except (requests.RequestException, zeep.exceptions.Error, ValueError) as exc:
            transport.close()
            raise ProviderUnavailable(
                f"The {self.display_name} WSDL could not be loaded from {wsdl_url}: {exc!r}"
            ) from exc
        address = self.options.SERVICE_URL
        if not address:
            return client, client.service
        service = next(iter(client.wsdl.services.values()))
        port = next(iter(service.ports.values()))
        return client, client.create_service(port.binding.name.text, address)
