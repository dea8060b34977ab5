"""Firmly, as a Django app: the provider, the card form (``{% load oneclick_firmly %}``), its script
and the view that hands the script Firmly's public key.

A shop installs the extra (``pip install "django-oneclick[firmly]"``), adds
``"django_oneclick.providers.firmly"`` to ``INSTALLED_APPS`` and configures
``"BACKEND": "django_oneclick.providers.firmly.FirmlyProvider"``.
"""

from django_oneclick.providers import extras

extras.require("jwcrypto", "httpx_sse", extra="firmly", provider="Firmly")

from django_oneclick.providers.firmly.jwe import encrypt_card  # noqa: E402
from django_oneclick.providers.firmly.provider import FirmlyOptions, FirmlyProvider  # noqa: E402

__all__ = ["FirmlyOptions", "FirmlyProvider", "encrypt_card"]
