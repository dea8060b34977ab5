"""Buying on a customer's behalf (a phone order, a renewal): pick the customer, a product and one
of the customer's saved methods, confirm, and the order goes through :func:`place_order` like the
button's, audited with the operator's name and reason.

Exactly once: the confirmation page carries an idempotency key made when it is rendered, so
submitting it twice (a double click, the back button) places one order; rendering it again gives a
new key, a new order. Staff with change permission on orders, CSRF protected, outside
``ATOMIC_REQUESTS`` (the order is committed before the provider is called).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html

from django_oneclick.admin.forms import REASON_HELP
from django_oneclick.admin.retry import RetryAction
from django_oneclick.domain.errors import KeyReusedForAnotherRequest, OrderRequestInvalid, RequestInFlight
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.models import OneClickOrder, PaymentMethod
from django_oneclick.offers import resolve_offer
from django_oneclick.orders import PlacedBy, method_usable_as_stored, place_order
from django_oneclick.orders.placing import digit_free
from django_oneclick.providers.registry import configured_names

#: The idempotency key of a confirmation page: its own prefix, so it never meets a customer's key.
KEY_PREFIX = "operator-"
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[a-p]{{32}}$")
#: How many customers a lookup lists.
LOOKUP_LIMIT = 20
TEMPLATE = "admin/django_oneclick/oneclickorder/buy_for_customer.html"


def new_key() -> str:
    """A new page's key: random, and without digits (never taken for a card number)."""
    return f"{KEY_PREFIX}{digit_free(uuid.uuid4())}"


class CustomerLookupForm(forms.Form):
    q = forms.CharField(
        label="Customer", max_length=254, help_text="Their email address or username (or how it starts)."
    )


class MethodChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        default = ", default" if obj.is_default else ""
        return f"{obj.label} ({obj.provider}{default})"


class BuyForCustomerForm(forms.Form):
    required_css_class = "required"

    product = forms.CharField(max_length=200, help_text="The product's reference in the shop's catalogue.")
    quantity = forms.IntegerField(min_value=1, initial=1)
    payment_method = MethodChoice(
        queryset=PaymentMethod.objects.none(), widget=forms.RadioSelect, empty_label=None, label="Payment method"
    )
    reason = forms.CharField(
        label="Why you place it",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="E.g. a phone order, a renewal, with any ticket number. " + REASON_HELP,
    )

    def __init__(self, *args: Any, customer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.offer: Any = None
        field = self.fields["payment_method"]
        assert isinstance(field, forms.ModelChoiceField)  # declared so above
        field.queryset = PaymentMethod.objects.filter(owner=customer)

    def clean_product(self) -> str:
        reference = self.cleaned_data["product"].strip()
        self.offer = resolve_offer(reference)
        if self.offer is None:
            raise forms.ValidationError("The shop's catalogue has no such product.")
        return reference

    def clean_payment_method(self) -> PaymentMethod:
        method = self.cleaned_data["payment_method"]
        if method.provider not in configured_names():
            raise forms.ValidationError("This payment method's provider is not configured.")
        if not method_usable_as_stored(method):
            raise forms.ValidationError("This payment method must be entered again by the customer.")
        return method


class ConfirmForm(BuyForCustomerForm):
    """What the confirmation page sends back, in hidden fields, with the page's key."""

    key = forms.RegexField(regex=KEY_PATTERN, widget=forms.HiddenInput)


class OnBehalfPages(RetryAction):
    """Mixed into the order's ModelAdmin: the page to buy on a customer's behalf."""

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_buy"
        return [path("buy/", self.admin_site.admin_view(self.buy_for_customer_view), name=name), *super().get_urls()]

    def buy_url(self, customer: Any = None) -> str:
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_buy", current_app=self.admin_site.name
        )
        return f"{url}?customer={customer.pk}" if customer is not None else url

    @method_decorator(transaction.non_atomic_requests)
    def buy_for_customer_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        customer = self._customer(request)
        if customer is None:
            return self._lookup(request)
        if request.method != "POST":
            return self._buy_page(request, "choose", customer, BuyForCustomerForm(customer=customer))
        if request.POST.get("stage") == "confirm":
            return self._confirm(request, customer)
        form = BuyForCustomerForm(request.POST, customer=customer)
        if not form.is_valid():
            self.message_user(request, "Nothing was ordered: correct the errors below.", messages.ERROR)
            return self._buy_page(request, "choose", customer, form)
        confirm = ConfirmForm(initial={**form.cleaned_data, "key": new_key()}, customer=customer)
        return self._buy_page(request, "confirm", customer, confirm, offer=form.offer, chosen=form.cleaned_data)

    def _confirm(self, request: HttpRequest, customer: Any) -> HttpResponse:
        form = ConfirmForm(request.POST, customer=customer)
        if not form.is_valid():
            self.message_user(request, "Nothing was ordered: correct the errors below.", messages.ERROR)
            return self._buy_page(request, "choose", customer, form)
        data = form.cleaned_data
        try:
            placed = place_order(
                user=customer,
                product=data["product"],
                quantity=data["quantity"],
                idempotency_key=data["key"],
                payment_method_id=data["payment_method"].pk,
                placed_by=PlacedBy(request.user.get_username(), data["reason"]),
            )
        except OrderRequestInvalid as exc:
            problems = "; ".join(m for msgs in exc.errors.values() for m in msgs)
            self.message_user(request, f"The order was not placed: {problems}", messages.ERROR)
            return self._buy_page(request, "choose", customer, form)
        except RequestInFlight as exc:
            text = format_html(
                "This confirmation was submitted already: order {} is being placed. Nothing more was done.",
                self.order_link(exc.order),
            )
            return self._to_order(request, exc.order, text, messages.WARNING)
        except KeyReusedForAnotherRequest as exc:
            text = format_html(
                "This confirmation page was used for another order ({}): nothing was placed. Start again.",
                self.order_link(exc.order),
            )
            self.message_user(request, text, messages.ERROR)
            return HttpResponseRedirect(self.buy_url(customer))
        order = placed.order
        link = self.order_link(order)
        if not placed.created:
            text = format_html(
                "Already placed from this confirmation page: order {} ({}). Nothing more was charged.",
                link,
                order.status,
            )
            return self._to_order(request, order, text, messages.WARNING)
        if order.status == S.COMPLETED:
            text, level = format_html("Order {} completed for {}.", link, customer), messages.SUCCESS
        elif order.status == S.FAILED:
            why = order.error_message or order.error_code
            text, level = format_html("Order {} for {} failed: {}", link, customer, why), messages.ERROR
        elif order.status in UNSETTLED:
            what = (
                "waits for the customer's confirmation" if order.status == S.REQUIRES_ACTION else "is not settled yet"
            )
            text, level = format_html("Order {} for {} {} ({}).", link, customer, what, order.status), messages.WARNING
        else:
            text, level = format_html("Order {} for {}: {}.", link, customer, order.status), messages.INFO
        return self._to_order(request, order, text, level)

    def _to_order(self, request: HttpRequest, order: OneClickOrder, text: str, level: int) -> HttpResponse:
        self.message_user(request, text, level)
        return HttpResponseRedirect(self.operator_url("change", order))

    def _customer(self, request: HttpRequest) -> Any:
        raw = request.POST.get("customer") if request.method == "POST" else request.GET.get("customer")
        if not raw:
            return None
        try:
            customer = active(get_user_model()._default_manager.filter(pk=raw)).first()
        except (ValueError, TypeError, ValidationError):
            customer = None
        if customer is None:
            self.message_user(request, "No such active customer.", messages.WARNING)
        return customer

    def _lookup(self, request: HttpRequest) -> HttpResponse:
        form = CustomerLookupForm(request.GET if "q" in request.GET else None)
        matches: list[Any] = []
        if form.is_bound and form.is_valid():
            matches = list(customers_matching(form.cleaned_data["q"])[:LOOKUP_LIMIT])
            if not matches:
                self.message_user(request, "No active customer has that email address or username.", messages.WARNING)
        links = [(user, self.buy_url(user)) for user in matches]
        return self._buy_page(request, "lookup", None, form, matches=links)

    def _buy_page(self, request: HttpRequest, stage: str, customer: Any, form: Any, **extra: Any) -> HttpResponse:
        request.current_app = self.admin_site.name
        titles = {"lookup": "Buy for a customer", "choose": "Buy for a customer", "confirm": "Confirm the order"}
        context = {
            **self.admin_site.each_context(request),
            "title": titles[stage],
            "subtitle": str(customer) if customer is not None else None,
            "opts": self.opts,
            "stage": stage,
            "customer": customer,
            "customer_url": customer_admin_url(customer, self.admin_site.name) if customer is not None else None,
            "form": form,
            "start_url": self.buy_url(),
            **extra,
        }
        return TemplateResponse(request, TEMPLATE, context)


def customers_matching(term: str) -> Any:
    """Active users whose email address or username starts with ``term`` (case-insensitive)."""
    user_model = get_user_model()
    email, username = user_model.get_email_field_name(), user_model.USERNAME_FIELD
    condition = Q(**{f"{username}__istartswith": term.strip()})
    if email in {f.name for f in user_model._meta.get_fields()}:
        condition |= Q(**{f"{email}__istartswith": term.strip()})
    return active(user_model._default_manager.filter(condition)).order_by(username)


def active(users: Any) -> Any:
    """Only active accounts, where the user model says which are (``is_active`` is a field)."""
    if "is_active" in {f.name for f in users.model._meta.get_fields()}:
        return users.filter(is_active=True)
    return users


def customer_admin_url(customer: Any, site_name: str) -> str | None:
    opts = customer._meta
    try:
        return reverse(f"{site_name}:{opts.app_label}_{opts.model_name}_change", args=[customer.pk])
    except NoReverseMatch:
        return None
