"""``{% oneclick_button product %}``, the Buy-now button, and the filters the app's pages use.

The button is a plain form that works without JavaScript: it posts to the buy view, which
places the order and redirects to the order page. ``oneclick.js`` (included once per page,
deferred) turns the same form into an in-place purchase through the REST API.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url

from django_oneclick.conf import oneclick_settings
from django_oneclick.models import PaymentMethod
from django_oneclick.offers import resolve_offer
from django_oneclick.orders import method_usable_as_stored
from django_oneclick.providers.registry import configured_names

register = template.Library()

#: Shown before the amount ("€19.99"); other currencies are written after it ("19.99 CHF").
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}
#: ISO 4217 currencies without minor units.
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}
#: Stands for the order id in the URL templates the script fills in.
ORDER_ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
#: Set on the request once the page has the script and stylesheet, so they come once per page.
_ASSETS_RENDERED = "_oneclick_assets_rendered"


@register.filter
def oneclick_money(amount: Decimal, currency: str) -> str:
    """``19.99|oneclick_money:"EUR"`` -> "€19.99"; unknown symbols -> "19.99 CHF"."""
    places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    number = f"{Decimal(amount):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


@register.filter
def oneclick_safe_url(url: Any) -> str:
    """The provider's action URL if it is http(s) or relative, else "" (no ``javascript:``)."""
    if not isinstance(url, str):
        return ""
    return url if urlsplit(url.strip()).scheme.lower() in ("", "http", "https") else ""


def product_reference(product: Any) -> str:
    """A reference string as is; an object's ``oneclick_reference``, else its primary key."""
    if isinstance(product, str):
        return product
    reference = getattr(product, "oneclick_reference", None)
    if reference is None:
        reference = getattr(product, "pk", None)
    if reference is None:
        raise template.TemplateSyntaxError(
            "oneclick_button needs a product reference, or an object with `oneclick_reference` or a pk."
        )
    return str(reference)


def _chosen_method(user: Any, payment_method: Any) -> PaymentMethod | None:
    """The method the button will charge: the given one (only if it is the user's), else the default."""
    methods = PaymentMethod.objects.filter(owner=user)
    if payment_method is None or payment_method == "":
        return methods.filter(is_default=True).first()
    pk = payment_method.pk if isinstance(payment_method, PaymentMethod) else payment_method
    return methods.filter(pk=pk).first()


def _first_on_page(request: HttpRequest) -> bool:
    if getattr(request, _ASSETS_RENDERED, False):
        return False
    setattr(request, _ASSETS_RENDERED, True)
    return True


@register.inclusion_tag("django_oneclick/button.html", takes_context=True)
def oneclick_button(
    context: template.Context, product: Any, quantity: int = 1, payment_method: Any = None
) -> dict[str, Any]:
    """Render the Buy-now button for ``product`` (price from the shop's resolver, never the page).

    States: ``unavailable`` (the shop does not sell it), ``anonymous`` (sign-in link),
    ``no_method`` (how to add one), ``reentry`` (the method must be entered again), ``ready``.
    """
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "{% oneclick_button %} needs `request` in the template context: add "
            "'django.template.context_processors.request' to TEMPLATES[...]['OPTIONS']"
            "['context_processors'] and render the page with render() (a RequestContext)."
        )
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        quantity = 0
    if not 1 <= quantity <= oneclick_settings.MAX_QUANTITY:
        raise template.TemplateSyntaxError(
            f"oneclick_button: quantity must be a number from 1 to {oneclick_settings.MAX_QUANTITY}."
        )
    reference = product_reference(product)
    offer = resolve_offer(reference)
    button: dict[str, Any] = {"offer": offer, "reference": reference, "quantity": quantity}
    if offer is None:
        return {**button, "state": "unavailable"}
    # What the button shows is what the customer agrees to: with an allowance for shipping and tax
    # (a merchant that prices them itself, Rye) "up to" the order's max_total, which is the cap sent.
    total = offer.unit_price * quantity
    button["price"] = oneclick_money(total + offer.charges_allowance, offer.currency)
    if offer.charges_allowance:
        button["price"] = f"up to {button['price']}"
        button["charges"] = (
            f"{oneclick_money(total, offer.currency)} plus up to "
            f"{oneclick_money(offer.charges_allowance, offer.currency)} for shipping and tax"
        )
    add_url = oneclick_settings.ADD_PAYMENT_METHOD_URL
    button["add_method_url"] = resolve_url(add_url) if add_url else ""
    if not request.user.is_authenticated:
        login_url = redirect_to_login(request.get_full_path()).url
        return {**button, "state": "anonymous", "login_url": login_url}
    method = _chosen_method(request.user, payment_method)
    if method is None or method.provider not in configured_names():
        return {**button, "state": "no_method"}
    # Only what is stored: rendering calls no provider and writes nothing. Whether the provider
    # still accepts the method (e.g. Firmly's key rotated) is checked when the customer buys.
    if not method_usable_as_stored(method):
        return {**button, "state": "reentry", "method": method}
    key = str(uuid.uuid4())
    return {
        **button,
        "state": "ready",
        "method": method,
        "idempotency_key": key,
        "element_id": f"oneclick-{key[:8]}",
        "next": request.get_full_path(),
        "csrf_token": get_token(request),
        "include_assets": _first_on_page(request),
        "order_id_placeholder": ORDER_ID_PLACEHOLDER,
    }
