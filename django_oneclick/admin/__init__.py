"""Back-office screens: saved methods (masked) and orders (read-only, with their exchanges), with
the operator's pages to settle an unsettled order by hand, acknowledge a late charge, retry a
failed order and buy on a customer's behalf; the one-click overview; and the customer's methods
and orders on the user's admin page.

A package so that Django's admin autodiscovery (``import django_oneclick.admin``) registers them:

- :mod:`.orders`: the order list and page; :mod:`.operator`, :mod:`.retry`, :mod:`.on_behalf`
  its operator's pages and actions; :mod:`.methods`: saved methods;
- :mod:`.overview` (with :mod:`.figures` and :mod:`.charts`): the overview;
- :mod:`.customers`: the user admin's inlines.
"""

from django_oneclick.admin.customers import (
    CustomerOneClickMixin,
    CustomerOrdersInline,
    CustomerPaymentMethodsInline,
    add_customer_view,
)
from django_oneclick.admin.methods import PaymentMethodAdmin, masked
from django_oneclick.admin.orders import OneClickOrderAdmin, ProviderExchangeInline
from django_oneclick.admin.overview import OverviewAdmin

# The user admin registered so far (django.contrib.auth's, or the shop's if its app came first);
# the app's ready() does it again for one registered later.
add_customer_view()

__all__ = [
    "CustomerOneClickMixin",
    "CustomerOrdersInline",
    "CustomerPaymentMethodsInline",
    "OneClickOrderAdmin",
    "OverviewAdmin",
    "PaymentMethodAdmin",
    "ProviderExchangeInline",
    "add_customer_view",
    "masked",
]
