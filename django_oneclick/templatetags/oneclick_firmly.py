"""``{% firmly_card_form %}``: the form where a customer saves a card for Firmly.

The card is encrypted in the browser (``firmly-card.js``, WebCrypto) with Firmly's public key,
which this tag fetches server-side through the provider (cached) and renders into the page. The
card inputs have no ``name``, so even without JavaScript the card never reaches the shop.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured

from django_oneclick.providers.base import ProviderError
from django_oneclick.providers.firmly import FirmlyProvider
from django_oneclick.providers.registry import get_provider

register = template.Library()


@register.inclusion_tag("django_oneclick/firmly_card_form.html", takes_context=True)
def firmly_card_form(context: template.Context, provider: str = "firmly", next_url: str = "") -> dict[str, Any]:
    """Render the card form for the Firmly provider named ``provider``; after saving, the
    browser goes to ``next_url`` (if given). When Firmly's key cannot be fetched, the form
    says card entry is unavailable instead of failing the page."""
    firmly = get_provider(provider)
    if not isinstance(firmly, FirmlyProvider):
        raise ImproperlyConfigured(f"{{% firmly_card_form %}}: provider {provider!r} is not Firmly.")
    try:
        key = firmly.public_key()
    except ProviderError:
        key = None
    return {
        "provider": provider,
        "key": key,
        "key_id": f"firmly-key-{provider}",
        "form_id": f"firmly-card-{provider}",
        "next_url": next_url,
        "csrf_token": context.get("csrf_token"),
    }
