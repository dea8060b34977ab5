"""Back-office screens: saved methods (masked) and orders (read-only, with their exchanges), with
the operator's pages to settle an unsettled order by hand and to acknowledge a late charge.

A package so that Django's admin autodiscovery (``import django_oneclick.admin``) registers both.
"""

from django_oneclick.admin.methods import PaymentMethodAdmin, masked
from django_oneclick.admin.orders import OneClickOrderAdmin, ProviderExchangeInline

__all__ = ["OneClickOrderAdmin", "PaymentMethodAdmin", "ProviderExchangeInline", "masked"]
