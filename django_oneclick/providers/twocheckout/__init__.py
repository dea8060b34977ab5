"""2Checkout (Verifone): one-click purchases paid with a previous order, over the SOAP API 6.0.

Configure ``"BACKEND": "django_oneclick.providers.twocheckout.TwoCheckoutProvider"``. It speaks
SOAP with zeep, an optional dependency: ``pip install "django-oneclick[twocheckout]"``; without
it, importing this package raises ImproperlyConfigured (system check E004), not ImportError.
"""

from django_oneclick.providers import extras

extras.require("zeep", extra="twocheckout", provider="2Checkout")

from django_oneclick.providers.twocheckout.provider import (  # noqa: E402
    TwoCheckoutOptions,
    TwoCheckoutProvider,
    login_hash,
    previous_order_method,
)

__all__ = ["TwoCheckoutOptions", "TwoCheckoutProvider", "login_hash", "previous_order_method"]
