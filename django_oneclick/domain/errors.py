"""The errors of the order rules, for the surfaces (API, form, admin) to turn into answers.
They carry no HTTP status: each surface decides how to say them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.messages import CORE_MESSAGES, PROVIDER_ERROR, CustomerText
from django_oneclick.domain.types import Candidate

if TYPE_CHECKING:
    from django_oneclick.models import OneClickOrder

#: The key of errors that concern the request as a whole, not one field.
GENERAL = NON_FIELD_ERRORS


class OrderRequestInvalid(Exception):
    """Bad input: ``errors`` maps a field name to messages. Nothing was written."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = dict(errors)


class IdempotencyConflict(Exception):
    def __init__(self, message: str, order: OneClickOrder) -> None:
        super().__init__(message)
        self.order = order


class RequestInFlight(IdempotencyConflict):
    """The first request with this key has not finished yet (409)."""


class KeyReusedForAnotherRequest(IdempotencyConflict):
    """The key was used before with a different body (422)."""


class InvalidTransition(Exception):
    pass


class ProviderOrderTaken(Exception):
    """The provider named an order that already settles another of our orders: one charge is
    never two orders (the database's unique constraint decides between racing processes)."""

    def __init__(self, provider_order_id: str, holder: OneClickOrder | None) -> None:
        holder_id = holder.public_id if holder else "another order"
        super().__init__(f"Provider order {provider_order_id} already belongs to order {holder_id}.")
        self.provider_order_id = provider_order_id
        self.holder = holder



class MethodInUse(Exception):
    """The method pays for an order that is not settled yet: the provider may need it to tell
    where that order stands."""


# --- what a provider raises -----------------------------------------------------------------


class ProviderError(Exception):
    """Base of what a provider may raise. ``message`` is for the operator, kept in the order.
    ``customer_message`` is shown only for a refusal before the order is written (``prepare``,
    ``register_method``: our own rules, as field errors); on an order, the customer reads the
    catalogue's words for its ``code`` (:mod:`django_oneclick.domain.messages`), never these."""

    # Each subclass's default, which one error may replace (``__init__``): not class variables.
    code: str = PROVIDER_ERROR
    customer_message: CustomerText = CORE_MESSAGES[PROVIDER_ERROR]
    #: True when the provider certainly did not act on the request, so trying again is safe.
    nothing_charged: ClassVar[bool] = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        customer_message: CustomerText | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or str(self.customer_message))
        self.message = message or str(self.customer_message)
        if code:
            self.code = code
        if customer_message:
            self.customer_message = customer_message
        self.retry_after = retry_after


class PaymentDeclined(ProviderError):
    code = ErrorCode.DECLINED
    customer_message = CORE_MESSAGES[ErrorCode.DECLINED]


class InvalidRequest(ProviderError):
    code = ErrorCode.INVALID_REQUEST
    customer_message = CORE_MESSAGES[ErrorCode.INVALID_REQUEST]

    @classmethod
    def for_customer(cls, message: str) -> InvalidRequest:
        """A refusal by our own rules before the order is written, worded for the customer, so it
        is shown as it is (a field error). Never for what the provider answered."""
        return cls(message, customer_message=message)


class NotFound(InvalidRequest):
    """The provider answered that what was asked for does not exist (an HTTP 404, or its
    documented equivalent). Only the caller knows whether that is our order, so whether it may
    become :class:`OrderNotFound` (a fetch of our order by the provider's own id) or says nothing
    of our order (a list or route missing)."""

    code = ErrorCode.NOT_FOUND


class AuthenticationFailed(ProviderError):
    code = ErrorCode.AUTHENTICATION_FAILED
    customer_message = CORE_MESSAGES[ErrorCode.AUTHENTICATION_FAILED]


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or asked us to come back: nothing was done."""

    code = ErrorCode.PROVIDER_UNAVAILABLE
    customer_message = CORE_MESSAGES[ErrorCode.PROVIDER_UNAVAILABLE]


class OutcomeUnknown(ProviderError):
    """The request may have been acted upon (e.g. a timeout after sending): never resend it."""

    code = ErrorCode.OUTCOME_UNKNOWN
    customer_message = CORE_MESSAGES[ErrorCode.OUTCOME_UNKNOWN]
    nothing_charged = False


class OrderNotFound(ProviderError):
    """On a status fetch: the provider states it has no such order, so none was placed."""

    code = ErrorCode.NOT_PLACED
    customer_message = CORE_MESSAGES[ErrorCode.NOT_PLACED]


def failure_after_sending(
    message: str, *, may_have_acted: bool, retry_after: float | None = None
) -> ProviderError:
    """A call failed after it was sent (no answer, a server error, an unreadable answer): if
    the call may have charged, the provider may have acted, so the outcome is unknown and the
    call is never resent; otherwise nothing was done and trying again is safe."""
    if may_have_acted:
        return OutcomeUnknown(message)
    return ProviderUnavailable(message, retry_after=retry_after)


class OrderNotIdentified(OutcomeUnknown):
    """On a status fetch of an order whose purchase answer was lost, at a provider that keeps no
    reference of ours: ``candidates`` may be it. The order stays unknown for an operator unless no
    candidate is left once those settling other orders are set aside, the records read were
    complete and ``NOT_FOUND_AFTER`` has passed: then it was never placed."""

    code = ErrorCode.NEEDS_OPERATOR

    def __init__(
        self, message: str, *, candidates: list[Candidate], records_complete: bool, sought: str
    ) -> None:
        super().__init__(message)
        self.candidates = list(candidates)
        self.records_complete = records_complete
        self.sought = sought


class MethodNotSupported(ProviderError):
    """This provider does not let customers register a payment method through the API."""

    code = ErrorCode.METHOD_NOT_SUPPORTED
    customer_message = CORE_MESSAGES[ErrorCode.METHOD_NOT_SUPPORTED]
