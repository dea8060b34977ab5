"""Retrying failed orders as new orders, only where a new charge is what the customer wanted
(:func:`~django_oneclick.orders.retry_refusal`), after a confirmation page with a reason; each
result is reported at its true level and audited in both orders' exchange logs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from django_oneclick.admin.forms import REASON_HELP
from django_oneclick.admin.operator import OperatorPages
from django_oneclick.domain.errors import IdempotencyConflict, InvalidTransition, OrderRequestInvalid
from django_oneclick.domain.states import UNSETTLED, S
from django_oneclick.models import OneClickOrder
from django_oneclick.orders import retry_order, retry_refusal

#: How many orders one confirmation may retry (each is a provider call in the request).
MAX_RETRIES = 20


class RetryForm(forms.Form):
    required_css_class = "required"

    reason = forms.CharField(
        label="Why retry",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="E.g. the customer asked on the phone, the provider's outage is over. " + REASON_HELP,
    )


def short_id(order: OneClickOrder) -> str:
    """The first segment of the order's id: what the list shows and the search finds."""
    return str(order.public_id).split("-", 1)[0]


class RetryAction(OperatorPages):
    """Mixed into the order's ModelAdmin: the *Retry failed orders as new orders…* action."""

    def order_link(self, order: OneClickOrder) -> str:
        return format_html('<a href="{}">{}</a>', self.operator_url("change", order), short_id(order))

    @admin.action(description="Retry failed orders as new orders…", permissions=["change"])
    def retry_as_new_order(self, request: HttpRequest, queryset: QuerySet[OneClickOrder]) -> HttpResponse | None:
        """A confirmation page first (which orders will be charged again, which not and why, and
        the operator's reason); on confirming, each order is retried and its result reported."""
        orders = list(
            queryset.select_related("owner", "payment_method").order_by("created_at", "pk")[: MAX_RETRIES + 1]
        )
        if len(orders) > MAX_RETRIES:
            self.message_user(request, f"Select at most {MAX_RETRIES} orders to retry at once.", messages.WARNING)
            return None
        checked = [(order, retry_refusal(order)) for order in orders]
        retryable = [order for order, refusal in checked if refusal is None]
        if not retryable:
            for order, refusal in checked:
                self.message_user(request, format_html("{}: {}", self.order_link(order), refusal), messages.WARNING)
            return None
        form = RetryForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            if form.is_bound:
                self.message_user(request, "Nothing was retried: say why.", messages.ERROR)
            return self._confirmation(request, checked, form)
        for order in retryable:
            self._retry(request, order, form.cleaned_data["reason"])
        return None

    def _retry(self, request: HttpRequest, order: OneClickOrder, reason: str) -> None:
        link = self.order_link(order)
        try:
            placed = retry_order(order, operator=request.user.get_username(), reason=reason)
        except InvalidTransition as exc:  # moved or retried meanwhile
            self.message_user(request, format_html("{}: not retried: {}", link, exc), messages.WARNING)
            return
        except OrderRequestInvalid as exc:
            problems = "; ".join(m for msgs in exc.errors.values() for m in msgs)
            self.message_user(request, format_html("{}: not retried: {}", link, problems), messages.ERROR)
            return
        except IdempotencyConflict as exc:
            self.message_user(request, format_html("{}: {}", link, exc), messages.WARNING)
            return
        new = placed.order
        new_link = self.order_link(new)
        if not placed.created:
            text, level = (
                format_html("Retry of {} was already placed as {} ({}).", link, new_link, new.status),
                messages.INFO,
            )
        elif new.status == S.COMPLETED:
            text, level = format_html("Retry of {} completed as order {}.", link, new_link), messages.SUCCESS
        elif new.status == S.FAILED:
            why = new.error_message or new.error_code or "no reason given"
            text, level = format_html("Retry of {} failed as order {}: {}", link, new_link, why), messages.ERROR
        elif new.status in UNSETTLED:
            text = format_html(
                "Retry of {} placed as order {}: {} (the provider has not settled it yet).",
                link,
                new_link,
                new.get_status_display().lower(),
            )
            level = messages.WARNING
        else:
            text, level = format_html("Retry of {} placed as order {} ({}).", link, new_link, new.status), messages.INFO
        self.message_user(request, text, level)

    def _confirmation(
        self, request: HttpRequest, checked: list[tuple[OneClickOrder, str | None]], form: RetryForm
    ) -> HttpResponse:
        request.current_app = self.admin_site.name
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Retry failed orders as new orders",
            "opts": self.opts,
            "form": form,
            "retryable": [(order, self.operator_url("change", order)) for order, refusal in checked if refusal is None],
            "refused": [(order, self.operator_url("change", order), why) for order, why in checked if why is not None],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/django_oneclick/oneclickorder/retry_confirmation.html", context)
