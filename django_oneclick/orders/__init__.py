"""The rules of a one-click order, each in one module, and this package's public API.

- :mod:`.transitions`: the compare-and-set state machine and applying a provider's answer;
- :mod:`.placing`: placing an order exactly once (Idempotency-Key), retrying a failed one;
- :mod:`.retrying`: when a failed order may be placed again (``retry_refusal``);
- :mod:`.reconcile`: asking the provider about unsettled orders, settling by hand;
- :mod:`.methods`: saved payment methods;
- :mod:`.validation`: what a customer sends, checked once for every surface;
- :mod:`.exchange_log`: the redacted log of every provider call.

Call these outside any transaction: an order is committed before its provider is called.
"""

from django_oneclick.orders.methods import (
    method_in_use,
    method_is_usable,
    method_usable_as_stored,
    register_payment_method,
    remove_method,
    save_payment_method,
    set_default_method,
)
from django_oneclick.orders.placing import PlacedBy, PlacedOrder, place_order, retry_order
from django_oneclick.orders.reconcile import acknowledge_late_charge, refresh_order, settle_manually, unsettled_orders
from django_oneclick.orders.retrying import RetryRefused, retry_refusal
from django_oneclick.orders.transitions import flag_late_charge, transition

__all__ = [
    "PlacedBy",
    "PlacedOrder",
    "RetryRefused",
    "acknowledge_late_charge",
    "flag_late_charge",
    "method_in_use",
    "method_is_usable",
    "method_usable_as_stored",
    "place_order",
    "refresh_order",
    "register_payment_method",
    "remove_method",
    "retry_order",
    "retry_refusal",
    "save_payment_method",
    "set_default_method",
    "settle_manually",
    "transition",
    "unsettled_orders",
]
