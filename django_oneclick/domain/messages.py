"""What the customer is told about an order: curated, translatable words only.

Two audiences read an order. The operator reads the provider's own detail (``error_message``, the
raw ``progress`` state, the exchange log) in the admin. The customer reads only the words of this
catalogue, chosen by the order's error code (a provider's own codes first, then the core's),
else by its status, and a progress step of a small vocabulary: never a provider's text or state
name, which may be internal, alarming or in the wrong language.

A provider contributes its codes and states through two class attributes (see
:class:`~django_oneclick.providers.base.Provider`): ``customer_messages`` (its error codes -> words
of its own, ``gettext_lazy``) and ``progress_steps`` (its raw states -> a :class:`ProgressStep`).
The core knows no provider by name.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.states import OrderStatus

#: A customer message: a lazily translated string (``gettext_lazy``), or a plain one.
CustomerText = str | Promise

#: ``ProviderError``'s own code, for an error raised without a more precise class or code.
PROVIDER_ERROR = "provider_error"

#: What the customer is told for each of the core's error codes.
CORE_MESSAGES: Mapping[str, CustomerText] = {
    ErrorCode.DECLINED: _("The payment was declined. Please use another payment method."),
    ErrorCode.INVALID_REQUEST: _("The payment provider refused the order's details. Nothing was charged."),
    ErrorCode.NOT_FOUND: _(
        "The payment provider does not know this product or payment method. Nothing was charged."
    ),
    ErrorCode.AUTHENTICATION_FAILED: _("The shop could not reach its payment provider. Please try again later."),
    ErrorCode.PROVIDER_UNAVAILABLE: _("The payment provider is unavailable. Nothing was charged; try again."),
    ErrorCode.METHOD_NOT_SUPPORTED: _("This payment method cannot be added here."),
    ErrorCode.FAILED: _("The order could not be placed."),
    ErrorCode.OUTCOME_UNKNOWN: _("We are confirming your order with the payment provider."),
    ErrorCode.INTERRUPTED: _("We are confirming your order with the payment provider."),
    ErrorCode.NOT_PLACED: _("The order was not placed. Nothing was charged."),
    ErrorCode.NEEDS_OPERATOR: _(
        "The shop is confirming your order with the payment provider; you will not be charged twice."
    ),
    ErrorCode.PROVIDER_ORDER_TAKEN: _(
        "The shop is confirming your order with the payment provider; you will not be charged twice."
    ),
    ErrorCode.SETTLED_BY_OPERATOR: _("The order could not be placed. Nothing was charged."),
    ErrorCode.REFRESH_GAVE_UP: _(
        "The shop is confirming your order with the payment provider; you will not be charged twice."
    ),
    PROVIDER_ERROR: _("The order could not be placed."),
}

#: What the customer is told when the order's code has no words of its own, by the order's status.
STATUS_MESSAGES: Mapping[str, CustomerText] = {
    OrderStatus.PENDING: "",
    OrderStatus.PROCESSING: "",
    OrderStatus.REQUIRES_ACTION: _("The payment provider needs you to confirm this payment."),
    OrderStatus.UNKNOWN: _("We are confirming your order with the payment provider."),
    OrderStatus.COMPLETED: "",
    OrderStatus.FAILED: _("The order could not be placed."),
}


class ProgressStep(models.TextChoices):
    """The steps a customer may see while an order is under way; each provider maps its raw
    states onto them (``Provider.progress_steps``)."""

    CONFIRMING_PRICE = "confirming_price", _("Confirming the price")
    PLACING_ORDER = "placing_order", _("Placing the order")
    AUTHORISING_PAYMENT = "authorising_payment", _("Authorising the payment")
    AWAITING_CONFIRMATION = "awaiting_confirmation", _("Waiting for your confirmation")
    WAITING_FOR_PROVIDER = "waiting_for_provider", _("Waiting for the payment provider")
    FINISHING = "finishing", _("Finishing the order")


#: The step of a raw state the provider does not declare (a state added after this release).
UNDECLARED_STEP = ProgressStep.WAITING_FOR_PROVIDER


def customer_message(
    code: str, status: str, provider_messages: Mapping[str, CustomerText] | None = None
) -> CustomerText:
    """The customer's words for an order with error ``code`` and ``status``: the provider's own
    words for its code, else the core's, else the status's generic message (possibly empty)."""
    if code:
        if provider_messages and code in provider_messages:
            return provider_messages[code]
        if code in CORE_MESSAGES:
            return CORE_MESSAGES[code]
    return STATUS_MESSAGES.get(status, "")


def progress_step(raw: str, provider_steps: Mapping[str, ProgressStep] | None = None) -> ProgressStep | None:
    """The customer's step for a provider's raw progress state; None when there is none."""
    if not raw:
        return None
    return (provider_steps or {}).get(raw, UNDECLARED_STEP)
