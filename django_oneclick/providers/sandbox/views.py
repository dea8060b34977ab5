"""The sandbox's stand-in for the page a real provider sends the customer to (3-D Secure...)."""

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from django_oneclick.models import OneClickOrder
from django_oneclick.orders import refresh_order
from django_oneclick.providers.sandbox.server import resolve_action, stored_order


@transaction.non_atomic_requests
@login_required
@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, order_id: str) -> HttpResponse:
    order = get_object_or_404(OneClickOrder, public_id=order_id, owner=request.user)
    if stored_order(str(order.public_id)) is None:
        raise Http404("The sandbox holds no such order.")
    if request.method == "POST":
        resolve_action(str(order.public_id), confirmed=request.POST.get("decision") == "confirm")
        refresh_order(order)
        return redirect("django_oneclick:order", public_id=order.public_id)
    return render(request, "oneclick_sandbox/action.html", {"order": order})
