"""The HTML side: the no-JavaScript purchase form and the order page (a provider's own pages come
from its Django app, see ``django_oneclick.urls``).

Views that may call a provider are never wrapped in ``ATOMIC_REQUESTS``: an order must be
committed before its provider is called.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from django_oneclick.client_ip import client_ip
from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.errors import IdempotencyConflict, KeyReusedForAnotherRequest, OrderRequestInvalid
from django_oneclick.models import OneClickOrder
from django_oneclick.orders import place_order, refresh_order
from django_oneclick.orders.customer import customer_view
from django_oneclick.orders.validation import validate_idempotency_key
from django_oneclick.throttle import TOO_MANY, RateLimited, take


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return redirect(target)


@transaction.non_atomic_requests
@require_POST
@login_required
def buy(request: HttpRequest) -> HttpResponse:
    """The Buy-now button without JavaScript: same fields as the API, the key in a hidden field."""
    key = request.POST.get("idempotency_key", "").strip()
    try:
        quantity = int(request.POST.get("quantity") or 1)
        method_id = int(request.POST["payment_method"]) if request.POST.get("payment_method") else None
    except ValueError:
        messages.error(request, "Quantity and payment method must be numbers.")
        return _back(request)
    try:
        validate_idempotency_key(key)
    except OrderRequestInvalid:
        messages.error(request, "This form has expired; please press Buy now again.")
        return _back(request)
    try:
        take("orders", request.user.pk, oneclick_settings.ORDER_THROTTLE_RATE)
    except RateLimited:
        messages.error(request, str(TOO_MANY))
        return _back(request)
    try:
        placed = place_order(
            user=request.user,
            product=request.POST.get("product", "")[:200],
            quantity=quantity,
            payment_method_id=method_id,
            idempotency_key=key,
            customer_ip=client_ip(request),
        )
    except OrderRequestInvalid as exc:
        for field_messages in exc.errors.values():
            for message in field_messages:
                messages.error(request, message)
        return _back(request)
    except KeyReusedForAnotherRequest:
        messages.error(request, "This page is out of date; nothing was ordered. Please press Buy now again.")
        return _back(request)
    except IdempotencyConflict as exc:
        return redirect("django_oneclick:order", public_id=exc.order.public_id)
    return redirect("django_oneclick:order", public_id=placed.order.public_id)


@transaction.non_atomic_requests
@login_required
def order_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    order = get_object_or_404(OneClickOrder, public_id=public_id, owner=request.user)
    refresh_order(order, min_interval=oneclick_settings.STATUS_REFRESH_INTERVAL)
    # ``customer``: the curated words to show (never the order's provider detail or raw progress).
    return render(request, "django_oneclick/order_detail.html", {"order": order, "customer": customer_view(order)})
