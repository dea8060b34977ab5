"""The rules of one-click ordering, in one place: placing an order exactly once, the state
machine, refreshing from the provider, and saving payment methods.

An order is written ``pending`` and committed before the provider is called, and the provider
is called outside any transaction. Every status change is a compare-and-set on the current
status, so two processes can never both move an order, and signals fire exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from django_oneclick import signals
from django_oneclick.conf import oneclick_settings
from django_oneclick.models import OneClickOrder, OrderStatus, PaymentMethod, ProviderExchange
from django_oneclick.offers import resolve_buyer, resolve_offer
from django_oneclick.providers.base import (
    Exchange,
    InvalidRequest,
    MethodDetails,
    OrderNotFound,
    OrderNotIdentified,
    OutcomeUnknown,
    ProviderError,
    ProviderResult,
    ProviderStatus,
    PurchaseRequest,
    SavedMethod,
    StatusRequest,
)
from django_oneclick.providers.registry import configured_names, get_provider
from django_oneclick.redaction import mask_card_numbers

logger = logging.getLogger("django_oneclick")

S = OrderStatus
#: The state machine: which status may follow which. Final states have no way out.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.PROCESSING: frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.REQUIRES_ACTION: frozenset({S.REQUIRES_ACTION, S.PROCESSING, S.COMPLETED, S.FAILED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.UNKNOWN, S.PROCESSING, S.REQUIRES_ACTION, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
}
UNSETTLED = (S.PROCESSING, S.REQUIRES_ACTION, S.UNKNOWN)
FINAL = (S.COMPLETED, S.FAILED)


# --- errors the surfaces turn into 4xx answers -----------------------------------------------


class OrderRequestInvalid(Exception):
    """Bad input: ``errors`` maps a field name to messages. Nothing was written."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = dict(errors)


class IdempotencyConflict(Exception):
    http_status = 409

    def __init__(self, message: str, order: OneClickOrder) -> None:
        super().__init__(message)
        self.order = order


class RequestInFlight(IdempotencyConflict):
    """The first request with this key has not finished yet (409)."""


class KeyReusedForAnotherRequest(IdempotencyConflict):
    """The key was used before with a different body (422)."""

    http_status = 422


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


# --- the state machine ----------------------------------------------------------------------


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


def _apply_result(order: OneClickOrder, result: ProviderResult) -> None:
    fields: dict[str, Any] = {"next_action": dict(result.next_action) if result.next_action else None}
    if result.provider_order_id:
        fields["provider_order_id"] = result.provider_order_id
    if result.progress:
        fields["progress"] = result.progress
    if result.status == ProviderStatus.COMPLETED:
        # An earlier "unknown" or a gave-up note no longer describes the order; the exchange
        # log keeps the history.
        fields["error_code"] = fields["error_message"] = fields["customer_message"] = ""
        fields["candidates"] = []
    if result.status == ProviderStatus.FAILED:
        message = _redacted(order, result.error_message)
        fields.update(error_code=result.error_code or "failed", error_message=message, customer_message=message)
    _settle(order, str(result.status), **fields)


def _apply_error(order: OneClickOrder, error: ProviderError) -> None:
    _settle(order, S.FAILED if error.nothing_charged else S.UNKNOWN, **_error_fields(order, error))


def _error_fields(order: OneClickOrder, error: ProviderError) -> dict[str, str]:
    """The operator's detail (redacted: providers echo what they were sent) and the customer's
    plain message, kept apart so that a customer never reads a provider's internals."""
    return {
        "error_code": error.code,
        "error_message": _redacted(order, error.message),
        "customer_message": error.customer_message,
    }


def _mark_interrupted(order: OneClickOrder) -> None:
    """A ``pending`` order older than STALE_PENDING_AFTER: its request died during the provider
    call, or before it. Its outcome is unknown until the provider is asked."""
    interrupted = OutcomeUnknown("The request was interrupted.", code="interrupted")
    transition(order, S.UNKNOWN, **_error_fields(order, interrupted))


def _settle(order: OneClickOrder, new_status: str, **fields: Any) -> None:
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
            error_code="provider_order_taken",
            error_message=message,
            customer_message=OutcomeUnknown.customer_message,
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
    note = f"Late charge: the order was settled failed, then {_redacted(order, detail)}"
    ProviderExchange.objects.create(
        order=order,
        provider=order.provider,
        operation="late_charge",
        request={"provider_order_id": provider_order_id},
        outcome="late_charge",
        error=note,
    )
    logger.error("order %s: %s", order.public_id, note)
    for receiver, result in signals.late_charge_detected.send_robust(
        OneClickOrder, order=order, provider_order_id=provider_order_id
    ):
        if isinstance(result, Exception):
            logger.error("order %s: receiver %r failed", order.public_id, receiver, exc_info=result)
    return True


def _redacted(order: OneClickOrder, message: str) -> str:
    """A provider's message without its secrets or card numbers: providers echo them in errors,
    and these messages are stored on the order, logged and shown to the customer. An order of a
    provider no longer configured still gets its card numbers masked."""
    if order.provider not in configured_names():
        return mask_card_numbers(message)
    return get_provider(order.provider).redactor.text(message)


# --- recording exchanges --------------------------------------------------------------------


class OrderExchangeLog:
    """Writes each provider exchange of one order as it happens (autocommit)."""

    def __init__(self, order: OneClickOrder | None, provider: str) -> None:
        self.order = order
        self.provider = provider

    def record(self, exchange: Exchange) -> None:
        ProviderExchange.objects.create(order=self.order, provider=self.provider, **asdict(exchange))
        logger.info(
            "%s.%s -> %s (%s, %d ms)",
            self.provider,
            exchange.operation,
            exchange.outcome,
            exchange.http_status,
            exchange.duration_ms,
        )

    def progress(self, step: str) -> None:
        """Show how far the provider's call got on the order, at once (autocommit)."""
        if self.order is None:
            return
        unsettled = OneClickOrder.objects.filter(pk=self.order.pk).exclude(status__in=FINAL)
        unsettled.update(progress=step, updated_at=timezone.now())
        self.order.progress = step
        logger.info("order %s: %s", self.order.public_id, step)


# --- placing an order -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedOrder:
    order: OneClickOrder
    created: bool


def fingerprint(body: Mapping[str, Any]) -> str:
    """What identifies a request for the Idempotency-Key rules: its canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(user: Any, idempotency_key: str, request_fingerprint: str) -> OneClickOrder | None:
    order = OneClickOrder.objects.filter(owner=user, idempotency_key=idempotency_key).first()
    if order is None:
        return None
    if order.request_fingerprint != request_fingerprint:
        raise KeyReusedForAnotherRequest(
            "This Idempotency-Key was already used for a different request.", order
        )
    if order.status == S.PENDING:
        if not _is_stale(order):
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.", order)
        _mark_interrupted(order)
    return order


def _is_stale(order: OneClickOrder) -> bool:
    return order.created_at < timezone.now() - oneclick_settings.STALE_PENDING_AFTER


def _choose_method(user: Any, payment_method_id: int | None) -> PaymentMethod:
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


def method_is_usable(method: PaymentMethod) -> bool:
    """Whether a saved method can be charged now: not flagged, not expired, and still accepted by
    its provider (e.g. Firmly's key rotated). One the provider refuses is marked ``needs_reentry``
    so the button asks the customer to enter it again."""
    if method.needs_reentry or (method.expires and method.expires < timezone.localdate()):
        return False
    if get_provider(method.provider).method_is_usable(saved_method(method)):
        return True
    PaymentMethod.objects.filter(pk=method.pk).update(needs_reentry=True)
    method.needs_reentry = True
    logger.info("payment method %s (%s) must be entered again", method.pk, method.provider)
    return False


def place_order(
    *,
    user: Any,
    product: str,
    quantity: int,
    idempotency_key: str,
    payment_method_id: int | None = None,
    customer_ip: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> PlacedOrder:
    """Place a one-click order exactly once per (user, idempotency key).

    Call it outside any transaction (the app's views opt out of ``ATOMIC_REQUESTS``): the order
    is committed before the provider is called, so a crash can never lose a charged order.
    Raises :class:`OrderRequestInvalid` for bad input (nothing written) and
    :class:`IdempotencyConflict` for a key in flight or reused with another body.
    """
    options = dict(options or {})
    body = {"product": product, "quantity": quantity, "payment_method": payment_method_id}
    if options:
        body["options"] = options
    request_fingerprint = fingerprint(body)
    existing = _replay(user, idempotency_key, request_fingerprint)
    if existing is not None:
        return PlacedOrder(existing, created=False)

    if not 1 <= quantity <= oneclick_settings.MAX_QUANTITY:
        raise OrderRequestInvalid(
            {"quantity": [f"Choose a quantity from 1 to {oneclick_settings.MAX_QUANTITY}."]}
        )
    offer = resolve_offer(product)
    if offer is None:
        raise OrderRequestInvalid({"product": ["This product is not available."]})
    method = _choose_method(user, payment_method_id)
    provider = get_provider(method.provider)
    buyer = resolve_buyer(user)
    if provider.requires_buyer and buyer is None:
        raise OrderRequestInvalid(
            {"non_field_errors": ["Add a shipping address to your account before buying."]}
        )
    order = OneClickOrder(
        owner=user,
        payment_method=method,
        payment_label=method.label,
        provider=method.provider,
        product_reference=offer.reference,
        product_title=offer.title,
        provider_product_id=offer.product_id_for(method.provider),
        quantity=quantity,
        unit_price=offer.unit_price,
        total=offer.unit_price * quantity,
        max_total=offer.unit_price * quantity + offer.charges_allowance,
        currency=offer.currency,
        customer_ip=customer_ip,
        options=options,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )
    purchase = _purchase_request(order, method, buyer)
    try:
        provider.prepare(purchase)
    except InvalidRequest as exc:
        raise OrderRequestInvalid({"non_field_errors": [exc.customer_message]}) from exc
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:
        existing = _replay(user, idempotency_key, request_fingerprint)
        if existing is None:  # not the key: the method was removed meanwhile
            raise OrderRequestInvalid({"payment_method": ["This payment method is no longer available."]}) from None
        return PlacedOrder(existing, created=False)

    _watch_for_interruption(order)
    _call_provider(order, purchase)
    if order.status in UNSETTLED:
        _refresh_in_background(order)
    return PlacedOrder(order, created=True)


def _purchase_request(order: OneClickOrder, method: PaymentMethod, buyer: Any) -> PurchaseRequest:
    return PurchaseRequest(
        order_id=str(order.public_id),
        product_id=order.provider_product_id,
        title=order.product_title,
        quantity=order.quantity,
        unit_price=order.unit_price,
        total=order.total,
        currency=order.currency,
        method=saved_method(method),
        customer_reference=str(order.owner.pk),
        customer_email=getattr(order.owner, "email", "") or "",
        customer_ip=order.customer_ip,
        buyer=buyer,
        options=order.options,
        max_total=order.max_total,
    )


def _call_provider(order: OneClickOrder, purchase: PurchaseRequest) -> None:
    provider = get_provider(order.provider)
    log = OrderExchangeLog(order, order.provider)
    try:
        result = provider.purchase(purchase, log)
    except ProviderError as exc:
        _apply_error(order, exc)
        if exc.nothing_charged and order.payment_method is not None:
            method_is_usable(order.payment_method)
        return
    except Exception as exc:
        # A bug or an unforeseen failure after we may have sent the order: never guess.
        # Logged redacted: an exception's text may carry a credential or a card number.
        logger.error(
            "order %s: provider %s raised %s: %s\n%s",
            order.public_id,
            order.provider,
            type(exc).__name__,
            _redacted(order, str(exc)),
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        _apply_error(order, OutcomeUnknown(f"Unexpected error: {type(exc).__name__}"))
        return
    _apply_result(order, result)


def _watch_for_interruption(order: OneClickOrder) -> None:
    """If this process dies during the provider call, the order stays ``pending``: a background
    check after ``STALE_PENDING_AFTER`` then reconciles it (see ``django_oneclick.tasks``)."""
    from django_oneclick.tasks import schedule_recovery  # it imports this module

    schedule_recovery(order)


def _refresh_in_background(order: OneClickOrder) -> None:
    """Hand an order the provider left unsettled to the background refresh task once the order
    is committed, so the customer's request never polls (see ``django_oneclick.tasks``)."""
    from django_oneclick.tasks import schedule_refresh  # it imports this module

    transaction.on_commit(lambda: schedule_refresh(order))


# --- refreshing unsettled orders --------------------------------------------------------------


def refresh_order(
    order: OneClickOrder, *, min_interval: timedelta | None = None, raise_provider_errors: bool = False
) -> OneClickOrder:
    """Ask the provider where an unsettled order stands and apply the answer.

    A stale ``pending`` order (its request was interrupted) becomes ``unknown`` first; an order
    whose purchase outcome is unknown is looked up by our order id, never sent again. With
    ``min_interval``, skip when someone asked less than that long ago. A failed fetch is
    counted in ``refresh_attempts`` and logged; with ``raise_provider_errors`` the provider's
    error is raised after that (the background task reads its retry hint).
    """
    if order.status == S.PENDING and _is_stale(order):
        _mark_interrupted(order)
    if order.status not in UNSETTLED:
        return order
    if order.provider not in configured_names():
        logger.warning(
            "order %s: provider %r is no longer configured; its status cannot be asked", order.public_id, order.provider
        )
        return order
    now = timezone.now()
    claim = OneClickOrder.objects.filter(pk=order.pk, status=order.status)
    if min_interval is not None:
        claim = claim.filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=now - min_interval))
    if not claim.update(last_checked_at=now):
        return order
    order.last_checked_at = now
    request = StatusRequest(
        order_id=str(order.public_id),
        provider_order_id=order.provider_order_id,
        method=saved_method(order.payment_method) if order.payment_method else SavedMethod(reference=""),
        created_at=order.created_at,
        product_id=order.provider_product_id,
        customer_ip=order.customer_ip,
    )
    log = OrderExchangeLog(order, order.provider)
    provider = get_provider(order.provider)
    try:
        result = provider.fetch_status(request, log)
    except OrderNotIdentified as exc:
        _weigh_candidates(order, provider, request, exc)
        return order
    except OrderNotFound as exc:
        if order.status == S.UNKNOWN:
            transition(order, S.FAILED, **_error_fields(order, exc))
        return order
    except ProviderError as exc:
        _count_failed_fetch(order, exc.message)
        if raise_provider_errors:
            raise
        return order
    except Exception as exc:
        # A bug or a provider removed from the settings: this order must not stop the page,
        # the worker's chain or a cron run over the other orders.
        logger.exception("order %s: status fetch raised", order.public_id)
        _count_failed_fetch(order, f"{type(exc).__name__}: {exc}")
        return order
    if result.status == order.status and not result.progress and not result.provider_order_id:
        return order
    _apply_result(order, result)
    return order


def _weigh_candidates(
    order: OneClickOrder, provider: Any, request: StatusRequest, found: OrderNotIdentified
) -> None:
    """A lookup by product and time: candidates settling another of our orders are never ours.
    Any left are shown to an operator, the order stays ``unknown``; with none left it was never
    placed only on the provider's complete records after ``NOT_FOUND_AFTER``."""
    ids = [candidate.provider_order_id for candidate in found.candidates]
    taken = set(
        OneClickOrder.objects.filter(provider=order.provider, provider_order_id__in=ids)
        .exclude(pk=order.pk)
        .values_list("provider_order_id", flat=True)
    )
    free = [asdict(candidate) for candidate in found.candidates if candidate.provider_order_id not in taken]
    if free:
        transition(
            order,
            order.status,
            candidates=free,
            **_error_fields(order, found),
        )
        return
    verdict = provider.missing_order(request, found.sought, records_complete=found.records_complete)
    if isinstance(verdict, OrderNotFound) and order.status == S.UNKNOWN:
        transition(order, S.FAILED, candidates=[], **_error_fields(order, verdict))
    else:
        transition(order, order.status, candidates=[], **_error_fields(order, found))


def _count_failed_fetch(order: OneClickOrder, message: str) -> None:
    OneClickOrder.objects.filter(pk=order.pk).update(refresh_attempts=F("refresh_attempts") + 1)
    order.refresh_from_db(fields=["refresh_attempts"])
    logger.warning("order %s: status fetch failed: %s", order.public_id, _redacted(order, message))


def unsettled_orders():
    """Orders a refresh should look at: unsettled ones and interrupted pending ones."""
    stale = timezone.now() - oneclick_settings.STALE_PENDING_AFTER
    return OneClickOrder.objects.filter(
        Q(status__in=UNSETTLED) | Q(status=S.PENDING, created_at__lt=stale)
    ).select_related("payment_method", "owner")


def retry_order(order: OneClickOrder) -> PlacedOrder:
    """Place a failed order again as a new order. The key is derived from the failed order,
    so retrying the same order twice gives the same new order, never two."""
    if order.status != S.FAILED:
        raise InvalidTransition("Only a failed order can be retried.")
    if order.payment_method_id is None:
        # Never charge another method than the one the customer chose.
        raise OrderRequestInvalid({"payment_method": ["The order's payment method was removed."]})
    placed = place_order(
        user=order.owner,
        product=order.product_reference,
        quantity=order.quantity,
        idempotency_key=f"retry-of-{order.public_id}",
        payment_method_id=order.payment_method_id,
        customer_ip=order.customer_ip,
        options=order.options,
    )
    if placed.created:
        OneClickOrder.objects.filter(pk=placed.order.pk).update(retry_of=order)
        placed.order.retry_of = order
    return placed


def settle_manually(
    order: OneClickOrder, status: str, *, operator: str, reason: str, provider_order_id: str = ""
) -> bool:
    """An operator checked an unsettled order at the provider (e.g. in its dashboard) and records
    the outcome, with the provider's order id when it was completed (one of the order's
    candidates, say). Goes through the state machine and its signals like any other change, and is
    written to the order's exchange log as the audit trail (who, why). False if the order moved
    meanwhile; :class:`ProviderOrderTaken` if that provider order settles another order."""
    if status not in (S.COMPLETED, S.FAILED):
        raise InvalidTransition("An operator can only mark an order completed or failed.")
    if order.status not in UNSETTLED:
        raise InvalidTransition(f"Only an unsettled order can be settled by hand, not a {order.status} one.")
    if not reason.strip():
        raise InvalidTransition("Say why: the reason is kept in the order's audit trail.")
    if status == S.FAILED and provider_order_id:
        raise InvalidTransition("A failed order holds no provider order.")
    note = f"Marked {status} by {operator} after checking at {order.provider}: {reason.strip()}"
    fields: dict[str, Any] = {"candidates": []}
    if status == S.COMPLETED:
        fields.update(error_code="", error_message="", customer_message="")
        if provider_order_id:
            fields["provider_order_id"] = provider_order_id
    else:
        fields.update(
            error_code="settled_by_operator",
            error_message=note,
            customer_message="The order could not be placed. Nothing was charged.",
        )
    settled = transition(order, status, **fields)
    ProviderExchange.objects.create(
        order=order,
        provider=order.provider,
        operation="settled_by_operator",
        request={
            "operator": operator,
            "status": status,
            "reason": reason.strip(),
            "provider_order_id": provider_order_id,
        },
        outcome="operator" if settled else "operator_too_late",
        error=note,
    )
    return settled


def acknowledge_late_charge(order: OneClickOrder, *, operator: str, reason: str) -> bool:
    """An operator dealt with a late charge (refunded it, or fulfilled the order): the flag is
    cleared and what was done is kept in the audit trail. False if it was not flagged."""
    if not reason.strip():
        raise InvalidTransition("Say what was done about the late charge: it is kept in the audit trail.")
    cleared = OneClickOrder.objects.filter(pk=order.pk, late_charge=True).update(late_charge=False)
    if cleared:
        order.late_charge = False
        ProviderExchange.objects.create(
            order=order,
            provider=order.provider,
            operation="late_charge_handled",
            request={"operator": operator, "reason": reason.strip()},
            outcome="operator",
            error=f"Late charge handled by {operator}: {reason.strip()}",
        )
    return bool(cleared)


# --- saved payment methods ------------------------------------------------------------------


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
    try:
        details = get_provider(provider).register_method(data)
    except ProviderError as exc:
        raise OrderRequestInvalid({"non_field_errors": [exc.customer_message]}) from exc
    # The label is the customer's free text: it must not carry a card number into the database,
    # and what does not fit the columns is a 400, not a database error.
    details = replace(details, label=mask_card_numbers(details.label))
    for name in ("reference", "label"):
        limit = PaymentMethod._meta.get_field(name).max_length
        if len(getattr(details, name)) > limit:
            raise OrderRequestInvalid({"data": [f"The {name} may have at most {limit} characters."]})
    return save_payment_method(user, provider, details)


def _lock_methods_of(owner_id: Any) -> None:
    """Serialise changes to one customer's methods by locking the customer's row (it exists even
    before the first method; a no-op on SQLite, which serialises writers anyway)."""
    list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk", flat=True))


def method_in_use(method: PaymentMethod) -> bool:
    return method.orders.exclude(status__in=FINAL).exists()


class MethodInUse(Exception):
    """The method pays for an order that is not settled yet: the provider may need it to tell
    where that order stands."""


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
