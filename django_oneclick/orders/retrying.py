"""When a failed order may be placed again as a new one: the one rule, for every surface.

A retry is a new charge. It is offered only where a new charge is what the customer wanted: the
order failed for a reason that says nothing against buying (the provider was unavailable, the
order was never placed, the merchant could not confirm the price), it is not itself a retry,
it was not retried yet, and the customer has not bought the product again since. Never when the
customer said no (cancelled at the provider's confirmation), never when the card issuer or the
provider's fraud check declined it (a second try is a second decline, or worse, a charge the
customer's bank refused once), never when money moved for it (refunded, reversed, a late charge).

An error code unknown to these lists is retried: a provider's new code is most often a technical
failure. A provider whose new code means "the customer cancelled" or "declined" adds it here.
"""

from __future__ import annotations

from collections.abc import Mapping

from django_oneclick.domain.codes import ErrorCode
from django_oneclick.domain.errors import InvalidTransition
from django_oneclick.domain.states import FINAL, S
from django_oneclick.models import OneClickOrder


class RetryRefused(InvalidTransition):
    """The order may not be placed again: the message says why (:func:`retry_refusal`)."""


#: The customer said no: cancelled on the provider's confirmation page, or let it expire.
CUSTOMER_CANCELLED: Mapping[str, str] = {
    "action_declined": "the customer cancelled at the payment confirmation",  # sandbox
    "cancelled": "the order was cancelled at the provider",  # Digital River
    "canceled": "the order was cancelled at the provider",  # 2Checkout
    "rye_checkout_intent_expired": "the checkout expired before the customer confirmed it",
}
#: The issuer (or the provider's fraud check) refused the payment: retrying charges nothing new,
#: or what the bank refused once.
ISSUER_DECLINED: Mapping[str, str] = {
    ErrorCode.DECLINED: "the payment was declined",
    "payment_failed": "the payment was declined",  # Firmly
    "invalid_card": "the saved card was refused",  # Firmly
    "rye_payment_failed": "the payment was declined",
    "rye_payment_cvc_expired": "the card's security code expired: the customer enters the card again",
    "charge_failed": "the charge was refused",  # Billerix
    "rejected": "the provider's fraud check rejected the order",  # 2Checkout
}
#: Money moved for this order at the provider: another charge would be a second one.
MONEY_MOVED: Mapping[str, str] = {
    "refund": "the provider refunded the order",  # 2Checkout
    "reversed": "the provider reversed the charge",  # 2Checkout
    ErrorCode.PROVIDER_ORDER_TAKEN: "the provider's order already settles another of our orders",
}


def retry_refusal(order: OneClickOrder) -> str | None:
    """Why ``order`` must not be placed again as a new order, or ``None`` when it may be.

    At most three queries (the order's retry, a later order of the same product by the same
    customer, the payment method).
    """
    if order.status != S.FAILED:
        return "Only a failed order can be retried."
    if order.late_charge:
        return "The provider reported a charge for this order (late charge): settle that, never charge again."
    if order.retry_of_id is not None:
        return "This order is itself a retry: a retry is never retried (place a new order instead)."
    code = order.error_code
    for reasons, why in (
        (CUSTOMER_CANCELLED, "Not retried: {} (code {}). A new charge is not what the customer wanted."),
        (ISSUER_DECLINED, "Not retried: {} (code {}). The customer must use another payment method."),
        (MONEY_MOVED, "Not retried: {} (code {})."),
    ):
        if code in reasons:
            return why.format(reasons[code], code)
    retry = OneClickOrder.objects.filter(retry_of=order).order_by("created_at").first()
    if retry is not None:
        return f"Already retried as order {retry.public_id} ({retry.status})."
    later = (
        OneClickOrder.objects.filter(
            owner_id=order.owner_id, product_reference=order.product_reference, created_at__gte=order.created_at
        )
        .exclude(pk=order.pk)
        .exclude(status=S.FAILED)
        .order_by("created_at")
        .first()
    )
    if later is not None:
        done = "completed" if later.status in FINAL else f"is {later.status}"
        return f"The customer ordered this product again since: order {later.public_id} {done}."
    if order.payment_method_id is None:
        # Never charge another method than the one the customer chose.
        return "The order's payment method was removed: the customer chooses another one."
    method = order.payment_method
    if method is not None and method.needs_reentry:
        return "The order's payment method must be entered again by the customer."
    return None
