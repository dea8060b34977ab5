"""``{% firmly_card_form %}``: the form where a customer saves a card for Firmly.

The card is encrypted in the browser (``firmly-card.js``, WebCrypto) with Firmly's public key,
which the script fetches from the Firmly app's key view: rendering the form makes no call to
Firmly and writes nothing. The card inputs have no ``name``, so even without JavaScript the card
never reaches the shop.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from django_oneclick.providers.firmly.provider import FirmlyProvider
from django_oneclick.providers.firmly.views import UNAVAILABLE
from django_oneclick.providers.registry import get_provider

register = template.Library()


@register.inclusion_tag("oneclick_firmly/card_form.html", takes_context=True)
def firmly_card_form(context: template.Context, provider: str = "firmly", next_url: str = "") -> dict[str, Any]:
    """Render the card form for the Firmly provider named ``provider``; after saving, the
    browser goes to ``next_url`` (if given). When Firmly's key cannot be had, the script says
    card entry is unavailable instead of failing the page."""
    if not isinstance(get_provider(provider), FirmlyProvider):  # built from the settings: no call
        raise ImproperlyConfigured(f"{{% firmly_card_form %}}: provider {provider!r} is not Firmly.")
    return {
        "provider": provider,
        "key_url": reverse("django_oneclick:firmly-public-key", kwargs={"provider": provider}),
        "unavailable": UNAVAILABLE,
        "form_id": f"firmly-card-{provider}",
        "next_url": next_url,
        "csrf_token": context.get("csrf_token"),
    }
