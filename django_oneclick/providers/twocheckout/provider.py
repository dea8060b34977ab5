"""2Checkout (Verifone) one-click purchases through the SOAP API 6.0, on :class:`SoapProvider`.

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

The zeep client (the parsed WSDL and its requests session) belongs to the provider instance, one
per process (see :mod:`~django_oneclick.providers.soap`). The login session is reused until
shortly before its ten minutes run out (``SESSION_RENEW_AFTER``), so ``placeOrder`` always goes
with a fresh one.

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.checks import CheckMessage
from django.core.checks import Error as CheckError
from django.utils.translation import gettext_lazy as _

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES
from django_oneclick.providers.base import (
    AuthenticationFailed,
    CachedCredential,
    ExchangeLog,
    InvalidRequest,
    MethodDetails,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    PurchaseRequest,
    StatusRequest,
    failure_after_sending,
    option,
)
from django_oneclick.providers.soap import SoapOptions, SoapProvider

if TYPE_CHECKING:
    from zeep.exceptions import Fault

DEFAULT_WSDL_URL = "https://api.2checkout.com/soap/6.0/?wsdl"
LOGIN_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: 2Checkout's sessions expire after ten minutes.
SESSION_LIFETIME = 600
#: A previous order can pay a new one only in these statuses (2Checkout's one-click rules).
REFERENCE_STATUSES = frozenset({"AUTHRECEIVED", "COMPLETE"})
PAID_STATUSES = frozenset({"AUTHRECEIVED", "COMPLETE"})
FAILED_STATUSES = frozenset({"CANCELED", "REVERSED", "REFUND"})
REJECTED_APPROVALS = frozenset({"REJECTED", "FRAUD", "INVALIDDATA"})
#: A fault about the session id (2Checkout documents no code for it): matched on code and message.
SESSION_FAULT = re.compile(r"session|auth|log ?in", re.IGNORECASE)
MAX_QUANTITY = 99999
#: The most requests one purchase makes: the WSDL (the provider's first purchase), then for
#: ``isValidOrderReference`` and ``getOrder`` each a login (none yet, or too old), the call, and
#: after a session fault a login and the call again; for ``placeOrder`` a login and the call.
REQUESTS_PER_PURCHASE = 1 + 4 + 4 + 2
METHOD_UNUSABLE = _("This saved payment method can no longer be used. Please choose another one.")

#: Documented codes of faults for an order 2Checkout refused (any other ``ORDER_*`` code too).
FAULTS: dict[str, str] = {
    "ORDER_PRODUCTS_EMPTY": "products_empty",
    "ORDER_PRODUCT_CODE_INVALID": "product_code_invalid",
    "PRODUCT_ERROR": "product_code_invalid",
    "ORDER_ITEMS_QUANTITY_INVALID": "quantity_invalid",
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


#: The codes an order may keep beyond the core's -> what the customer is told.
CUSTOMER_MESSAGES = {
    "products_empty": _("The payment provider refused the order: it holds no product. Nothing was charged."),
    "product_code_invalid": _("This product cannot be bought from the payment provider. Nothing was charged."),
    "quantity_invalid": _("The payment provider refused this quantity. Nothing was charged."),
    "reference_invalid": METHOD_UNUSABLE,
    "reference_not_eligible": METHOD_UNUSABLE,
    "email_mismatch": METHOD_UNUSABLE,
    "session_expired": CORE_MESSAGES[ErrorCode.AUTHENTICATION_FAILED],
    # An order's Status or ApproveStatus at 2Checkout, lowercased (``rejected``: by its anti-fraud check).
    "canceled": _("The payment provider cancelled the order."),
    "reversed": _("The payment provider reversed the payment, so the order was cancelled."),
    "refund": _("The payment provider refunded the payment, so the order was cancelled."),
    "rejected": _("The payment provider did not approve the payment. Please use another payment method."),
}


class _SessionExpired(AuthenticationFailed):
    """2Checkout refused our session id on a call that cannot charge: log in again, once."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="session_expired")


@dataclass(frozen=True)
class TwoCheckoutOptions(SoapOptions):
    MERCHANT_CODE: str = option(required=True)
    SECRET_KEY: str = option(required=True, secret=True)
    WSDL_URL: str = DEFAULT_WSDL_URL
    RECURRING_ENABLED: bool = False
    #: Default: the reference order's country.
    COUNTRY: str = ""
    LANGUAGE: str = "en"
    #: Seconds a session is reused; 2Checkout's sessions expire after 10 minutes (check E009).
    SESSION_RENEW_AFTER: float = option(540.0, minimum=0)
    #: How long an order may take to show in ``searchOrders`` before its absence is believed.
    NOT_FOUND_AFTER: float = option(900.0, minimum=0)


class TwoCheckoutProvider(SoapProvider):
    display_name = "2Checkout"
    options_class = TwoCheckoutOptions
    options: TwoCheckoutOptions
    sensitive_keys = ("hash", "sessionID")
    customer_messages = CUSTOMER_MESSAGES
    calls_per_purchase = REQUESTS_PER_PURCHASE
    parameters = {
        "login": ("merchantCode", "date", "hash", "algo"),
        "isValidOrderReference": ("sessionID", "RefNo"),
        "getOrder": ("sessionID", "RefNo"),
        "placeOrder": ("sessionID", "Order"),
        "searchOrders": ("sessionID", "orderSearchOptions"),
    }

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self._session = CachedCredential()

    def check(self) -> list[CheckMessage]:
        errors = super().check()
        renew_after = self.options.SESSION_RENEW_AFTER
        if renew_after >= SESSION_LIFETIME:
            errors.append(
                CheckError(
                    f"ONECLICK['PROVIDERS'][{self.name!r}] option 'SESSION_RENEW_AFTER' ({renew_after:g} s) "
                    f"must be under {SESSION_LIFETIME} s: 2Checkout sessions expire after 10 minutes.",
                    hint="Leave the default (540), or lower it.",
                    id="django_oneclick.E009",
                )
            )
        return errors

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

    def error_for_fault(self, operation: str, fault: Fault, *, safe_to_retry: bool) -> ProviderError:
        code = str(fault.code).strip()
        message = self.fault_message(operation, fault)
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
        return super().error_for_fault(operation, fault, safe_to_retry=safe_to_retry)

    def logged_answer(self, method: str, answer: Any) -> Any:
        # The session id, under its sensitive name.
        return {"sessionID": answer} if method == "login" else answer

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

    # -- calls with the session

    def _call(self, log: ExchangeLog, operation: str, argument: Any, *, safe_to_retry: bool = True) -> Any:
        """Call an operation that takes the session id first. One that cannot charge is sent once
        more after a new login if 2Checkout refuses the session; ``placeOrder`` never is."""
        if not safe_to_retry:
            session_id = self._session.get(lambda _old: self._login(log))
            return self.call(log, operation, operation, session_id, argument, safe_to_retry=False)
        return self._session.call(
            lambda _expired: self._login(log),
            lambda session_id: self.call(log, operation, operation, session_id, argument, safe_to_retry=True),
            rejected=_SessionExpired,
        )

    def _login(self, log: ExchangeLog) -> tuple[str, float]:
        """A new session id, used for ``SESSION_RENEW_AFTER`` seconds (2Checkout keeps it ten minutes)."""
        merchant_code = self.options.MERCHANT_CODE
        date = datetime.now(UTC).strftime(LOGIN_DATE_FORMAT)
        digest = login_hash(merchant_code, self.options.SECRET_KEY, date)
        session_id = self.call(log, "login", "login", merchant_code, date, digest, "sha256", safe_to_retry=True)
        return str(session_id), self.options.SESSION_RENEW_AFTER
