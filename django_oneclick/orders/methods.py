"""Saved payment methods: choosing one for an order, whether it can be charged, saving, the
default, removing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from django_oneclick.domain.errors import GENERAL, MethodInUse, OrderRequestInvalid, ProviderError
from django_oneclick.domain.states import FINAL
from django_oneclick.domain.types import MethodDetails, SavedMethod
from django_oneclick.models import PaymentMethod
from django_oneclick.orders.validation import validate_json, validate_text
from django_oneclick.providers.registry import configured_names, get_provider
from django_oneclick.redaction import mask_card_numbers

logger = logging.getLogger("django_oneclick")


def choose_method(user: Any, payment_method_id: int | None) -> PaymentMethod:
    methods = PaymentMethod.objects.filter(owner=user)
    if payment_method_id is not None:
        method = methods.filter(pk=payment_method_id).first()
        if method is None:
            raise OrderRequestInvalid({"payment_method": ["No such saved payment method."]})
    else:
        method = methods.filter(is_default=True).first()
        if method is None:
            raise OrderRequestInvalid(
                {"payment_method": ["You have no default payment method. Add one or choose one."]}
            )
    if method.provider not in configured_names():
        raise OrderRequestInvalid({"payment_method": ["This payment method is not available."]})
    if not method_is_usable(method):
        raise OrderRequestInvalid(
            {"payment_method": ["This payment method must be entered again before it can be used."]}
        )
    return method



def saved_method(method: PaymentMethod) -> SavedMethod:
    return SavedMethod(reference=method.reference, label=method.label, data=method.data)


def method_usable_as_stored(method: PaymentMethod) -> bool:
    """Whether a saved method can be charged as far as what is stored says: not flagged for
    re-entry, not expired. No provider call, no write: what the button checks while rendering."""
    return not method.needs_reentry and not (method.expires and method.expires < timezone.localdate())


def method_is_usable(method: PaymentMethod) -> bool:
    """Whether a saved method can be charged now: usable as stored, and still accepted by its
    provider (e.g. Firmly's key rotated), which may call the provider. One the provider refuses is
    marked ``needs_reentry`` so the button asks the customer to enter it again."""
    if not method_usable_as_stored(method):
        return False
    if get_provider(method.provider).method_is_usable(saved_method(method)):
        return True
    PaymentMethod.objects.filter(pk=method.pk).update(needs_reentry=True)
    method.needs_reentry = True
    logger.info("payment method %s (%s) must be entered again", method.pk, method.provider)
    return False



def save_payment_method(
    user: Any, provider: str, details: MethodDetails, *, make_default: bool | None = None
) -> PaymentMethod:
    """Save a method the provider accepted. The first method of a user becomes the default."""
    with transaction.atomic():
        _lock_methods_of(user.pk)
        has_default = PaymentMethod.objects.filter(owner=user, is_default=True).exists()
        make_default = (not has_default) if make_default is None else make_default
        if make_default:
            PaymentMethod.objects.filter(owner=user, is_default=True).update(is_default=False)
        return PaymentMethod.objects.create(
            owner=user,
            provider=provider,
            reference=details.reference,
            label=details.label,
            brand=details.brand,
            last4=details.last4,
            expires=details.expires,
            data=dict(details.data),
            is_default=make_default,
        )


def register_payment_method(user: Any, provider: str, data: Mapping[str, Any]) -> PaymentMethod:
    """A customer adds a method through a provider that allows it (sandbox, Firmly's card form)."""
    if provider not in configured_names():
        raise OrderRequestInvalid({"provider": ["This provider is not available."]})
    # The provider reads the card fields it expects (an encrypted card, say); the rest is bounded.
    validate_json("data", data, card_data_allowed=True)
    try:
        details = get_provider(provider).register_method(data)
    except ProviderError as exc:
        raise OrderRequestInvalid({GENERAL: [str(exc.customer_message)]}) from exc
    # What the customer typed ends up in the database and the admin: a card number is masked
    # (the label stays a label), a security code or what does not fit the column is a 400.
    details = replace(details, label=mask_card_numbers(details.label), reference=mask_card_numbers(details.reference))
    for name in ("reference", "label", "brand", "last4"):
        field = PaymentMethod._meta.get_field(name)
        assert isinstance(field, models.CharField) and field.max_length is not None  # bounded CharFields
        validate_text("data", getattr(details, name), max_length=field.max_length, name=name)
    return save_payment_method(user, provider, details)


def _lock_methods_of(owner_id: Any) -> None:
    """Serialise changes to one customer's methods by locking the customer's row (it exists even
    before the first method; a no-op on SQLite, which serialises writers anyway)."""
    list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk", flat=True))


def method_in_use(method: PaymentMethod) -> bool:
    return method.orders.exclude(status__in=FINAL).exists()


def set_default_method(method: PaymentMethod) -> None:
    with transaction.atomic():
        _lock_methods_of(method.owner_id)
        PaymentMethod.objects.filter(owner=method.owner_id, is_default=True).exclude(pk=method.pk).update(
            is_default=False
        )
        PaymentMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True


def remove_method(method: PaymentMethod) -> None:
    """Delete a method; when it was the default, the newest remaining one takes its place."""
    with transaction.atomic():
        owner_id, was_default = method.owner_id, method.is_default
        _lock_methods_of(owner_id)
        if method_in_use(method):
            raise MethodInUse("This payment method pays for an order in progress; remove it once that is settled.")
        method.delete()
        if was_default:
            newest = PaymentMethod.objects.filter(owner=owner_id).order_by("-created_at", "-pk").first()
            if newest:
                PaymentMethod.objects.filter(pk=newest.pk).update(is_default=True)
