"""The codes the order rules write: on an order (``error_code``, for the operator and the
customer's message catalogue) and in its audit trail (``ProviderExchange.operation``). A
provider adds its own error codes (e.g. ``rye_payment_failed``); these are the core's."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    DECLINED = "declined"
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    AUTHENTICATION_FAILED = "authentication_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    METHOD_NOT_SUPPORTED = "method_not_supported"
    #: The provider failed the order without a code of its own.
    FAILED = "failed"
    #: The purchase may have been acted upon: reconciled by lookup, never resent.
    OUTCOME_UNKNOWN = "outcome_unknown"
    #: The process placing the order died during (or before) the provider call.
    INTERRUPTED = "interrupted"
    #: The provider states it has no such order: nothing was charged.
    NOT_PLACED = "not_placed"
    #: Only an operator can tell which provider order, if any, is this one.
    NEEDS_OPERATOR = "needs_operator"
    #: The provider named an order that already settles another of ours.
    PROVIDER_ORDER_TAKEN = "provider_order_taken"
    SETTLED_BY_OPERATOR = "settled_by_operator"
    #: The background refresh stopped asking (``REFRESH_MAX_ATTEMPTS``).
    REFRESH_GAVE_UP = "refresh_gave_up"


class AuditOperation(enum.StrEnum):
    """Entries of an order's exchange log that are not calls to the provider."""

    SETTLED_BY_OPERATOR = "settled_by_operator"
    LATE_CHARGE = "late_charge"
    LATE_CHARGE_HANDLED = "late_charge_handled"
    #: An operator placed the order for the customer (the admin's purchase on their behalf, a retry).
    PLACED_BY_OPERATOR = "placed_by_operator"
    #: An operator placed this failed order again as a new order (``retry_of`` points back).
    RETRIED_BY_OPERATOR = "retried_by_operator"
