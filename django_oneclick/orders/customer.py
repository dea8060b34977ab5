"""What the customer is shown of an order, read from the catalogue (:mod:`django_oneclick.domain.messages`)
with the order's provider's own entries: its error code's words (else its status's) and the step of
its raw progress. Resolved when shown, so the words are in the reader's language, and an order's
stored provider detail (``error_message``, raw ``progress``) never reaches the customer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from django_oneclick.domain.messages import CustomerText, ProgressStep, customer_message, progress_step
from django_oneclick.domain.states import FINAL
from django_oneclick.models import OneClickOrder
from django_oneclick.providers.registry import configured_names, provider_class


@dataclass(frozen=True)
class CustomerView:
    """``message``: what to tell the customer (may be empty); ``step``: how far the provider got,
    while the order is not settled (None otherwise); ``progress``: the step's label."""

    message: CustomerText
    step: ProgressStep | None

    @property
    def progress(self) -> CustomerText:
        return self.step.label if self.step is not None else ""


def provider_vocabulary(provider: str) -> tuple[Mapping[str, CustomerText], Mapping[str, ProgressStep]]:
    """The provider's own customer messages and progress steps; none for a provider no longer
    configured (the core's words and the generic step then apply)."""
    if provider not in configured_names():
        return {}, {}
    try:
        cls = provider_class(provider)
    except ImproperlyConfigured:
        return {}, {}
    return cls.customer_messages, cls.progress_steps


def message_for(provider: str, code: str, status: str) -> CustomerText:
    """The catalogue's words for an order of ``provider`` with error ``code`` and ``status``."""
    messages, _steps = provider_vocabulary(provider)
    return customer_message(code, status, messages)


def customer_view(order: OneClickOrder) -> CustomerView:
    messages, steps = provider_vocabulary(order.provider)
    step = None if order.status in FINAL else progress_step(order.progress, steps)
    return CustomerView(customer_message(order.error_code, order.status, messages), step)
