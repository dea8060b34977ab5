"""2Checkout (Verifone) one-click purchases through the SOAP API 6.0, spoken with zeep.

The saved method is a previous order of the customer: ``reference`` is its ``RefNo`` and
``data["email"]`` its billing email, recorded by the shop when its first checkout completed
(build it with :func:`previous_order_method`). A purchase checks the reference
(``isValidOrderReference``, ``getOrder``) and pays the new order with it (``placeOrder`` with
``PaymentDetails.Type = "PREVIOUS_ORDER"``); our order id travels as ``ExternalReference``, so an
order whose answer was lost is found again with ``searchOrders`` and never sent twice.
Whatever 2Checkout documents it would refuse is refused here before ``placeOrder`` is sent:
a quantity outside 1..99999, a reference ``isValidOrderReference`` rejects or whose status is not
AUTHRECEIVED or COMPLETE, a saved email that is not the reference's billing email; the email sent
is the reference order's own, spelled exactly as 2Checkout holds it (it requires them identical).

The parsed WSDL is expensive: one zeep client per WSDL address and timeouts lives for the whole
process, with one requests session. The login session is reused until shortly before its ten
minutes run out (``SESSION_RENEW_AFTER``), so ``placeOrder`` always goes with a fresh one.

Session faults: 2Checkout "throws an exception" for an incorrect session id but documents no fault
code for it, so any fault whose code or message speaks of the session, authentication or logging
in counts as one. A call that cannot charge (``isValidOrderReference``, ``getOrder``,
``searchOrders``) is then sent once more after one new login. ``placeOrder`` never is: without a
documented code, nothing proves the fault came before 2Checkout acted on the order (a message
about a payment "authorization" reads the same), so the order is ``unknown`` and reconciled.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import zeep
import zeep.exceptions
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from zeep.cache import InMemoryCache
from zeep.helpers import serialize_object
from zeep.proxy import ServiceProxy
from zeep.transports import Transport

from django_oneclick.providers.base import (
    AuthenticationFailed,
    CachedCredential,
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    Provider,
    ProviderError,
    ProviderOptions,
    ProviderResult,
    ProviderStatus,
    ProviderUnavailable,
    PurchaseRequest,
    StatusRequest,
    failure_after_sending,
    option,
)

DEFAULT_WSDL_URL = "https://api.2checkout.com/soap/6.0/?wsdl"
LOGIN_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: A previous order can pay a new one only in these statuses (2Checkout's one-click rules).
REFERENCE_STATUSES = frozenset({"AUTHRECEIVED", "COMPLETE"})
PAID_STATUSES = frozenset({"AUTHRECEIVED", "COMPLETE"})
FAILED_STATUSES = frozenset({"CANCELED", "REVERSED", "REFUND"})
REJECTED_APPROVALS = frozenset({"REJECTED", "FRAUD", "INVALIDDATA"})
#: A fault about the session id (2Checkout documents no code for it): matched on code and message.
SESSION_FAULT = re.compile(r"session|auth|log ?in", re.IGNORECASE)
MAX_QUANTITY = 99999
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
#: The most requests one purchase makes: the WSDL (the first purchase of a process), then for
#: ``isValidOrderReference`` and ``getOrder`` each a login (none yet, or too old), the call, and
#: after a session fault a login and the call again; for ``placeOrder`` a login and the call.
REQUESTS_PER_PURCHASE = 1 + 4 + 4 + 2
METHOD_UNUSABLE = "This saved payment method can no longer be used. Please choose another one."

#: Documented codes of faults for an order 2Checkout refused (any other ``ORDER_*`` code too).
FAULTS: dict[str, str] = {
    "ORDER_PRODUCTS_EMPTY": "products_empty",
    "ORDER_PRODUCT_CODE_INVALID": "product_code_invalid",
    "PRODUCT_ERROR": "product_code_invalid",
    "ORDER_ITEMS_QUANTITY_INVALID": "quantity_invalid",
}
#: Parameter names of each operation, to record the calls by name.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "login": ("merchantCode", "date", "hash", "algo"),
    "isValidOrderReference": ("sessionID", "RefNo"),
    "getOrder": ("sessionID", "RefNo"),
    "placeOrder": ("sessionID", "Order"),
    "searchOrders": ("sessionID", "orderSearchOptions"),
}


def login_hash(merchant_code: str, secret_key: str, date: str) -> str:
    """The ``login`` hash: hex HMAC-SHA256, keyed by the secret key, of each of the merchant
    code and the UTC date preceded by its length in bytes."""
    source = f"{len(merchant_code.encode())}{merchant_code}{len(date.encode())}{date}"
    return hmac.new(secret_key.encode(), source.encode(), hashlib.sha256).hexdigest()


def previous_order_method(ref_no: str, billing_email: str) -> MethodDetails:
    """The saved method a shop records when a customer's first 2Checkout order completed."""
    return MethodDetails(
        reference=str(ref_no),
        label=f"2Checkout order {ref_no}",
        brand="2Checkout",
        data={"email": billing_email},
    )


# --- one zeep client per process ----------------------------------------------------------------

#: zeep's transport cache: the downloaded WSDL and schema documents, by address.
_documents = InMemoryCache()
_clients: dict[tuple[str, float, float], zeep.Client] = {}
_clients_lock = threading.Lock()
_wsdl_parses: Counter[str] = Counter()


def wsdl_parse_count(wsdl_url: str) -> int:
    """How many times this process parsed the WSDL at ``wsdl_url`` (once is the goal)."""
    return _wsdl_parses[wsdl_url]


class _QuietTransport(Transport):
    """zeep's transport logs whole envelopes at DEBUG level, and ours carry the login hash and
    the session id: this one sends the same way without logging them."""

    def post(self, address: str, message: Any, headers: Mapping[str, str]) -> requests.Response:
        return self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout)


def _client(wsdl_url: str, connect_timeout: float, read_timeout: float) -> zeep.Client:
    key = (wsdl_url, connect_timeout, read_timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            timeouts = (connect_timeout, read_timeout)
            transport = _QuietTransport(
                cache=_documents, timeout=timeouts, operation_timeout=timeouts, session=requests.Session()
            )
            client = zeep.Client(wsdl_url, transport=transport)
            _wsdl_parses[wsdl_url] += 1
            _clients[key] = client
    return client


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request failed before reaching 2Checkout, so nothing was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError | ConnectTimeoutError)
    return False


class _SessionExpired(AuthenticationFailed):
    """2Checkout refused our session id on a call that cannot charge: log in again, once."""

    code = "session_expired"


# --- the provider -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoCheckoutOptions(ProviderOptions):
    MERCHANT_CODE: str = option(required=True)
    SECRET_KEY: str = option(required=True, secret=True)
    WSDL_URL: str = DEFAULT_WSDL_URL
    #: Overrides the WSDL's service address.
    SERVICE_URL: str = ""
    RECURRING_ENABLED: bool = False
    #: Default: the reference order's country.
    COUNTRY: str = ""
    LANGUAGE: str = "en"
    CONNECT_TIMEOUT: float = option(DEFAULT_CONNECT_TIMEOUT, minimum=0.001)
    READ_TIMEOUT: float = option(DEFAULT_READ_TIMEOUT, minimum=0.001)
    #: Seconds a session is reused; 2Checkout's sessions expire after 10 minutes.
    SESSION_RENEW_AFTER: float = option(540.0, minimum=0)
    #: How long an order may take to show in ``searchOrders`` before its absence is believed.
    NOT_FOUND_AFTER: float = option(900.0, minimum=0)


class TwoCheckoutProvider(Provider):
    display_name = "2Checkout"
    options_class = TwoCheckoutOptions
    options: TwoCheckoutOptions
    sensitive_keys = ("hash", "sessionID")

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._service: ServiceProxy | None = None
        self._session = CachedCredential()

    @property
    def purchase_timeout(self) -> timedelta:
        connect, read = self._timeouts()
        return REQUESTS_PER_PURCHASE * timedelta(seconds=connect + read)

    # -- the hooks

    def prepare(self, request: PurchaseRequest) -> None:
        if not request.method.reference or not request.method.data.get("email"):
            raise InvalidRequest(
                "A 2Checkout method needs the previous order's RefNo and billing email.",
                customer_message=METHOD_UNUSABLE,
            )
        if not 1 <= request.quantity <= MAX_QUANTITY:
            raise InvalidRequest.for_customer(f"Choose a quantity from 1 to {MAX_QUANTITY}.")

    def purchase(self, request: PurchaseRequest, log: ExchangeLog) -> ProviderResult:
        reference = request.method.reference
        if not self._call(log, "isValidOrderReference", reference):
            raise self._unusable(f"2Checkout says order {reference} cannot pay a new order.", "reference_invalid")
        previous = self._call(log, "getOrder", reference)
        status = str(previous.get("Status") or "")
        if status not in REFERENCE_STATUSES:
            raise self._unusable(
                f"Reference order {reference} is {status or 'without status'}; only "
                f"{' or '.join(sorted(REFERENCE_STATUSES))} orders can pay again.",
                "reference_not_eligible",
            )
        billing_email = str((previous.get("BillingDetails") or {}).get("Email") or "")
        if not billing_email or billing_email.casefold() != str(request.method.data["email"]).strip().casefold():
            # Sending it anyway would make 2Checkout block the reference: stop here.
            raise self._unusable(
                f"The saved billing email differs from the one of reference order {reference}.", "email_mismatch"
            )
        placed = self._call(log, "placeOrder", self._order(request, previous, billing_email), safe_to_retry=False)
        return self._result(placed)

    def fetch_status(self, request: StatusRequest, log: ExchangeLog) -> ProviderResult:
        if request.provider_order_id:
            return self._result(self._call(log, "getOrder", request.provider_order_id))
        found = self._find_by_external_reference(request, log)
        if found is not None:
            return self._result(found)
        raise self.missing_order(request, f"order with ExternalReference {request.order_id}", records_complete=True)

    # -- building and reading orders

    @staticmethod
    def _unusable(message: str, code: str) -> InvalidRequest:
        return InvalidRequest(message, code=code, customer_message=METHOD_UNUSABLE)

    def _order(self, request: PurchaseRequest, previous: Mapping[str, Any], billing_email: str) -> dict[str, Any]:
        """The new order: only the reference order's billing email, so 2Checkout fills in the
        rest from the reference order, and our order id as ``ExternalReference``."""
        recurring = self.options.RECURRING_ENABLED
        return {
            "Currency": request.currency,
            "Country": self.options.COUNTRY or previous.get("Country"),
            "Language": self.options.LANGUAGE,
            "CustomerIP": request.customer_ip,
            "ExternalReference": request.order_id,
            "Items": [{"Code": request.product_id, "Quantity": request.quantity}],
            "BillingDetails": {"Email": billing_email},
            "PaymentDetails": {
                "Type": "PREVIOUS_ORDER",
                "Currency": request.currency,
                "CustomerIP": request.customer_ip,
                "PaymentMethod": {"RecurringEnabled": recurring, "RefNo": request.method.reference},
            },
        }

    def _find_by_external_reference(self, request: StatusRequest, log: ExchangeLog) -> dict[str, Any] | None:
        created = request.created_at.astimezone(UTC).date()
        options = {
            "ExternalRefNo": request.order_id,
            # A day of margin each side: the documentation does not say in which zone dates are.
            "StartDate": (created - timedelta(days=1)).isoformat(),
            "EndDate": (datetime.now(UTC).date() + timedelta(days=1)).isoformat(),
            "Pagination": {"Page": 1, "Limit": 10},
        }
        found = self._call(log, "searchOrders", options)
        matches = [o for o in (found or {}).get("Items") or [] if o.get("ExternalReference") == request.order_id]
        return matches[0] if matches else None

    @staticmethod
    def _result(order: Mapping[str, Any]) -> ProviderResult:
        ref_no = str(order.get("RefNo") or "")
        status = str(order.get("Status") or "").upper()
        approval = str(order.get("ApproveStatus") or "").upper()
        if status in FAILED_STATUSES or approval in REJECTED_APPROVALS:
            return ProviderResult(
                ProviderStatus.FAILED,
                ref_no,
                error_code="rejected" if approval in REJECTED_APPROVALS else status.lower(),
                error_message=f"2Checkout order {ref_no}: Status {status}, ApproveStatus {approval}.",
            )
        if status in PAID_STATUSES and approval == "OK":
            return ProviderResult(ProviderStatus.COMPLETED, ref_no)
        # PENDING, or paid but still WAITING for the anti-fraud approval.
        return ProviderResult(ProviderStatus.PROCESSING, ref_no)

    # -- calls

    def _call(self, log: ExchangeLog, operation: str, argument: Any, *, safe_to_retry: bool = True) -> Any:
        """Call an operation that takes the session id first. One that cannot charge is sent once
        more after a new login if 2Checkout refuses the session; ``placeOrder`` never is."""
        if not safe_to_retry:
            session_id = self._session.get(lambda _old: self._login(log))
            return self._invoke(log, operation, session_id, argument, safe_to_retry=False)
        return self._session.call(
            lambda _expired: self._login(log),
            lambda session_id: self._invoke(log, operation, session_id, argument, safe_to_retry=True),
            rejected=_SessionExpired,
        )

    def _login(self, log: ExchangeLog) -> tuple[str, float]:
        """A new session id, used for ``SESSION_RENEW_AFTER`` seconds (2Checkout keeps it ten minutes)."""
        merchant_code = self.options.MERCHANT_CODE
        date = datetime.now(UTC).strftime(LOGIN_DATE_FORMAT)
        digest = login_hash(merchant_code, self.options.SECRET_KEY, date)
        session_id = self._invoke(log, "login", merchant_code, date, digest, "sha256", safe_to_retry=True)
        return str(session_id), self.options.SESSION_RENEW_AFTER

    def _invoke(self, log: ExchangeLog, operation: str, *arguments: Any, safe_to_retry: bool) -> Any:
        """One SOAP call, recorded (redacted) with its answer or fault."""
        with self.exchange(log, operation, dict(zip(PARAMETERS[operation], arguments, strict=True))) as draft:
            service = self._service_proxy()
            try:
                answer = getattr(service, operation)(*arguments)
            except zeep.exceptions.Fault as fault:
                draft.http_status = 500  # SOAP 1.1 faults travel with HTTP 500
                draft.response = {"faultcode": fault.code, "faultstring": fault.message}
                raise self._error_for_fault(operation, fault, safe_to_retry=safe_to_retry) from None
            except zeep.exceptions.TransportError as exc:
                draft.http_status = exc.status_code
                if exc.status_code == 429:
                    raise ProviderUnavailable(f"2Checkout answered HTTP {exc.status_code}.") from exc
                # Any other status (a 503 too) may come from a gateway that forwarded the call.
                raise self._unreadable(f"HTTP {exc.status_code}", safe_to_retry) from exc
            except zeep.exceptions.ValidationError as exc:
                # Raised while building the message, before anything is sent.
                raise InvalidRequest(f"2Checkout {operation} request is invalid: {exc}") from exc
            except zeep.exceptions.Error as exc:
                raise self._unreadable(type(exc).__name__, safe_to_retry) from exc
            except requests.RequestException as exc:
                if _never_connected(exc):
                    raise ProviderUnavailable(f"2Checkout could not be reached: {exc!r}") from exc
                raise failure_after_sending(
                    f"No answer from 2Checkout after sending {operation}: {exc!r}", may_have_acted=not safe_to_retry
                ) from exc
            draft.http_status = 200
            answer = serialize_object(answer, dict)
            draft.response = {"sessionID": answer} if operation == "login" else answer
        return answer

    def _service_proxy(self) -> ServiceProxy:
        if self._service is None:
            wsdl_url = self.options.WSDL_URL
            try:
                client = _client(wsdl_url, *self._timeouts())
            except (requests.RequestException, zeep.exceptions.Error, ValueError) as exc:
                raise ProviderUnavailable(f"The 2Checkout WSDL could not be loaded from {wsdl_url}: {exc!r}") from exc
            address = self.options.SERVICE_URL
            if address:
                service = next(iter(client.wsdl.services.values()))
                port = next(iter(service.ports.values()))
                self._service = client.create_service(port.binding.name.text, str(address))
            else:
                self._service = client.service
        return self._service

    def _timeouts(self) -> tuple[float, float]:
        return self.options.CONNECT_TIMEOUT, self.options.READ_TIMEOUT

    @classmethod
    def _error_for_fault(cls, operation: str, fault: zeep.exceptions.Fault, *, safe_to_retry: bool) -> ProviderError:
        code = str(fault.code or "").strip()
        if not code:
            # An error page of something in front of 2Checkout (a proxy, a load balancer).
            return cls._unreadable("an error without a fault code", safe_to_retry)
        message = f"2Checkout {operation} fault {code}: {fault.message}"
        if operation == "login":
            return AuthenticationFailed(message)
        if code in FAULTS or code.startswith("ORDER_"):
            # A documented order validation error: refused.
            return InvalidRequest(message, code=FAULTS.get(code))
        if SESSION_FAULT.search(f"{code} {fault.message}"):
            if safe_to_retry:
                return _SessionExpired(message)
            # Not proof that nothing was placed (see the module's docstring): look it up.
            return failure_after_sending(message, may_have_acted=True)
        if code.rsplit(":", 1)[-1] == "Client":
            # SOAP's "the message was wrong": refused.
            return InvalidRequest(message)
        return failure_after_sending(message, may_have_acted=not safe_to_retry)

    @staticmethod
    def _unreadable(what: str, safe_to_retry: bool) -> ProviderError:
        return failure_after_sending(f"2Checkout sent an unreadable answer ({what}).", may_have_acted=not safe_to_retry)
