"""The operator's pages of an order: settle it by hand after checking at the provider, and
acknowledge a late charge once it was refunded or fulfilled.

Each is a confirmation form with a required reason; the POST goes through
:func:`settle_manually` / :func:`acknowledge_late_charge`, which keep the audit
trail in the order's exchange log. Staff with change permission only, CSRF protected (the admin
site's ``admin_view``), and outside ATOMIC_REQUESTS like the changelist: the order's signals (the
shop's fulfilment) run on a committed order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html

from django_oneclick.admin.forms import AcknowledgeLateChargeForm, SettleForm, what_the_operator_saw
from django_oneclick.domain.errors import InvalidTransition, ProviderOrderTaken
from django_oneclick.domain.states import UNSETTLED
from django_oneclick.models import OneClickOrder
from django_oneclick.orders import acknowledge_late_charge, settle_manually

TEMPLATES = "admin/django_oneclick/oneclickorder/"

if TYPE_CHECKING:
    # What the mixin relies on: the order's ModelAdmin (``admin_site``, ``opts``, ``get_object``...).
    # A plain base at run time: ModelAdmin is not subscriptable without django-stubs-ext.
    _OrderAdminBase = admin.ModelAdmin[OneClickOrder]
else:
    _OrderAdminBase = object


class OperatorPages(_OrderAdminBase):
    """Mixed into the order's ModelAdmin (it provides ``admin_site``, ``opts``, ``get_object``...)."""

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/settle/", wrap(self.settle_view), name=f"{name}_settle"),
            path("<path:object_id>/late-charge/", wrap(self.late_charge_view), name=f"{name}_late_charge"),
            *super().get_urls(),
        ]

    def operator_url(self, page: str, order: OneClickOrder) -> str:
        name = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{page}"
        return reverse(name, args=[order.pk], current_app=self.admin_site.name)

    def operator_links(self, request: HttpRequest, order: OneClickOrder | None) -> dict[str, str]:
        """The change page's links to the operator's pages this order and this user have."""
        if order is None or not self.has_change_permission(request, order):
            return {}
        links = {}
        if order.status in UNSETTLED:
            links["oneclick_settle_url"] = self.operator_url("settle", order)
        if order.late_charge:
            links["oneclick_late_charge_url"] = self.operator_url("late_charge", order)
        return links

    @method_decorator(transaction.non_atomic_requests)
    def settle_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._order_for_operator(request, object_id)
        if order.status not in UNSETTLED:
            message = f"Only an unsettled order can be settled by hand, not a {order.status} one."
            return self._back_to_order(request, order, message, messages.WARNING)
        if request.method != "POST":
            return self._page(request, order, "settle", SettleForm(order=order))
        form = SettleForm(request.POST, order=order)
        if not form.is_valid():
            self.message_user(request, "The order was not settled: correct the errors below.", messages.ERROR)
            return self._page(request, order, "settle", form)
        if form.cleaned_data["seen"] != what_the_operator_saw(order):
            self.message_user(
                request,
                f"The order changed while you were looking at it (it is {order.status} now): nothing was done. "
                "Check it again and confirm.",
                messages.WARNING,
            )
            fresh = request.POST.copy()
            fresh["seen"] = what_the_operator_saw(order)
            return self._page(request, order, "settle", SettleForm(fresh, order=order))
        status, provider_order_id = form.cleaned_data["status"], form.cleaned_data["provider_order_id"]
        try:
            settled = settle_manually(
                order,
                status,
                operator=request.user.get_username(),
                reason=form.cleaned_data["reason"],
                provider_order_id=provider_order_id,
            )
        except ProviderOrderTaken as exc:
            self.message_user(request, self._taken_message(exc), messages.ERROR)
            return self._page(request, order, "settle", form)
        except InvalidTransition as exc:
            self.message_user(request, f"The order was not settled: {exc}", messages.ERROR)
            return self._page(request, order, "settle", form)
        if not settled:
            message = f"The order changed meanwhile (it is {order.status} now): it was not settled."
            return self._back_to_order(request, order, message, messages.WARNING)
        as_id = f" as provider order {order.provider_order_id}" if order.provider_order_id else ""
        return self._back_to_order(request, order, f"Order {order.public_id} marked {status}{as_id}.", messages.SUCCESS)

    @method_decorator(transaction.non_atomic_requests)
    def late_charge_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self._order_for_operator(request, object_id)
        if not order.late_charge:
            message = "This order has no late charge to acknowledge."
            return self._back_to_order(request, order, message, messages.WARNING)
        if request.method != "POST":
            return self._page(request, order, "late_charge", AcknowledgeLateChargeForm())
        form = AcknowledgeLateChargeForm(request.POST)
        if not form.is_valid():
            message = "The late charge was not acknowledged: correct the errors below."
            self.message_user(request, message, messages.ERROR)
            return self._page(request, order, "late_charge", form)
        try:
            cleared = acknowledge_late_charge(
                order, operator=request.user.get_username(), reason=form.cleaned_data["reason"]
            )
        except InvalidTransition as exc:
            self.message_user(request, f"The late charge was not acknowledged: {exc}", messages.ERROR)
            return self._page(request, order, "late_charge", form)
        if not cleared:
            message = "Someone acknowledged this late charge meanwhile: nothing was done."
            return self._back_to_order(request, order, message, messages.WARNING)
        return self._back_to_order(request, order, "Late charge acknowledged.", messages.SUCCESS)

    def _order_for_operator(self, request: HttpRequest, object_id: str) -> OneClickOrder:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404("No such order.")
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        return order

    def _taken_message(self, exc: ProviderOrderTaken) -> str:
        if exc.holder is None:
            return f"The order was not settled: {exc}"
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[exc.holder.pk],
            current_app=self.admin_site.name,
        )
        return format_html(
            'The order was not settled: provider order {} already belongs to order <a href="{}">{}</a>.',
            exc.provider_order_id,
            url,
            exc.holder.public_id,
        )

    def _back_to_order(self, request: HttpRequest, order: OneClickOrder, message: str, level: int) -> HttpResponse:
        self.message_user(request, message, level)
        return HttpResponseRedirect(self._change_url(order))

    def _change_url(self, order: OneClickOrder) -> str:
        return self.operator_url("change", order)

    def _page(self, request: HttpRequest, order: OneClickOrder, page: str, form: Any) -> HttpResponse:
        request.current_app = self.admin_site.name
        titles = {"settle": "Settle the order by hand", "late_charge": "Acknowledge the late charge"}
        context = {
            **self.admin_site.each_context(request),
            "title": titles[page],
            "subtitle": str(order.public_id),
            "opts": self.opts,
            "original": order,
            "form": form,
            "change_url": self._change_url(order),
            "late_charge_notes": order.exchanges.filter(operation="late_charge").order_by("created_at"),
        }
        return TemplateResponse(request, f"{TEMPLATES}{page}.html", context)
