"""Moving an order: the compare-and-set transition (signals sent once), applying a provider's
answer or error, and what happens when that answer comes late or names a taken provider order."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_oneclick import signals
from django_oneclick.domain.codes import AuditOperation, ErrorCode
from django_oneclick.domain.errors import InvalidTransition, OutcomeUnknown, ProviderError, ProviderOrderTaken
from django_oneclick.domain.states import TRANSITIONS, S
from django_oneclick.domain.types import ProviderResult, ProviderStatus
from django_oneclick.models import OneClickOrder, ProviderExchange
from django_oneclick.orders.customer import message_for
from django_oneclick.providers.registry import configured_names, get_provider
from django_oneclick.redaction import mask_card_numbers

logger = logging.getLogger("django_oneclick")


def transition(order: OneClickOrder, new_status: str, **fields: Any) -> bool:
    """Move ``order`` to ``new_status`` if the state machine allows it and nobody moved it
    first. Returns False (and reloads the order) when another process won the race."""
    if new_status not in TRANSITIONS[order.status]:
        raise InvalidTransition(f"An order cannot go from {order.status} to {new_status}.")
    previous = order.status
    fields = {"status": new_status, "updated_at": timezone.now(), **fields}
    try:
        with transaction.atomic():
            won = OneClickOrder.objects.filter(pk=order.pk, status=previous).update(**fields)
    except IntegrityError:
        taken = fields.get("provider_order_id", "")
        if not taken:
            raise
        holder = OneClickOrder.objects.filter(provider=order.provider, provider_order_id=taken).first()
        raise ProviderOrderTaken(taken, holder) from None
    if not won:
        order.refresh_from_db()
        return False
    for name, value in fields.items():
        setattr(order, name, value)
    if new_status != previous:
        logger.info("order %s: %s -> %s", order.public_id, previous, new_status)
        _notify(signals.order_status_changed, order, previous)
        if new_status == S.COMPLETED:
            _notify(signals.order_completed, order, previous)
        elif new_status == S.FAILED:
            _notify(signals.order_failed, order, previous)
    return True


def _notify(signal: Any, order: OneClickOrder, previous: str) -> None:
    """Send a signal to the shop's receivers. A failing receiver (fulfilment) is logged: the
    order's new state is already stored and must not turn into an error page or a lost refresh."""
    for receiver, result in signal.send_robust(OneClickOrder, order=order, previous_status=previous):
        if isinstance(result, Exception):
            failure = (type(result), result, result.__traceback__)
            logger.error("order %s: receiver %r failed", order.public_id, receiver, exc_info=failure)


def apply_result(order: OneClickOrder, result: ProviderResult) -> None:
    fields: dict[str, Any] = {"next_action": dict(result.next_action) if result.next_action else None}
    if result.provider_order_id:
        fields["provider_order_id"] = result.provider_order_id
    if result.progress:
        fields["progress"] = result.progress
    if result.charged_total is not None:
        fields["charged_total"] = result.charged_total
    if result.status == ProviderStatus.COMPLETED:
        # An earlier "unknown" or a gave-up note no longer describes the order; the exchange
        # log keeps the history.
        fields["error_code"] = fields["error_message"] = fields["customer_message"] = ""
        fields["candidates"] = []
    if result.status == ProviderStatus.FAILED:
        code = result.error_code or ErrorCode.FAILED
        fields.update(
            error_code=code,
            error_message=redacted(order, result.error_message),
            customer_message=customer_words(order, code, S.FAILED),
        )
    settle(order, str(result.status), **fields)


def apply_error(order: OneClickOrder, error: ProviderError) -> None:
    settle(order, S.FAILED if error.nothing_charged else S.UNKNOWN, **error_fields(order, error))


def error_fields(order: OneClickOrder, error: ProviderError) -> dict[str, str]:
    """The operator's detail (redacted: providers echo what they were sent) and the customer's
    words from the catalogue for the error's code, kept apart so that a customer never reads a
    provider's internals."""
    status = S.FAILED if error.nothing_charged else S.UNKNOWN
    return {
        "error_code": error.code,
        "error_message": redacted(order, error.message),
        "customer_message": customer_words(order, error.code, status),
    }


def customer_words(order: OneClickOrder, code: str, status: str) -> str:
    """What the order keeps as its ``customer_message``: the catalogue's words for ``code``
    (else for ``status``), never a provider's text. The customer's surfaces read the catalogue
    again when they show an order (:func:`~django_oneclick.orders.customer.customer_view`), in
    the reader's language; this copy is what the operator sees the customer was told."""
    return str(message_for(order.provider, code, status))


def mark_interrupted(order: OneClickOrder) -> None:
    """A ``pending`` order older than STALE_PENDING_AFTER: its request died during the provider
    call, or before it. Its outcome is unknown until the provider is asked."""
    interrupted = OutcomeUnknown("The request was interrupted.", code=ErrorCode.INTERRUPTED)
    transition(order, S.UNKNOWN, **error_fields(order, interrupted))


def settle(order: OneClickOrder, new_status: str, **fields: Any) -> None:
    """Apply the provider's answer. If the order was meanwhile declared ``unknown`` (a slow call
    taken for an interrupted one), the answer is still the truth: apply it from there. If it was
    meanwhile settled ``failed``, an answer that says the provider holds an order is a late
    charge for an operator, never dropped. A provider order that already settles another of our
    orders leaves this one ``unknown`` for an operator."""
    try:
        if new_status in TRANSITIONS[order.status]:
            moved = transition(order, new_status, **fields)
            if not moved and order.status == S.UNKNOWN:
                transition(order, new_status, **fields)
    except ProviderOrderTaken as exc:
        _hold_for_operator(order, exc)
        return
    if order.status == S.FAILED and new_status != S.FAILED:
        flag_late_charge(order, fields.get("provider_order_id", ""), f"The provider answered {new_status}.")


def _hold_for_operator(order: OneClickOrder, taken: ProviderOrderTaken) -> None:
    message = f"{taken} An operator must check which of our orders it pays for."
    logger.error("order %s: %s", order.public_id, message)
    if S.UNKNOWN in TRANSITIONS[order.status]:
        transition(
            order,
            S.UNKNOWN,
            error_code=ErrorCode.PROVIDER_ORDER_TAKEN,
            error_message=message,
            customer_message=customer_words(order, ErrorCode.PROVIDER_ORDER_TAKEN, S.UNKNOWN),
        )
    elif order.status == S.FAILED:
        flag_late_charge(order, "", message)


def flag_late_charge(order: OneClickOrder, provider_order_id: str, detail: str) -> bool:
    """The provider holds an order (it may charge or has charged) for an order we settled as
    ``failed``: flag it for an operator, record it in the order's exchange log and send
    :data:`signals.late_charge_detected`, once. The order stays ``failed``: a final state is
    never left, the operator refunds or fulfils. False if it was flagged already."""
    flagged = OneClickOrder.objects.filter(pk=order.pk, status=S.FAILED, late_charge=False).update(
        late_charge=True, updated_at=timezone.now()
    )
    if not flagged:
        return False
    order.late_charge = True
    if provider_order_id and not order.provider_order_id:
        try:
            with transaction.atomic():
                OneClickOrder.objects.filter(pk=order.pk).update(provider_order_id=provider_order_id)
            order.provider_order_id = provider_order_id
        except IntegrityError:
            detail += f" Its provider order {provider_order_id} already belongs to another order."
    note = f"Late charge: the order was settled failed, then {redacted(order, detail)}"
    ProviderExchange.objects.create(
        order=order,
        provider=order.provider,
        operation=AuditOperation.LATE_CHARGE,
        request={"provider_order_id": provider_order_id},
        outcome=AuditOperation.LATE_CHARGE,
        error=note,
    )
    logger.error("order %s: %s", order.public_id, note)
    for receiver, result in signals.late_charge_detected.send_robust(
        OneClickOrder, order=order, provider_order_id=provider_order_id
    ):
        if isinstance(result, Exception):
            logger.error("order %s: receiver %r failed", order.public_id, receiver, exc_info=result)
    return True


def redacted(order: OneClickOrder, message: str) -> str:
    """A provider's message without its secrets or card numbers: providers echo them in errors,
    and these messages are stored on the order, logged and shown to the operator. An order of a
    provider no longer configured still gets its card numbers masked."""
    if order.provider not in configured_names():
        return mask_card_numbers(message)
    return get_provider(order.provider).redactor.text(message)

