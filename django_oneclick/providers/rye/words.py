"""What Rye's customers read: a plain message per documented failure reason, and the step shown
for each state of a checkout intent (the operator keeps Rye's own code and message)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from django_oneclick.providers.base import CustomerText, ProgressStep

#: Every documented ``failureReason.code`` -> what the customer is told (the catalogue's entry of
#: the order's code ``rye_<code>``, :attr:`RyeProvider.customer_messages`). Rye's own code and
#: message go to the operator (``error_message``) and stay in the exchange log.
FAILURE_MESSAGES: dict[str, CustomerText] = {
    "unknown": _("The order could not be completed. Please try again later."),
    "checkout_intent_expired": _("The order took too long to complete and expired. Please try again."),
    "payment_failed": _("The payment was declined. Please use another payment method."),
    "payment_cvc_expired": _("The saved card's security code has expired. Please enter the card again."),
    "insufficient_stock": _("The merchant has fewer in stock than you asked for. Try a smaller quantity."),
    "product_out_of_stock": _("This product is out of stock."),
    "offer_retrieval_failed": _(
        "The merchant's price and availability could not be confirmed. Please try again later."
    ),
    "order_placement_failed": _("The merchant did not accept the order. Please try again later."),
    "developer_not_found": _("The shop's checkout service is not set up correctly. Please contact the shop."),
    "missing_shipping_method": _("The merchant does not ship this product to your address."),
    "unsupported_currency": _("The merchant sells in a currency this checkout does not support."),
    "invalid_input": _("Some order details were refused. Check your shipping address and contact details."),
    "incorrect_cost_breakdown": _("The merchant's final price could not be confirmed. Please try again later."),
    "unsupported_store_no_guest_checkout": _("This merchant does not allow orders through this shop."),
    "workflow_invocation_failed": _("The checkout service had a problem. Please try again later."),
    "variant_selections_invalid": _("The chosen product options are not available."),
    "variant_selections_required": _("Please choose the product options (such as size or colour) first."),
    "form_validation_error": _(
        "The merchant refused some order details. Check your shipping address and contact details."
    ),
    "captcha_blocked": _("The merchant's website blocked the checkout. Please buy from the merchant directly."),
    "bot_protection_blocked": _("The merchant's website blocked the checkout. Please buy from the merchant directly."),
    # Rye holds the retrieved offer to the constraints before payment and order placement (the order
    # of its purchase workflow): such a failed intent placed no order and charged nothing.
    "constraint_total_price_exceeded": _(
        "With shipping and tax, the total would have been more than the price shown, so the order "
        "was not placed and nothing was charged."
    ),
    "constraint_shipping_cost_exceeded": _(
        "Shipping would have cost more than allowed, so the order was not placed and nothing was charged."
    ),
    "promo_code_discovery_not_enabled": _("Promo codes cannot be looked up for this order."),
    "product_not_found": _("The merchant no longer sells this product."),
}

#: Every state of a checkout intent -> the step the customer is shown.
INTENT_STEPS: dict[str, ProgressStep] = {
    "retrieving_offer": ProgressStep.CONFIRMING_PRICE,
    "awaiting_confirmation": ProgressStep.CONFIRMING_PRICE,
    "requires_action": ProgressStep.AWAITING_CONFIRMATION,
    "placing_order": ProgressStep.PLACING_ORDER,
    "completed": ProgressStep.FINISHING,
    "failed": ProgressStep.FINISHING,
}
