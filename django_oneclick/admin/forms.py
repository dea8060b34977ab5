"""The operator's forms: settling an unsettled order by hand, acknowledging a late charge."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django import forms

from django_oneclick.models import OneClickOrder, OrderStatus

REASON_HELP = "What you checked, where, and what you did: kept with your name in the order's exchange log."


def candidate_rows(order: OneClickOrder) -> list[tuple[str, str, str]]:
    """The order's candidates as (provider order id, placed at, state), whatever their JSON holds."""
    rows: list[tuple[str, str, str]] = []
    for candidate in order.candidates or []:
        if isinstance(candidate, dict):
            provider_order_id, placed_at, state = (
                str(candidate.get(key) or "") for key in ("provider_order_id", "placed_at", "state")
            )
            rows.append((provider_order_id, placed_at, state))
        else:
            rows.append((str(candidate), "", ""))
    return rows


def what_the_operator_saw(order: OneClickOrder) -> str:
    """What the settle page showed the decision on: the status, the provider order id, the candidates.
    A POST made on an older view is refused, so nobody settles an order that has moved since."""
    seen = [order.status, order.provider_order_id, sorted(row[0] for row in candidate_rows(order))]
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:20]


class SettleForm(forms.Form):
    required_css_class = "required"

    status = forms.ChoiceField(
        label="Outcome at the provider",
        choices=[
            (OrderStatus.COMPLETED, "Completed: the provider holds this order (and charges for it)"),
            (OrderStatus.FAILED, "Failed: the provider holds no such order, nothing was charged"),
        ],
        widget=forms.RadioSelect,
    )
    candidate = forms.ChoiceField(label="Which provider order (completed)", required=False, widget=forms.RadioSelect)
    provider_order_id = forms.CharField(
        label="Provider order id (completed)",
        required=False,
        max_length=OneClickOrder._meta.get_field("provider_order_id").max_length,
        help_text="As the provider's dashboard shows it, if it is none of the candidates.",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000, help_text=REASON_HELP
    )
    seen = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, order: OneClickOrder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.fields["seen"].initial = what_the_operator_saw(order)
        rows = candidate_rows(order)
        if rows:
            candidate = self.fields["candidate"]
            assert isinstance(candidate, forms.ChoiceField)  # declared so above
            choices = [(row[0], " · ".join(part for part in row if part)) for row in rows]
            candidate.choices = [*choices, ("", "None of these (type the id below, or leave it empty)")]
            candidate.initial = ""
        else:
            del self.fields["candidate"]
        if order.provider_order_id:
            known = f"The provider already named this order {order.provider_order_id}: leave this empty to keep it."
            self.fields["provider_order_id"].help_text = known

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        chosen, typed = data.get("candidate", ""), data.get("provider_order_id", "")
        if chosen and typed and chosen != typed:
            self.add_error("provider_order_id", "Choose a candidate or type an id, not both.")
        provider_order_id = chosen or typed
        if data.get("status") == OrderStatus.FAILED and provider_order_id:
            where = "candidate" if chosen else "provider_order_id"
            self.add_error(where, "A failed order holds no provider order: choose none, leave the id empty.")
        known = self.order.provider_order_id
        if data.get("status") == OrderStatus.COMPLETED and not (provider_order_id or known):
            # Without it, nothing stops the same provider order from completing a second order.
            self.add_error(
                "provider_order_id", "Completed needs the provider's order: choose a candidate or type its id."
            )
        if known and provider_order_id and provider_order_id != known:
            self.add_error(
                "provider_order_id", f"The provider named this order {known}; it cannot be settled as another one."
            )
        data["provider_order_id"] = provider_order_id if data.get("status") == OrderStatus.COMPLETED else ""
        return data


class AcknowledgeLateChargeForm(forms.Form):
    required_css_class = "required"

    reason = forms.CharField(
        label="What was done",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Refunded at the provider, or fulfilled the order, with any reference. " + REASON_HELP,
    )
