from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from django_oneclick.conf import oneclick_settings
from django_oneclick.domain.errors import MethodInUse, OrderRequestInvalid
from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.orders import register_payment_method, remove_method, set_default_method
from django_oneclick.providers.sandbox import BEHAVIOURS
from shop.models import Product


def product_list(request):
    return render(request, "shop/product_list.html", {"products": Product.objects.all()})


def product_detail(request, slug):
    product = get_object_or_404(Product, slug=slug)
    methods = PaymentMethod.objects.filter(owner=request.user) if request.user.is_authenticated else []
    return render(request, "shop/product_detail.html", {"product": product, "methods": methods})


@login_required
def my_orders(request):
    orders = OneClickOrder.objects.filter(owner=request.user)[:50]
    return render(request, "shop/my_orders.html", {"orders": orders})


@login_required
def payment_methods(request):
    """List, add (sandbox test references), make default and remove saved methods."""
    if request.method == "POST":
        action = request.POST.get("action")
        method_id = request.POST.get("method", "")
        # A hand-made form may post anything: only a number names a method (never a 500).
        method = (
            PaymentMethod.objects.filter(owner=request.user, pk=int(method_id)).first()
            if method_id.isascii() and method_id.isdigit() and len(method_id) < 19
            else None
        )
        if action == "add":
            try:
                register_payment_method(
                    request.user, "sandbox", {"reference": request.POST.get("reference", "")}
                )
                messages.success(request, "Payment method saved.")
            except OrderRequestInvalid as exc:
                for problems in exc.errors.values():
                    for problem in problems:
                        messages.error(request, problem)
        elif action == "default" and method:
            set_default_method(method)
        elif action == "remove" and method:
            try:
                remove_method(method)
            except MethodInUse as exc:
                messages.error(request, str(exc))
        return redirect("payment-methods")
    return render(
        request,
        "shop/payment_methods.html",
        {
            "methods": PaymentMethod.objects.filter(owner=request.user),
            "behaviours": BEHAVIOURS,
            "firmly_enabled": "firmly" in oneclick_settings.PROVIDERS,
        },
    )
