"""The errors of the order rules, for the surfaces (API, form, admin) to turn into answers.
They carry no HTTP status: each surface decides how to say them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.core.exceptions import NON_FIELD_ERRORS

if TYPE_CHECKING:
    from django_oneclick.models import OneClickOrder

#: The key of errors that concern the request as a whole, not one field.
GENERAL = NON_FIELD_ERRORS


class OrderRequestInvalid(Exception):
    """Bad input: ``errors`` maps a field name to messages. Nothing was written."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = dict(errors)


class IdempotencyConflict(Exception):
    def __init__(self, message: str, order: OneClickOrder) -> None:
        super().__init__(message)
        self.order = order


class RequestInFlight(IdempotencyConflict):
    """The first request with this key has not finished yet (409)."""


class KeyReusedForAnotherRequest(IdempotencyConflict):
    """The key was used before with a different body (422)."""


class InvalidTransition(Exception):
    pass


class ProviderOrderTaken(Exception):
    """The provider named an order that already settles another of our orders: one charge is
    never two orders (the database's unique constraint decides between racing processes)."""

    def __init__(self, provider_order_id: str, holder: OneClickOrder | None) -> None:
        holder_id = holder.public_id if holder else "another order"
        super().__init__(f"Provider order {provider_order_id} already belongs to order {holder_id}.")
        self.provider_order_id = provider_order_id
        self.holder = holder



class MethodInUse(Exception):
    """The method pays for an order that is not settled yet: the provider may need it to tell
    where that order stands."""
